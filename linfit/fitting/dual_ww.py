"""Dual coordinate descent for the Weston-Watkins multiclass SVM, as a solver (``dcd``).

The mapping to linfit's objective, with the engine's row multipliers ``u`` (mean 1; all 1
unweighted) and scores ``s_i = W^T x_i + b`` (K,):

    linfit:    (1/n) sum_i u_i sum_{j != y_i} h(s_ij - s_iy + margin) + reg |W|^2
    dual's:    1/2 |W|^2 + C sum_i u_i sum_{j != y_i} h(...),  C = 1 / (2 reg n)

(linfit's objective is ``2 reg`` times the second: the same minimizer). Its dual has one
variable ``alpha_ij >= 0`` per sample and wrong class, ``W = sum_ij alpha_ij x_i (e_y -
e_j)^T``; the hinge bounds it by ``C u_i``, the squared hinge adds ``alpha_ij^2 / (4 C u_i)``
instead (LIBLINEAR's instance weights); a row of weight 0 keeps ``alpha_i = 0`` and is never
visited. A sample's K - 1 variables couple through its true class's column only, and their
quadratic is ``r I + q 1 1^T``: ``_wwdual.c`` minimizes it exactly, one sample's block at a
time in a seeded random order, with per-variable shrinking, reading the sample's scores
once (``K`` numbers per stored value) and writing its change to the touched rows of ``W``
(stored (d, K), a feature's K weights contiguous). Without a C compiler the same steps run
in Python (``dual_ww_python.py``), for tests and small data only.

The bias is not penalized, as in ``dual_cd.py``: proximal point rounds on it, each solving
the dual with a constant feature (weight ``wb`` (K,)) penalized towards the previous round's
bias ``b_prev``, whose margins are shifted to ``margin + b_prev_j - b_prev_y``; warm-started
rounds until the bias moves by less than the dual tolerance. A model without intercept
skips the rounds.

Stopping, as ``dual_cd.py``: the squared hinge is smooth, so the dual tolerance is
tightened tenfold (warm) until the primal gradient test ``max |g| <= gtol max(1, |f|)``
holds; the hinge's dual projected gradient is driven to ``gtol`` (margin units). The result
reports the primal objective and gradient from ``objective_fun`` at the answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from linfit.errors import CapabilityError
from linfit.fitting.dual_cd import FIRST_EPS, MAX_BIAS_ROUNDS, compiled_rows, dual_box
from linfit.fitting.dual_ww_python import ww_dual_python
from linfit.models import LinearModel, LinearSVM
from linfit.optim import OptimizeResult, Status

try:
    from linfit.fitting import _wwdual  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: dual_ww_python's loop
    _wwdual = None


def check_ww_model(model: LinearModel) -> None:
    """Refuse, before any work, what this solver does not solve."""
    if not (isinstance(model, LinearSVM) and not model.one_vs_rest):
        raise CapabilityError(
            f"dcd's Weston-Watkins solver takes a Weston-Watkins SVM, not {model.describe()}"
        )
    if not model.reg > 0:
        raise CapabilityError("dcd needs a penalty (`reg` > 0): its dual has C = 1/(2 reg n)")


def _ww_dual(
    X: Any, y: np.ndarray, shift: np.ndarray, state: dict[str, Any], *, margin: float,
    bias_scale: float, box: tuple[float, float, np.ndarray | None, np.ndarray | None],
    eps: float, max_epochs: int, seed: int,
) -> tuple[int, bool]:  # fmt: skip
    """One dual to ``eps``, from and into ``state``'s ``alpha`` (n, K), ``W`` (d, K) and
    ``wb`` (K,), in the ``box`` of ``dual_cd.dual_box``; ``(epochs, converged)``."""
    upper, diag, upper_each, diag_each = box
    alpha, W, wb = state["alpha"], state["W"], state["wb"]
    if _wwdual is None:
        return ww_dual_python(
            X, y, shift, alpha, W, wb, margin, bias_scale, upper, diag, eps, max_epochs, seed,
            upper_each, diag_each,
        )  # fmt: skip
    n, d = X.shape
    epochs, converged = _wwdual.ww_dual(
        X.indptr, X.indices, X.data, y, shift, alpha, W, wb, n, d, alpha.shape[1], margin,
        bias_scale, upper, diag, eps, max_epochs, seed & (2**64 - 1), upper_each, diag_each,
    )  # fmt: skip
    return epochs, bool(converged)


def solve_ww(
    X: Any, y: np.ndarray, n_classes: int, *, C: float, margin: float, squared: bool,
    intercept: bool, eps: float, max_epochs: int, seed: int,
    state: dict[str, Any] | None = None, weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int, dict[str, Any]]:  # fmt: skip
    """The Weston-Watkins SVM ``1/2 |W|^2 + C sum_i u_i sum_{j != y_i} h(margin + s_ij -
    s_iy)`` on ``X`` (n, d) and class codes ``y`` (n,) in ``range(n_classes)``, row
    multipliers ``weights`` u (n,) (None: all 1), its bias unpenalized (or zero without
    ``intercept``), to the dual tolerance ``eps``: ``(W (d, K), b (K,), epochs so far,
    state)``; pass ``state`` back to continue warm (``max_epochs`` bounds the epochs over
    all the calls on one state)."""
    X = compiled_rows(X)
    n, d = X.shape
    K = n_classes
    y = np.ascontiguousarray(y, dtype=np.int64)
    if state is None:
        state = {"alpha": np.zeros((n, K)), "W": np.zeros((d, K)), "wb": np.zeros(K),
                 "b": np.zeros(K), "epochs": 0}  # fmt: skip
    box = dual_box(C, squared, weights)
    bias_scale = 1.0 if intercept else 0.0
    epochs = state["epochs"]
    for _ in range(MAX_BIAS_ROUNDS if intercept else 1):
        # the bias found so far shifts the margins; wb is the round's correction to it
        ran, converged = _ww_dual(
            X, y, state["b"].copy(), state, margin=margin, bias_scale=bias_scale, box=box,
            eps=eps, max_epochs=max_epochs - epochs, seed=seed + epochs,
        )  # fmt: skip
        epochs += ran
        correction = bias_scale * state["wb"]
        state["b"] = state["b"] + correction  # the next round's centre: the proximal step
        # done when the bias moves by less than the margins' tolerance (a move of b_j - b_y
        # shifts G_ij by as much)
        moved = float(np.max(np.abs(correction))) if K else 0.0
        state["converged"] = converged and (not intercept or 2.0 * moved <= eps)
        if state["converged"] or epochs >= max_epochs:
            break
    state["epochs"] = epochs
    return state["W"].copy(), state["b"].copy(), epochs, state


def dual_ww(
    model: LinearSVM, X: Any, y: np.ndarray, objective_fun: Any, *, gtol: float, ftol: float,
    max_iter: int, seed: int, weights: np.ndarray | None = None,
) -> OptimizeResult:  # fmt: skip
    """Dual coordinate descent on the Weston-Watkins SVM ``model``, on ``X`` (n, d) (CSR
    or dense) and class codes ``y`` (n,), rows weighed by the engine's multipliers
    ``weights`` (n,) of mean 1 (None: unweighted); ``max_iter`` bounds the epochs.
    ``objective_fun`` is the engine's ``params -> (f, g)`` that reports the answer
    (weighted as the engine weighs it). ``ftol`` is not used: the tests are on ``gtol``."""
    check_ww_model(model)
    X = compiled_rows(X)
    n = X.shape[0]
    K = model.n_outputs(y)
    C = 1.0 / (2.0 * model.reg * n)
    squared = model.variant == "squared_hinge"
    state = None
    eps = FIRST_EPS  # loose while the bias is far off, tightened warm
    evaluations = 0
    while True:
        W, b, epochs, state = solve_ww(
            X, y, K, C=C, margin=model.margin, squared=squared,
            intercept=model.fit_intercept, eps=eps, max_epochs=max_iter, seed=seed,
            state=state, weights=weights,
        )  # fmt: skip
        params = model.pack(W, b)
        f, g = objective_fun(params)
        evaluations += 1
        grad_norm = float(np.max(np.abs(g))) if g.size else 0.0
        if squared and grad_norm <= gtol * max(1.0, abs(f)):
            status = Status.GTOL
            break
        if not squared and state["converged"] and eps <= max(gtol, 1e-12):
            status = Status.PROJECTED_GRADIENT
            break
        if epochs >= max_iter:
            status = Status.MAX_ITER
            break
        eps /= 10.0
        if eps < 1e-15:  # the dual is solved to rounding: the gradient test cannot hold
            status = Status.FTOL
            break
    return OptimizeResult(
        x=params, fun=f, jac=g, nit=epochs, nfev=evaluations, njev=evaluations, status=status,
        method="dcd",
    )  # fmt: skip
