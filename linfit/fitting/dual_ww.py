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

The bias is not penalized, as in ``dual_cd.py``: proximal point rounds on it, each on the
dual with a constant feature (value ``bias_feature``, weights ``wb`` (K,)) penalized
towards the previous round's bias ``b_prev``, whose margins are shifted to ``margin +
b_prev_j - b_prev_y``. The rounds run inside the compiled loop, warm (its shrinking kept),
one epoch each: while ``wb`` would move some margin by more than the tolerance, the
centre moves by it after the epoch, and the loop stops only on an epoch that leaves it in
place. A model without intercept has no rounds.

Stopping, by ``dual_cd.tightened`` as ``dual_cd.py``'s: the first call runs at LIBLINEAR's
dual tolerance (0.1), each call to the loop's test (the projected gradient's spread) with
the bias settled. The squared hinge stops when the primal gradient test ``max |g| <= gtol
max(1, |f|)`` holds on a pass of the model's objective after each call. The hinge stops when
its duality gap in linfit's units (:func:`hinge_gap`), which certifies the weights for the
bias found, and the bias's subgradient (:func:`bias_gradient`) are both at most ``gtol
max(1, |f|)``, read off one pass of its own; the model's objective runs once, at the end.
Until then the next call's tolerance is cut in proportion to the test's distance (see
SAFETY).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from linfit.errors import CapabilityError
from linfit.fitting.dual_cd import check_penalty, compiled_rows, dual_box, rows_rms, tightened
from linfit.fitting.dual_ww_python import ww_dual_python
from linfit.models import LinearModel, LinearSVM
from linfit.optim import OptimizeResult

try:
    from linfit.fitting import _wwdual  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: dual_ww_python's loop
    _wwdual = None

# The next call's dual tolerance (dual_cd._next_eps) is eps * SAFETY * target / measure.
# dual_cd's SAFETY is 0.3 for the binary duals on the rcv1-like data; here the hinge's gap
# falls faster than the tolerance at first (measured on the news20-like data, warm calls
# from eps 0.1: gap / eps 0.046 at 0.1, 0.015 at 6.5e-3, 0.008 to 0.0096 from 1e-4 to
# 3e-7), so 0.3 overshoots the test (gtol 1e-4: 3 gets there in 32 epochs, 1.5 in 36; 1e-5:
# 46 and 48; 3e-6: 52 and 56; 3e-7 and 1e-8 alike). A call that falls short costs one warm
# call more; one that overshoots, every epoch past the test.
SAFETY = 3.0
# And at least MIN_CUT times per call (dual_cd's is 0.1): the gap follows eps closely here,
# so a call that falls short was close (news20-like, gtol 1e-6, seeds 0 to 5: the call to
# eps 1e-4 left gaps 0.84 to 1.23 times the target), and a call continues warm: 0.1 ran
# the next to 1e-5 (14 epochs, a gap 10x under the target), 0.5 to 5e-5.
MIN_CUT = 0.5

# The bias's constant feature, relative to the rows' root mean square norm (bias_feature).
# Its proximal term is |b - centre|^2 / (2 value^2): a larger value moves the bias further
# per round, but the feature, stored in every sample, couples all the blocks' steps. The
# loop's epochs to the dual tolerances 0.1, 1e-2, 1e-3, 1e-4 (warm) on the news20-like rows
# (norm 1; the rounds after every epoch, _wwdual.c's centre_moved): 31, 60, 90, 118 at 1;
# 17, 31, 45, 59 at 0.3; 16, 28, 41, 54 at 0.1, as many as without intercept. On
# tests/test_dual_ww's 90 samples of 2 to 5 classes (eps 1e-4; 1e-8): 373-1,034 (738-3,244)
# at 1; 214-598 (425-1,861) at 0.5; 217-517 (406-2,219) at 0.3; 203-406 (403-1,856) at
# 0.2; 507-749 (1,272-2,367) at 0.1, where more rounds are needed. The whole fit on the
# news20-like rows (gtol 1e-6): 73 epochs at 0.3, 70 at 0.2, 67 at 0.1; 149 at 1 with the
# rounds only once the spread test held.
BIAS_SCALE = 0.2


def check_ww_model(model: LinearModel) -> None:
    """Refuse, before any work, what this solver does not solve."""
    if not (isinstance(model, LinearSVM) and not model.one_vs_rest):
        raise CapabilityError(
            f"dcd's Weston-Watkins solver takes a Weston-Watkins SVM, not {model.describe()}"
        )
    check_penalty(model)


def bias_feature(X: Any) -> float:
    """The constant feature's value for ``X`` (n, d) (CSR): ``BIAS_SCALE`` times the rows'
    root mean square norm (``dual_cd.rows_rms``; 1 for rows all zero), so that the bias's
    weight in each sample's block relative to the features' is the same at any scale of
    ``X``. Without dual_cd's floor in ``C n``: not measured here."""
    return BIAS_SCALE * rows_rms(X)


def _ww_dual(
    X: Any, y: np.ndarray, state: dict[str, Any], *, margin: float, bias_scale: float,
    box: tuple[float, float, np.ndarray | None, np.ndarray | None], eps: float,
    max_epochs: int, seed: int,
) -> tuple[int, bool]:  # fmt: skip
    """One call of the loop to ``eps``, from and into ``state``'s ``alpha`` (n, K), ``W``
    (d, K), ``wb`` (K,) and the bias's centre ``b`` (K,) (moved by the loop's proximal
    steps when ``bias_scale`` is not 0), in the ``box`` of ``dual_cd.dual_box``; ``(epochs,
    converged)``."""
    upper, diag, upper_each, diag_each = box
    alpha, W, wb, centre = state["alpha"], state["W"], state["wb"], state["b"]
    move = bias_scale > 0.0
    if _wwdual is None:
        return ww_dual_python(
            X, y, centre, alpha, W, wb, margin, bias_scale, upper, diag, eps, max_epochs, seed,
            upper_each, diag_each, move,
        )  # fmt: skip
    n, d = X.shape
    epochs, converged = _wwdual.ww_dual(
        X.indptr, X.indices, X.data, y, centre, alpha, W, wb, n, d, alpha.shape[1], margin,
        bias_scale, upper, diag, eps, max_epochs, seed & (2**64 - 1), upper_each, diag_each,
        move,
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
    all the calls on one state). ``state["converged"]``: the dual test held on every
    variable with the bias settled (its last move's spread over the classes within
    ``eps``)."""
    X = compiled_rows(X)
    n, d = X.shape
    K = n_classes
    y = np.ascontiguousarray(y, dtype=np.int64)
    if state is None:
        state = {"alpha": np.zeros((n, K)), "W": np.zeros((d, K)), "wb": np.zeros(K),
                 "b": np.zeros(K), "epochs": 0,
                 "bias_scale": bias_feature(X) if intercept else 0.0}  # fmt: skip
    bias_scale = state["bias_scale"]
    epochs = state["epochs"]  # over every call on this state: max_epochs bounds them all
    ran, converged = _ww_dual(
        X, y, state, margin=margin, bias_scale=bias_scale, box=dual_box(C, squared, weights),
        eps=eps, max_epochs=max_epochs - epochs, seed=seed + epochs,
    )  # fmt: skip
    state["epochs"] = epochs = epochs + ran
    state["converged"] = converged
    # the bias: the centre the margins were last shifted by, plus the last round's move
    b = state["b"] + bias_scale * state["wb"]
    return state["W"].copy(), b, epochs, state


def hinge_gap(
    X: Any, y: np.ndarray, alpha: np.ndarray, W: np.ndarray, b: np.ndarray, *,
    margin: float, upper: float, weights: np.ndarray | None = None,
) -> tuple[float, float]:  # fmt: skip
    """``(gap, loss)``: the hinge's duality gap in linfit's units at ``alpha`` (n, K) with
    ``W`` (d, K) = sum_ij alpha_ij x_i (e_y - e_j)^T and the bias ``b`` (K,), each
    ``alpha_ij`` in ``[0, upper u_i]`` (``weights`` u (n,), None: all 1). With ``G_ij =
    s_iy - s_ij - margin`` (scores ``s_i = W^T x_i + b``), the primal (LIBLINEAR's units,
    C = ``upper``) less the dual is, as ``W``'s and the bias feature's squares cancel,

        P - D = sum_ij [alpha_ij G_ij + C u_i max(0, -G_ij)]
              = sum_ij [alpha_ij max(G_ij, 0) + (C u_i - alpha_ij) max(-G_ij, 0)],

    each term >= 0 (so summed without cancellation), and linfit's objective is P / (C n):
    ``f - f* <=`` this gap / (C n) for the last round's problem (its bias penalized towards
    the last centre). It is at most the projected gradients' bound ``sum_ij C u_i |PG_ij|``
    (the stop before f37a822) term by term, and half of it on the news20-like data. ``loss`` is
    the hinge's mean ``u_i sum_{j != y_i} max(0, -G_ij)`` at ``(W, b)``, read off the same
    pass: linfit's data term."""
    S = np.asarray(X @ W) + b
    rows = np.arange(S.shape[0])
    G = (S[rows, y] - margin)[:, None] - S
    G[rows, y] = 0.0  # no variable of the true class (alpha_iy = 0), nor a loss term
    u = None if weights is None else np.asarray(weights, dtype=np.float64)
    ceiling = upper if u is None else upper * u[:, None]
    hinge = np.maximum(-G, 0.0)
    terms = alpha * np.maximum(G, 0.0) + (ceiling - alpha) * hinge
    gap, loss = terms.sum(axis=1) / upper, hinge.sum(axis=1)  # per sample
    if u is not None:
        loss *= u
    return float(np.mean(gap)), float(np.mean(loss))


def bias_gradient(state: dict[str, Any], scale: float) -> float:
    """``max_k |v_k| / scale`` for ``v = sum_ij alpha_ij (e_y - e_j)`` (K,), read off
    solve_ww's ``state`` as ``wb / bias_scale`` (0 without intercept), ``scale`` = C n:
    ``-v / (C n)`` is the subgradient in the bias of linfit's objective that the dual's
    multipliers give (each ``alpha_ij / (C n)`` the weight of its hinge's kink), and ``v =
    0`` is the unpenalized bias's constraint on the dual. hinge_gap certifies the weights
    for the bias found; this measures the bias itself, which the proximal rounds leave
    wherever they stopped moving it: with a small constant feature (rows of small norm) a
    round moves it by little, and the loop's centre test (a move within eps) held far from
    the optimum (3,000 rows of norm 0.01, 5 classes: f 3.50 where bfgs reached 0.705)."""
    bias_scale = state["bias_scale"]
    if not bias_scale > 0.0:
        return 0.0
    return float(np.max(np.abs(state["wb"]))) / bias_scale / scale


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
    y = np.ascontiguousarray(y, dtype=np.int64)
    C = 1.0 / (2.0 * model.reg * n)
    squared = model.variant == "squared_hinge"
    state: Any = None  # solve_ww's, from the first call on
    W = b = np.zeros(0)

    def solve(eps: float) -> tuple[np.ndarray, int, bool]:
        nonlocal W, b, state
        W, b, epochs, state = solve_ww(
            X, y, K, C=C, margin=model.margin, squared=squared,
            intercept=model.fit_intercept, eps=eps, max_epochs=max_iter, seed=seed,
            state=state, weights=weights,
        )  # fmt: skip
        return model.pack(W, b), epochs, state["converged"]

    def hinge_test() -> tuple[float, float]:
        gap, loss = hinge_gap(
            X, y, state["alpha"], W, b, margin=model.margin, upper=C, weights=weights
        )
        return max(gap, bias_gradient(state, C * n)), loss + model.penalty(W)

    return tightened(
        solve, None if squared else hinge_test, objective_fun, gtol=gtol, max_iter=max_iter,
        safety=SAFETY, min_cut=MIN_CUT,
    )  # fmt: skip
