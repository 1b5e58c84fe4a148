"""The models' gradients in their corrected forms (notes 000 and 004), and the notes'
mistaken forms as counter-examples.

Each model's loss and gradient are written out here from the notes' corrected formulas, in
plain vectorized numpy and apart from linfit's models (only the flat parameter layout,
``params = [W.ravel(), b]``, is shared). A row then checks two things at once: the formula
against finite differences of the loss written here (the math), and linfit's
``loss_gradient`` against the formula (the code). Both use a nonzero penalty, so the
``2 reg W`` term, and the unpenalized bias, are checked too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from linfit.checks.calculus import Check, H, Identity, gradient
from linfit.models import LinearModel, LinearSVM, ReLURegressor, SoftmaxClassifier

MODEL_REG = 0.05
MARGIN = 1.0  # the SVM's Delta


def _unpack(params: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``W`` (d, K) and ``b`` (K,) from flat ``params = [W.ravel(), b]``."""
    K = params.size // (d + 1)
    return params[: d * K].reshape(d, K), params[d * K :]


def _scores(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    W, b = _unpack(params, X.shape[1])
    return X @ W + b


def _penalty(params: np.ndarray, d: int) -> float:
    W, _ = _unpack(params, d)
    return MODEL_REG * float(np.sum(W * W))


def _data_gradient(X: np.ndarray, D: np.ndarray, params: np.ndarray) -> np.ndarray:
    """From ``D = dJ/dS`` (n, K), mean already taken: ``dJ/dW = X^T D + 2 reg W``,
    ``dJ/db = 1^T D`` (the bias is not penalized), flat like ``params``."""
    W, _ = _unpack(params, X.shape[1])
    return np.concatenate([(X.T @ D + 2 * MODEL_REG * W).ravel(), D.sum(axis=0)])


def _svm_hinge_arguments(params, X, y) -> np.ndarray:
    """``s_j - s_{y_i} + Delta`` (n, K), the true class's column set to -inf (no term)."""
    S = _scores(params, X)
    rows = np.arange(len(y))
    A = S - S[rows, y][:, None] + MARGIN
    A[rows, y] = -np.inf
    return A


def _svm_loss(params, X, y) -> float:
    """Weston-Watkins, margin inside the max:
    ``J = (1/N) sum_i sum_{j != y_i} max(0, s_j - s_{y_i} + Delta) + reg ||W||^2``."""
    terms = np.maximum(0.0, _svm_hinge_arguments(params, X, y))
    return float(terms.sum() / len(y)) + _penalty(params, X.shape[1])


def _svm_gradient(params, X, y) -> np.ndarray:
    """The subgradient: ``dL_i/ds_j = 1[s_j - s_{y_i} + Delta > 0]`` for ``j != y_i``, and
    ``dL_i/ds_{y_i} = -sum_{j != y_i} 1[s_j - s_{y_i} + Delta > 0]``."""
    D = (_svm_hinge_arguments(params, X, y) > 0).astype(float)
    rows = np.arange(len(y))
    D[rows, y] = -D.sum(axis=1)
    return _data_gradient(X, D / len(y), params)


def _svm_note_loss(params, X, y) -> float:
    """Note 000's loss: ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i}) + Delta``."""
    S = _scores(params, X)
    rows = np.arange(len(y))
    terms = np.maximum(0.0, S - S[rows, y][:, None])
    terms[rows, y] = 0.0
    return float(np.mean(terms.sum(axis=1) + MARGIN)) + _penalty(params, X.shape[1])


def _log_softmax(S: np.ndarray) -> np.ndarray:
    """Row-wise ``log p``, stable: the row max subtracted, then log-sum-exp."""
    Z = S - S.max(axis=1, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))


def _softmax_loss(params, X, y) -> float:
    """``J = -(1/N) sum_i log p_{i, y_i} + reg ||W||^2``."""
    log_p = _log_softmax(_scores(params, X))
    return float(-log_p[np.arange(len(y)), y].mean()) + _penalty(params, X.shape[1])


def _softmax_gradient(params, X, y) -> np.ndarray:
    """``dJ/dW = (1/N) X^T (P - Y_onehot) + 2 reg W``, ``dJ/db = (1/N) 1^T (P - Y_onehot)``."""
    P = np.exp(_log_softmax(_scores(params, X)))
    Y = np.eye(P.shape[1])[y]
    return _data_gradient(X, (P - Y) / len(y), params)


def _relu_loss(params, X, y) -> float:
    """``J = (1/N) sum_i (max(0, W.x_i + b) - y_i)^2 + reg ||W||^2``: an inactive sample
    contributes ``y_i^2``."""
    z = _scores(params, X)[:, 0]
    r = np.maximum(0.0, z) - y
    return float(r @ r / len(y)) + _penalty(params, X.shape[1])


def _relu_gradient(params, X, y) -> np.ndarray:
    """The indicator per sample:
    ``dJ/dW = (2/N) sum_i 1[W.x_i + b > 0] (max(0, W.x_i + b) - y_i) x_i^T + 2 reg W``,
    ``dJ/db = (2/N) sum_i 1[W.x_i + b > 0] (max(0, W.x_i + b) - y_i)``."""
    z = _scores(params, X)[:, 0]
    e = (z > 0) * (np.maximum(0.0, z) - y)
    return _data_gradient(X, (2 / len(y)) * e[:, None], params)


def _relu_note_gradient_formula(params, X, y) -> np.ndarray:
    """Note 004's form: ``e_i = W.x_i + b - y_i`` for every sample, active or not."""
    e = _scores(params, X)[:, 0] - y
    return _data_gradient(X, (2 / len(y)) * e[:, None], params)


def _away_from_kinks(X, distances, draw) -> np.ndarray:
    """Draw params until no sample is within the stencil's reach of a kink.

    ``distances(params)`` gives each piecewise term's signed distance from its kink (in
    score units). One coordinate moved by 2H moves a score by at most 2H max|x|; twice
    that keeps every finite-difference point on the same piece of the piecewise loss.
    """
    reach = 4 * H * max(1.0, float(np.max(np.abs(X))))
    while True:
        params = draw()
        if np.min(np.abs(distances(params))) > reach:
            return params


def _classification(rng, n=40, d=3, k=3):
    X = rng.standard_normal((n, d))
    y = rng.permutation(np.arange(n) % k)
    draw = lambda: 0.3 * rng.standard_normal((d + 1) * k)  # noqa: E731
    return X, y, _away_from_kinks(X, lambda p: _svm_hinge_arguments(p, X, y), draw)


def _relu_problem(rng, n=40, d=3):
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 1.0

    def draw():
        params = rng.standard_normal(d + 1)
        params[-1] = 0.2  # about half the samples active, half not
        return params

    return X, y, _away_from_kinks(X, lambda p: _scores(p, X), draw)


def _model_gradient(
    model: LinearModel, loss: Callable, formula: Callable, problem: Callable
) -> Check:
    """The formula against finite differences of the loss written here, and linfit's
    ``model.loss_gradient`` against the formula: one row, its error the worse of the two."""

    def check(rng):
        X, y, params = problem(rng)
        claimed = formula(params, X, y)
        numerical = gradient(lambda p: loss(p, X, y), params)
        linfit = model.loss_gradient(params, X, y)[1]
        return np.concatenate([claimed, claimed]), np.concatenate([numerical, linfit])

    return check


def _note_counter_example(loss: Callable, formula: Callable, problem: Callable) -> Check:
    """A gradient formula against finite differences of a loss, both written here."""

    def check(rng):
        X, y, params = problem(rng)
        return formula(params, X, y), gradient(lambda p: loss(p, X, y), params)

    return check


MODEL_IDENTITIES: tuple[Identity, ...] = (
    Identity(
        "SVM gradient, margin inside the max",
        "denominator",
        _model_gradient(
            LinearSVM(reg=MODEL_REG, margin=MARGIN), _svm_loss, _svm_gradient, _classification
        ),
    ),
    Identity(
        "SVM loss with the margin outside the max (note 000)",
        "denominator",
        _note_counter_example(_svm_note_loss, _svm_gradient, _classification),
        counter_example=True,
    ),
    Identity(
        "softmax cross-entropy gradient (p - 1[j=y]) x^T",
        "denominator",
        _model_gradient(
            SoftmaxClassifier(reg=MODEL_REG), _softmax_loss, _softmax_gradient, _classification
        ),
    ),
    Identity(
        "ReLU regressor gradient, indicator per sample",
        "denominator",
        _model_gradient(ReLURegressor(reg=MODEL_REG), _relu_loss, _relu_gradient, _relu_problem),
    ),
    Identity(
        "ReLU gradient with the case split outside the sum (note 004)",
        "denominator",
        _note_counter_example(_relu_loss, _relu_note_gradient_formula, _relu_problem),
        counter_example=True,
    ),
)
