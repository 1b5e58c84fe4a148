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
        """``method(params, scaled X)`` for one of the model's methods, by blocks of rows
        when ``X`` is a matrix on disk. A sparse ``X`` is not scaled (centring would make
        it dense): the method gets the weights in raw units, the scaling folded in."""
        if issparse(X):
            return method(self.model.pack(*self.coefficients()), X)
        return by_chunks(X, lambda B: method(self.params, self.scaler.transform(B)))

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


def by_chunks(X: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn(X)`` for an array in memory; for a matrix on disk (a RowFile), ``fn`` over
    blocks of ``DEFAULT_CHUNK_ROWS`` rows, concatenated, so memory holds one block of ``X``."""
    if isinstance(X, np.ndarray):
        return fn(X)
    from linfit.data.stream import DEFAULT_CHUNK_ROWS

    parts = [fn(np.asarray(X[rows])) for rows in row_chunks(X.shape[0], DEFAULT_CHUNK_ROWS)]
    return np.concatenate(parts) if parts else fn(np.asarray(X[0:0]))
