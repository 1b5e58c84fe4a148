"""The notes' matrix-calculus identities (vectors and matrices, softmax, element-wise
operations, least squares and the pseudo-inverse), each a check on random inputs: a
closed form against a finite-difference derivative or the other side of an equality."""

from __future__ import annotations

import numpy as np

from linfit.checks.calculus import Check, Identity, gradient, jacobian
from linfit.linalg.qr import pinv_solve
from linfit.models.softmax import softmax_inplace

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


MATRIX_IDENTITIES: tuple[Identity, ...] = (
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
)
