"""A fitted model with everything needed to use it on raw data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linfit.engines.out_of_core import row_chunks
from linfit.errors import OptionError
from linfit.fitting.metrics import confusion_matrix, scores
from linfit.lazy import issparse
from linfit.linalg.blocks import block_rows
from linfit.models import LinearModel
from linfit.optim import OptimizeResult
from linfit.preprocess import Scaler


@dataclass(frozen=True)
class TrainedModel:
    """A model with its fitted parameters and everything needed to use them on raw data.

    ``params`` are in the units of the *scaled* features (flat ``[W.ravel(), b]``);
    ``coefficients()`` gives them in the raw features' units.
    """

    model: LinearModel
    params: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    scaler: Scaler
    classes: np.ndarray | None = None  # (K,) original labels, classifiers only
    summary: dict[str, Any] = field(default_factory=dict)
    encode: str = "none"  # how non-numeric columns became features ("none" or "onehot")
    feature_means: np.ndarray | None = None  # (n_features,) raw training means, for imputing
    # how the solver ended (history included); not saved in model files
    result: OptimizeResult | None = field(default=None, repr=False, compare=False)
    # with ``fit(path=...)``: the fits at the path's penalties before this one, in order;
    # not saved in model files
    path: tuple[TrainedModel, ...] = field(default=(), repr=False, compare=False)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores (n_samples, K) for raw features ``X`` (n_samples, n_features)."""
        return self._apply(self.model.decision_function, X)

    def _apply(self, method: Callable[..., np.ndarray], X: np.ndarray) -> np.ndarray:
        """``method(params, scaled X)`` for one of the model's methods, by the blocks of
        rows training evaluates in (``linalg.blocks.block_rows``: a scaled copy and scores
        as small as the budget counts them), a matrix on disk by chunks at most. A sparse
        ``X`` is not scaled (centring would make it dense): the method gets the weights in
        raw units, the scaling folded in."""
        K = self.params.size // (self.n_features + 1)
        rows = block_rows(X.shape[0], X.shape[1] * 8, K, issparse(X))
        if issparse(X):
            raw = self.model.pack(*self.coefficients())
            return by_chunks(X, lambda B: method(raw, B), rows)
        return by_chunks(X, lambda B: method(self.params, self.scaler.transform(B)), rows)

    def predict_codes(self, X: np.ndarray) -> np.ndarray:
        """The model's raw predictions: class codes (n,), or values (n, K)."""
        return self._apply(self.model.predict, X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Original class labels (n_samples,), or values (n_samples,) / (n_samples, K)."""
        out = self.predict_codes(X)
        if self.classes is not None:
            return self.classes[out]
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n_samples, K), columns in the order of ``classes``."""
        if not hasattr(self.model, "predict_proba"):
            raise OptionError(
                f"model {self.model.describe()} gives no probabilities; only softmax does"
            )
        return self._apply(self.model.predict_proba, X)

    def class_codes(self, y: np.ndarray) -> np.ndarray:
        """Codes (n,) of labels ``y`` into ``classes``; -1 for a label the model never saw."""
        from linfit.data.labels import align_labels  # pandas: only when labels are scored

        return align_labels(y, self.classes)

    def scores(
        self, X: np.ndarray, y: np.ndarray, prefix: str, sample_weight: np.ndarray | None = None
    ) -> dict[str, float]:
        """Accuracy, or R^2 and RMSE, of predictions on raw ``X`` against ``y``, rows
        weighted by ``sample_weight`` (n,) when given; {} if empty (or of weight 0).

        Labels are matched to ``classes`` as ``align_labels`` does (an unseen label
        counts as wrong), so a file whose labels read as numbers still scores.
        """
        if y.shape[0] == 0 or (sample_weight is not None and not sample_weight.sum() > 0):
            return {}
        if self.classes is None:
            return scores(False, y, self.predict(X), prefix, sample_weight)
        return scores(True, self.class_codes(y), self.predict_codes(X), prefix, sample_weight)

    def confusion(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
        """Counts (K, K), rows true and columns predicted class, and how many labels of
        ``y`` the model never saw (left out of the matrix)."""
        codes = self.class_codes(y)
        known = codes >= 0
        predicted = self.predict_codes(X)[known]
        return confusion_matrix(codes[known], predicted, self.classes.size), int((~known).sum())

    def coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """``(W (n_features, K), b (K,))`` for raw features: standardization undone."""
        W, b = self.model.unpack(self.params, self.n_features)
        return self.scaler.unscale(W, b)


def by_chunks(
    X: Any, fn: Callable[[np.ndarray], np.ndarray], rows: int | None = None
) -> np.ndarray:
    """``fn`` over blocks of ``rows`` rows of ``X`` (n, d), concatenated: for an array or CSR
    matrix in memory, ``fn(X)`` itself when it has at most ``rows`` rows; a matrix on disk
    (a RowFile) is read by at most ``DEFAULT_CHUNK_ROWS`` rows, so memory holds one block."""
    in_memory = isinstance(X, np.ndarray) or issparse(X)
    if in_memory and (rows is None or X.shape[0] <= rows):
        return fn(X)
    if not in_memory:
        from linfit.data.stream import DEFAULT_CHUNK_ROWS

        rows = min(rows or DEFAULT_CHUNK_ROWS, DEFAULT_CHUNK_ROWS)
    read = (lambda sl: X[sl]) if issparse(X) else (lambda sl: np.asarray(X[sl]))
    parts = [fn(read(sl)) for sl in row_chunks(X.shape[0], rows)]
    return np.concatenate(parts) if parts else fn(read(slice(0, 0)))
