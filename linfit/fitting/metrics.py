"""Scores for fitted models: accuracy and confusion for classifiers, R^2 and RMSE for regressors."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Fraction of equal labels, for (n,) arrays; each row counted ``weights[i]`` times."""
    return float(np.average(y_true == y_pred, weights=weights))


def r2(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Coefficient of determination, averaged over outputs; (n,) or (n, K) arrays, rows
    weighted by ``weights`` (n,) when given (sums of squares weighted, the mean too)."""
    y_true = y_true.reshape(y_true.shape[0], -1)
    y_pred = y_pred.reshape(y_true.shape)
    if weights is None:
        ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
        ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    else:
        ss_res = weights @ (y_true - y_pred) ** 2
        ss_tot = weights @ (y_true - np.average(y_true, axis=0, weights=weights)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.where(ss_res > 0, 0.0, 1.0))
    return float(scores.mean())


def rmse(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Root mean squared error over all entries, rows weighted by ``weights`` (n,)."""
    diff = y_true.reshape(y_true.shape[0], -1) - y_pred.reshape(y_true.shape[0], -1)
    if weights is None:
        return float(np.sqrt(np.mean(diff**2)))
    return float(np.sqrt(weights @ np.mean(diff**2, axis=1) / weights.sum()))


def confusion_matrix(codes_true: np.ndarray, codes_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class (codes 0..K-1)."""
    flat = codes_true * n_classes + codes_pred
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores(
    is_classifier: bool,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    prefix: str,
    weights: np.ndarray | None = None,
) -> dict:
    """The metrics the CLI reports, keyed ``<prefix>_accuracy`` or ``<prefix>_r2/_rmse``,
    rows weighted by ``weights`` (n,) when given."""
    if is_classifier:
        return {f"{prefix}_accuracy": accuracy(y_true, y_pred, weights)}
    return {
        f"{prefix}_r2": r2(y_true, y_pred, weights),
        f"{prefix}_rmse": rmse(y_true, y_pred, weights),
    }
