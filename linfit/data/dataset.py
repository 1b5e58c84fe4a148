"""The training table as the readers hand it over: features, target, sample weights."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A training table split into features and target.

    Attributes:
        X: (n_samples, n_features) C-contiguous matrix of the requested float dtype.
        y: (n_samples,) raw target values: float or int for numbers, object array of str for
            labels (booleans become the strings "True"/"False").
        feature_names: n_features names, one per column of X (``col=value`` for one-hot columns).
        target_name: name of the target column in the file.
        weights: (n_samples,) float64 sample weights from the column ``weights`` named
            (finite, >= 0, not all zero), row for row with X and y after any dropped rows;
            None when no weights column was asked for.
        reference_levels: each one-hot column's reference level, left out of the features
            (a read with ``reference``, ``linfit.data.columns.train_columns``); else empty.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    weights: np.ndarray | None = None
    reference_levels: dict[str, str] = field(default_factory=dict)
