"""How much each training row counts: sample weights times class weights, as the row
multipliers every engine hands the model.

The objective of weights ``w`` is ``sum_i w_i L_i / sum_i w_i + penalty``. The models
take multipliers of mean 1 instead (``u = w / mean(w)``, so ``(1/n) sum_i u_i L_i`` is
that objective), which is what :func:`row_multipliers` returns: a row of weight 0 then
counts as a row dropped, and a row of integer weight ``m`` as ``m`` copies of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from linfit.data.weights import check_weights
from linfit.errors import DataError, OptionError

# class_weight="balanced": each class weighs n / (K * its count), as scikit-learn's and
# LIBLINEAR's users know it, so every class carries the same total weight.
BALANCED = "balanced"

ClassWeight = str | Mapping[Any, float] | None


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """``sample_weight`` as (n_samples,) float64, refused in one line unless every value
    is finite and >= 0 and one is positive; None stays None."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_samples,):
        raise OptionError(
            f"`sample_weight` has shape {w.shape}, but the data have {n_samples} rows; "
            "give one weight per row"
        )
    check_weights(w, "sample_weight", "the data", subject="`sample_weight`")
    return w


def class_weights(class_weight: ClassWeight, classes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The weight of each class (K,) for labels ``classes`` (K,) with ``counts`` (K,)
    training rows each (a cluster counts them block by block): ``"balanced"``, or a
    mapping from labels to weights (unnamed classes weigh 1; a label is matched as it is
    or by its text, so ``{"5": 2}`` names the class 5 too)."""
    K = classes.size
    if isinstance(class_weight, str):
        if class_weight != BALANCED:
            raise OptionError(
                f"`class_weight` {class_weight!r} is not known; use 'balanced' or "
                "label=weight pairs such as 'spam=5,ham=1'"
            )
        return counts.sum() / (K * np.maximum(counts, 1))
    by_text = {str(label): k for k, label in enumerate(classes.tolist())}
    weights = np.ones(K)
    for label, value in dict(class_weight).items():
        k = by_text.get(str(label))
        if k is None:
            shown = ", ".join(list(by_text)[:8])
            raise DataError(
                f"`class_weight` names the class {label!r}, which is not among the "
                f"labels ({shown}{', ...' if K > 8 else ''})"
            )
        if not (np.isfinite(value) and value >= 0):
            raise OptionError(
                f"`class_weight` of {label!r} must be a finite number >= 0, got {value}"
            )
        weights[k] = value
    return weights


def row_multipliers(
    sample_weight: np.ndarray | None,
    class_weight: ClassWeight,
    classes: np.ndarray | None,
    codes: np.ndarray,
) -> np.ndarray | None:
    """Each row's multiplier (n,), of mean 1: ``sample_weight`` (checked, or None) times
    its class's weight (classifiers; ``classes`` None refuses a class weight), divided by
    the mean. None when nothing weighs the rows."""
    if class_weight is not None and classes is None:
        raise OptionError("`class_weight` is for classifiers; use `sample_weight` for a regression")
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(codes.shape[0]) if sample_weight is None else sample_weight.copy()
    if class_weight is not None:
        counts = np.bincount(codes, minlength=classes.size)
        w *= class_weights(class_weight, classes, counts)[codes]
    total = w.sum()
    if not total > 0:
        raise DataError(
            "every row weighs zero once the class weights are applied; give a class with "
            "rows a positive `class_weight`"
        )
    w *= w.shape[0] / total
    return w
