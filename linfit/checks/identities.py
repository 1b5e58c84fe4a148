"""The matrix-calculus identities the notes state, checked numerically on random inputs.

Each identity compares a closed form (the "claim") with an independent numerical value:
a finite-difference derivative, or the other side of an equality. Derivatives use
``linfit.checks.gradcheck.central_difference``. A few rows are counter-examples:
the notes' mistaken forms, which must *fail*; they are reported as expected failures.

The SVM, softmax and ReLU rows do not check linfit's code against itself: each model's
loss and corrected gradient formula are written out here, independently of
``linfit.models``, the formula is checked against finite differences of that loss, and
linfit's ``loss_gradient`` against the formula.

Layouts: "denominator" means a derivative of a scalar has the shape of its argument
(linfit's convention); "numerator" means a Jacobian ``J[i, j] = d f_i / d x_j``, as the
notes write vector-by-vector derivatives. The two are transposes of each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from linfit.checks.gradcheck import central_difference
from linfit.models import LinearModel, LinearSVM, ReLURegressor, SoftmaxClassifier
from linfit.models.least_squares import pinv_solve
from linfit.models.softmax import softmax_inplace

TOLERANCE = 1e-6
H = 1e-3  # stencil step; the functions below are smooth at the scale of their inputs

Check = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Identity:
    """A claimed identity and how to check it: ``check(rng) -> (claimed, numerical)``."""

    name: str
    layout: str  # "denominator", "numerator", or "equality"
    check: Check
    counter_example: bool = False  # a mistaken form from the notes: it must fail


@dataclass(frozen=True)
class IdentityResult:
    name: str
    layout: str
    max_rel_error: float
    counter_example: bool

    @property
    def holds(self) -> bool:
        return self.max_rel_error <= TOLERANCE

    @property
    def passed(self) -> bool:
        """An identity passes when it holds; a counter-example when it does not."""
        return self.holds != self.counter_example


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Numerator-layout Jacobian of ``f`` at ``x``: shape ``f(x).shape + x.shape``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(np.shape(f(x)) + x.shape)
    for index in np.ndindex(x.shape):
        unit = np.zeros_like(x)
        unit[index] = 1.0
        out[(..., *index)] = central_difference(f, x, unit, H)
    return out


def gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Denominator-layout derivative of a scalar ``f``: the shape of ``x``."""
    return jacobian(lambda z: np.asarray(f(z)), x)


def _relative(claimed: np.ndarray, numerical: np.ndarray) -> float:
    claimed, numerical = np.asarray(claimed, float), np.asarray(numerical, float)
    scale = max(np.max(np.abs(claimed)), np.max(np.abs(numerical)), 1e-12)
    return float(np.max(np.abs(claimed - numerical)) / scale)


# ---- scalar functions of vectors and matrices (note 000, note 001) -------------------------


def _a_dot_x(rng):
    a, x = rng.standard_normal(5), rng.standard_normal(5)
    return a, gradient(lambda z: a @ z, x)


def _x_dot_x(rng):
    x = rng.standard_normal(5)
    return 2 * x, gradient(lambda z: z @ z, x)


def _quadratic_form(rng):
    A, x = rng.standard_normal((5, 5)), rng.standard_normal(5)
    return (A + A.T) @ x, gradient(lambda z: z @ A @ z, x)


def _quadratic_form_note(rng):
    A, x = rng.standard_normal((5, 5)), rng.standard_normal(5)  # not symmetric
    return 2 * A @ x, gradient(lambda z: z @ A @ z, x)


def _linear_map(rng):
    A, x = rng.standard_normal((4, 5)), rng.standard_normal(5)
    return A, jacobian(lambda z: A @ z, x)


def _dot_product(rng):
    w, x = rng.standard_normal(5), rng.standard_normal(5)
    return x[None, :], jacobian(lambda z: np.atleast_1d(z @ x), w)  # a 1 x n row: X^T


def _trace_ab(rng):
    A, B = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))
    return B.T, gradient(lambda Z: np.trace(Z @ B), A)


def _trace_abatc(rng):
    A, B, C = (
        rng.standard_normal((4, 3)),
        rng.standard_normal((3, 3)),
        rng.standard_normal((4, 4)),
    )
    return C @ A @ B + C.T @ A @ B.T, gradient(lambda Z: np.trace(Z @ B @ Z.T @ C), A)


def _trace_cyclic(rng):
    A, B, C = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    t = np.trace(A @ B @ C)
    return np.array([t, t]), np.array([np.trace(C @ A @ B), np.trace(B @ C @ A)])


# ---- softmax and cross-entropy (note 000) --------------------------------------------------


def _softmax(o: np.ndarray) -> np.ndarray:
    return softmax_inplace(o[None, :].copy())[0]


def _softmax_jacobian(rng):
    o = rng.standard_normal(5)
    p = _softmax(o)
    return np.diag(p) - np.outer(p, p), jacobian(_softmax, o)


def _cross_entropy(rng):
    o, label = rng.standard_normal(5), int(rng.integers(5))
    y = np.eye(5)[label]
    return _softmax(o) - y, gradient(lambda z: -np.log(_softmax(z)[label]), o)


# ---- element-wise and vector-scalar operations (note 004) ------------------------------------


def _elementwise(op, d_first, d_second):
    def check(rng):
        w, x = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4) * rng.choice([-1, 1], 4)
        claimed = np.concatenate([d_first(w, x), d_second(w, x)])
        numerical = np.concatenate(
            [jacobian(lambda z: op(z, x), w), jacobian(lambda z: op(w, z), x)]
        )
        return claimed, numerical

    return check


def _vector_scalar_add(rng):
    x, z = rng.standard_normal(4), np.array([rng.standard_normal()])
    claimed = np.column_stack([np.eye(4), np.ones(4)])
    numerical = np.column_stack([jacobian(lambda v: v + z, x), jacobian(lambda s: x + s, z)])
    return claimed, numerical


def _vector_scalar_mul(rng):
    x, z = rng.standard_normal(4), np.array([rng.standard_normal()])
    claimed = np.column_stack([z[0] * np.eye(4), x])
    numerical = np.column_stack([jacobian(lambda v: v * z, x), jacobian(lambda s: x * s, z)])
    return claimed, numerical


def _sum_reduction(rng):
    B, x = rng.standard_normal((6, 4)), rng.standard_normal(4)
    J = np.cos(B @ x)[:, None] * B  # Jacobian of F(x) = sin(B x)
    return J.sum(axis=0), gradient(lambda z: np.sin(B @ z).sum(), x)


def _chain_rule(rng):
    # scaled so tanh stays off its flat tails, where every derivative is ~0
    B, C = 0.5 * rng.standard_normal((3, 4)), 0.5 * rng.standard_normal((2, 3))
    x = rng.standard_normal(4)
    g = B @ x**2
    J_G = B * (2 * x)[None, :]  # G(x) = B x^2
    J_F = (1 - np.tanh(C @ g) ** 2)[:, None] * C  # F(g) = tanh(C g)
    return J_F @ J_G, jacobian(lambda z: np.tanh(C @ (B @ z**2)), x)


# ---- least squares and the pseudo-inverse (note 004) -------------------------------------------


def _ls_problem(rng, n=30, d=4):
    return rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)


def _ls_gradient(rng):
    X, y, w = _ls_problem(rng)
    n = X.shape[0]
    return (2 / n) * X.T @ (X @ w - y), gradient(lambda z: np.sum((X @ z - y) ** 2) / n, w)


def _normal_equations(rng):
    X, y, _ = _ls_problem(rng)
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    return X.T @ X @ w, X.T @ y


def _rank_deficient(rng) -> np.ndarray:
    A = rng.standard_normal((6, 4))
    A[:, 3] = A[:, 0] - 2 * A[:, 1]  # rank 3
    return A


def _linfit_pinv(A: np.ndarray) -> np.ndarray:
    return pinv_solve(A, np.eye(A.shape[0]))


def _penrose(k: int) -> Check:
    def check(rng):
        A = _rank_deficient(rng)
        P = _linfit_pinv(A)
        sides = [
            (A @ P @ A, A),
            (P @ A @ P, P),
            ((A @ P).T, A @ P),
            ((P @ A).T, P @ A),
        ]
        return sides[k]

    return check


def _svd_form(rng):
    A = _rank_deficient(rng)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    s_plus = np.where(s > 1e-15 * s[0], 1 / np.where(s > 0, s, 1), 0.0)
    return Vt.T @ np.diag(s_plus) @ U.T, np.linalg.pinv(A)


# ---- the models' gradients in their corrected forms (notes 000 and 004) -----------------------
#
# Each model's loss and gradient are written out here from the notes' corrected formulas, in
# plain vectorized numpy and apart from linfit's models (only the flat parameter layout,
# ``params = [W.ravel(), b]``, is shared). A row then checks two things at once: the formula
# against finite differences of the loss written here (the math), and linfit's
# ``loss_gradient`` against the formula (the code). Both use a nonzero penalty, so the
# ``2 reg W`` term, and the unpenalized bias, are checked too.

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


IDENTITIES: tuple[Identity, ...] = (
    Identity("d(a^T x)/dx = a", "denominator", _a_dot_x),
    Identity("d(x^T x)/dx = 2x", "denominator", _x_dot_x),
    Identity("d(x^T A x)/dx = (A + A^T) x", "denominator", _quadratic_form),
    Identity(
        "d(x^T A x)/dx = 2 A x, A not symmetric (note 000)",
        "denominator",
        _quadratic_form_note,
        counter_example=True,
    ),
    Identity("d(Ax)/dx = A", "numerator", _linear_map),
    Identity("d(w . x)/dw = x^T", "numerator", _dot_product),
    Identity("d tr(AB)/dA = B^T", "denominator", _trace_ab),
    Identity("d tr(A B A^T C)/dA = C A B + C^T A B^T", "denominator", _trace_abatc),
    Identity("tr(ABC) = tr(CAB) = tr(BCA)", "equality", _trace_cyclic),
    Identity("softmax Jacobian = diag(p) - p p^T", "numerator", _softmax_jacobian),
    Identity("d(cross-entropy)/do = p - y, y one-hot", "denominator", _cross_entropy),
    Identity(
        "d(W+X)/dW = I, d(W+X)/dX = I",
        "numerator",
        _elementwise(np.add, lambda w, x: np.eye(4), lambda w, x: np.eye(4)),
    ),
    Identity(
        "d(W-X)/dW = I, d(W-X)/dX = -I",
        "numerator",
        _elementwise(np.subtract, lambda w, x: np.eye(4), lambda w, x: -np.eye(4)),
    ),
    Identity(
        "d(W*X)/dW = diag(X), d(W*X)/dX = diag(W)",
        "numerator",
        _elementwise(np.multiply, lambda w, x: np.diag(x), lambda w, x: np.diag(w)),
    ),
    Identity(
        "d(W/X)/dW = diag(1/X), d(W/X)/dX = diag(-W/X^2)",
        "numerator",
        _elementwise(np.divide, lambda w, x: np.diag(1 / x), lambda w, x: np.diag(-w / x**2)),
    ),
    Identity("d(X+z)/dX = I, d(X+z)/dz = 1", "numerator", _vector_scalar_add),
    Identity("d(Xz)/dX = zI, d(Xz)/dz = X", "numerator", _vector_scalar_mul),
    Identity("d sum(F(x))/dx = sum_i dF_i/dx", "denominator", _sum_reduction),
    Identity("d F(G(x))/dx = dF/dG . dG/dx", "numerator", _chain_rule),
    Identity("d (1/N)||Xw - y||^2/dw = (2/N) X^T (Xw - y)", "denominator", _ls_gradient),
    Identity(
        "normal equations: X^T X w = X^T y at the least-squares w", "equality", _normal_equations
    ),
    Identity("Moore-Penrose 1: A A+ A = A", "equality", _penrose(0)),
    Identity("Moore-Penrose 2: A+ A A+ = A+", "equality", _penrose(1)),
    Identity("Moore-Penrose 3: (A A+)^T = A A+", "equality", _penrose(2)),
    Identity("Moore-Penrose 4: (A+ A)^T = A+ A", "equality", _penrose(3)),
    Identity("A+ = V S+ U^T (numpy's pinv)", "equality", _svd_form),
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


def check_identities(seed: int = 0) -> list[IdentityResult]:
    """Check every identity on fresh random inputs drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return [
        IdentityResult(
            name=identity.name,
            layout=identity.layout,
            max_rel_error=_relative(*identity.check(rng)),
            counter_example=identity.counter_example,
        )
        for identity in IDENTITIES
    ]
