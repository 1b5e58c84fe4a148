"""Dual coordinate descent for linear SVMs (LIBLINEAR's ``-s 1`` and ``-s 3``), as a solver.

Hsieh, Chang, Lin, Keerthi & Sundararajan, "A dual coordinate descent method for
large-scale linear SVM", ICML 2008: one binary SVM's dual, one variable at a time in a
random order (seeded by ``seed``), with shrinking, stopped on the projected gradient. The
loop over samples is compiled (``_dualcd.c``); without a C compiler the same algorithm
runs in Python (``dual_cd_python.py``), correct and about 100x slower: for tests and small
data only.

The mapping to linfit's objective, per class k of the one-vs-rest SVM:

    linfit:    (1/n) sum_i u_i h(margin - t_ik s_ik) + reg |w_k|^2,  s_ik = w_k.x_i + b_k
    LIBLINEAR: 1/2 |w_k|^2 + C sum_i u_i h(...),  C = 1 / (2 reg n)   (the same minimizer)

with the engine's row multipliers ``u`` (mean 1; all 1 unweighted). As LIBLINEAR's
instance weights, sample i's cost is ``C u_i``: the hinge's box is ``0 <= alpha_i <= C u_i``
and the squared hinge's diagonal term ``1 / (2 C u_i)``; a row of weight 0 keeps
``alpha_i = 0`` and is skipped. Unweighted, the kernel runs on the scalars, as it always has.

The bias: linfit does not penalize it, which in the dual is the equality constraint
``sum_i t_i alpha_i = 0`` that single-variable updates cannot keep. LIBLINEAR's ``-B 1``
instead appends a constant feature, whose weight is penalized: another problem. Here the
bias is found by the proximal point method on it (equivalently, the augmented Lagrangian
of that constraint): each round solves LIBLINEAR's bias-as-feature dual with the bias
penalized towards the previous round's, ``(b - b_prev)^2 / (2 s^2)`` in LIBLINEAR's units,
which in the dual is a constant feature of value ``s`` (:func:`bias_feature`: 0.2 times the
rows' root mean square norm, so that the iterates are the same at any scale of the rows)
plus margins shifted by ``t_i b_prev``. The rounds run inside the compiled loop, warm and
after every epoch, as dual_ww's: while the constant feature's weight would move the
margins by more than the tolerance, the centre moves and the epochs go on, and a call
ends only on an epoch that leaves the centre in place (``_dualcd.c``'s ``solve``). A model
without intercept has no rounds. With a constant feature of 1 whatever the rows' scale,
and rounds only once the dual test held, rows of norm 0.01 or 100 with the bias far from
0 ran to max_iter short of the optimum.

Stopping: the first call runs at LIBLINEAR's dual tolerance (0.1), each to the dual test
with the bias settled. The squared hinge is smooth: after each call one pass of the
model's objective tests the primal gradient, ``max |g| <= gtol max(1, |f|)`` (the bias's
component among them), as every optimizer's does, and it stops when that holds.

The hinge has no gradient at its kinks: it stops when its duality gap in linfit's units,
summed over the classes, is at most ``gtol max(1, |f|)``, both read off one pass of its
own (the model's objective runs once, at the end, for what is reported). The gap is taken
against the dual made feasible (:func:`hinge_gap`: the multipliers trimmed to ``sum_i t_i
alpha_i = 0``), so it bounds ``f - f*`` for linfit's problem itself, the bias's error
included: the gap of the last round's problem certified the weights only for the bias
found (rows of norm 0.01: one epoch, f 1.96 where the optimum is 0.49). LIBLINEAR's own
test, the projected gradient's spread (max - min) <= eps, is the calls' inner test. The
result's status, PROJECTED_GRADIENT, says that the dual's certificate held, not a gradient
test.

Until the test holds, the next call runs at a dual tolerance cut in proportion to the
test's distance from holding (see ``_next_eps``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from linfit.errors import CapabilityError
from linfit.fitting.dual_cd_python import svm_dual_python
from linfit.models import LinearModel, LinearSVM
from linfit.optim import OptimizeResult, Status

try:
    from linfit.fitting import _dualcd  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: dual_cd_python's loop
    _dualcd = None

FIRST_EPS = 0.1  # LIBLINEAR's dual tolerance, where every fit starts
# The squared hinge's next dual tolerance is eps * SAFETY * target / max|g|: the primal
# gradient falls about in proportion to the dual tolerance (measured on the rcv1-like data:
# max|g| / eps between 2e-3 and 2e-2 from eps 1e-1 to 1e-5), with a margin for that scatter,
# and at most MAX_CUT and at least MIN_CUT times per call.
SAFETY = 0.3
MAX_CUT, MIN_CUT = 1e-3, 0.1
# The bias's constant feature relative to the rows' root mean square norm (bias_feature),
# as dual_ww's. The whole fit's epochs (squared hinge, hinge) at 0.05, 0.1, 0.2, 0.5, 1 on
# 300 rows of 12 normal features, the bias about 4 (reg 1e-3, gtol 1e-6): 677 and 1,231,
# 588 and 421, 460 and 303, 669 and 404, 935 and 676; on the rcv1-like data (C = 1) at 0.1,
# 0.2, 0.5: 33 and 158, 37 and 156, 44 and 176 (at 1 with the rounds only once the dual
# test held, before: 64 and 297).
BIAS_SCALE = 0.2
# And at least BIAS_FLOOR / sqrt(C n): the proximal term (b - b_c)^2 / (2 s^2) is, in
# linfit's units, (b - b_c)^2 reg / s^2 against a data term of curvature ~1 in b, so where
# reg is large for the rows' scale (rows of norm 0.03 at reg 1e-3: s = 0.007) each round
# moved the bias by little. The whole fit's epochs on those rows (unweighted and weighted,
# gtol 1e-6 and 1e-9; floor 0, 0.5, 1, 2): hinge 74-319, 79-232, 29-308, 209-1,280;
# squared hinge 336-487, 44-64, 22-37, 17-28. Rows of norm 0.35 and up, and the rcv1-like
# data (s = 0.2 against 0.0022), keep 0.2 times their norm.
BIAS_FLOOR = 0.5


def check_dual_model(model: LinearModel) -> None:
    """Refuse, before any work, what dual coordinate descent does not solve."""
    if not (isinstance(model, LinearSVM) and model.one_vs_rest):
        raise CapabilityError(
            f"dcd solves the linear SVMs (one-vs-rest and Weston-Watkins), not "
            f"{model.describe()}; use tron or lbfgs"
        )
    check_penalty(model)


def check_penalty(model: LinearSVM) -> None:
    """Refuse an SVM without penalty: both dual solvers' C is 1/(2 reg n)."""
    if not model.reg > 0:
        raise CapabilityError("dcd needs a penalty (`reg` > 0): its dual has C = 1/(2 reg n)")


def compiled_rows(X: Any) -> Any:
    """``X`` as the CSR matrix the compiled loop reads: float64 values, int32 column indices,
    int64 row pointers (shares ``X``'s arrays where they already are so; a dense ``X`` is
    converted, its zeros dropped)."""
    import scipy.sparse as sp

    if (
        sp.isspmatrix_csr(X) and X.dtype == np.float64 and X.indices.dtype == np.int32
        and X.indptr.dtype == np.int64
    ):  # fmt: skip
        return X
    X = sp.csr_matrix(X, dtype=np.float64)  # a new matrix object: X's own stays as it was
    X.indices = X.indices.astype(np.int32, copy=False)
    X.indptr = X.indptr.astype(np.int64, copy=False)
    return X


def product_rows(X: Any) -> Any:
    """The compiled loop's CSR ``X`` with one index type for scipy's products: its int64 row
    pointers as int32 where the values fit (the arrays shared otherwise). Mixed, scipy
    copies the 15.6 M column indices of the rcv1-like rows to int64 on every product
    (measured: 0.59 s a product on a loaded machine, against 0.03 s)."""
    import scipy.sparse as sp

    if X.indptr.dtype == X.indices.dtype or X.nnz >= 2**31:
        return X
    indptr = X.indptr.astype(X.indices.dtype)
    return sp.csr_matrix((X.data, X.indices, indptr), shape=X.shape, copy=False)


def dual_box(
    C: float, squared: bool, weights: np.ndarray | None
) -> tuple[float, float, np.ndarray | None, np.ndarray | None]:
    """The dual's box and diagonal term for cost ``C``: ``(upper, diag, upper_each,
    diag_each)``, the last two (n,) for row multipliers ``weights`` (n,) (sample i's cost
    ``C u_i``), None unweighted. A row of weight 0 gets bound 0 (the kernels skip it) and
    diagonal 0 (a placeholder: 1/(2 C 0) is never formed)."""
    upper, diag = (math.inf, 0.5 / C) if squared else (C, 0.0)
    if weights is None:
        return upper, diag, None, None
    u = np.asarray(weights, dtype=np.float64)
    live = u > 0.0
    if squared:
        # (0.5 / C) / u_i: exactly the scalar diag where u_i = 1
        diag_each = np.divide(diag, u, out=np.zeros(u.shape), where=live)
        return upper, diag, np.where(live, math.inf, 0.0), diag_each
    return upper, diag, C * u, np.zeros(u.shape)


def rows_rms(X: Any) -> float:
    """The root mean square norm ``sqrt(mean_i |x_i|^2)`` of the rows of ``X`` (n, d) (CSR),
    1 for rows all zero or none: the scale both dual solvers' constant feature follows (this
    module's and dual_ww's ``bias_feature``), so that their iterates are the same at any
    scale of ``X``."""
    n = X.shape[0]
    mean_square = float(np.dot(X.data, X.data)) / n if n else 0.0
    return math.sqrt(mean_square) if mean_square > 0.0 else 1.0


def bias_feature(X: Any, C: float) -> float:
    """The constant feature's value for ``X`` (n, d) (CSR) and the dual's cost ``C``:
    ``BIAS_SCALE`` times the rows' root mean square norm (:func:`rows_rms`); at least
    ``BIAS_FLOOR / sqrt(C n)``, where the bias's proximal term outweighed the data's
    curvature in it (see BIAS_FLOOR)."""
    n = X.shape[0]
    value = BIAS_SCALE * rows_rms(X)
    return max(value, BIAS_FLOOR / math.sqrt(C * n)) if n else value


def _svm_dual(
    X: Any, t: np.ndarray, margin: np.ndarray, alpha: np.ndarray, w: np.ndarray, wb: float,
    *, bias_scale: float, box: tuple[float, float, np.ndarray | None, np.ndarray | None],
    eps: float, max_epochs: int, seed: int, move_centre: bool,
) -> tuple[int, float, bool, float]:  # fmt: skip
    """One binary dual to ``eps`` from ``alpha`` (n,), ``w`` (d,) and ``wb`` (both
    ``sum_i t_i alpha_i [x_i, bias_scale]``), updated in place, in the ``box`` of
    :func:`dual_box`, the bias's proximal steps inside when ``move_centre``; ``(epochs,
    wb, converged, shift)``, ``shift`` the centre's move."""
    upper, diag, upper_each, diag_each = box
    args = (X, t, margin, alpha, w, wb, bias_scale, upper, diag, eps, max_epochs, seed)
    if _dualcd is None:
        return svm_dual_python(*args, upper_each, diag_each, move_centre)
    epochs, wb, converged, shift = _dualcd.svm_dual(
        X.indptr, X.indices, X.data, t, margin, alpha, w, X.shape[0], X.shape[1], bias_scale,
        upper, diag, eps, max_epochs, seed & (2**64 - 1), wb, upper_each, diag_each,
        move_centre,
    )  # fmt: skip
    return epochs, wb, bool(converged), shift


def hinge_gap(
    X: Any, t: np.ndarray, alpha: np.ndarray, w: np.ndarray, b: float, *, margin: float,
    upper: float, weights: np.ndarray | None = None, intercept: bool = True,
) -> tuple[float, float]:  # fmt: skip
    """``(gap, loss)``: a bound on ``f - f*`` for linfit's binary hinge at ``(w, b)``, from
    the dual at ``alpha`` (n,), ``w`` (d,) = sum_i t_i alpha_i x_i, each ``alpha_i`` in
    ``[0, upper u_i]`` (``weights`` u (n,), None: all 1), ``upper`` = C; and ``loss``, the
    hinge's mean ``u_i max(0, -G_i)`` at ``(w, b)``, linfit's data term, read off the same
    pass (``X @ w``).

    With ``G_i = t_i (w.x_i + b) - margin``, the primal (LIBLINEAR's units) less the dual
    ``D(a) = margin sum a - |sum t a x|^2 / 2`` is at ``alpha``

        P(w, b) - D(alpha) = sum_i [alpha_i max(G_i, 0) + (C u_i - alpha_i) max(-G_i, 0)]
                             - b v,     v = sum_i t_i alpha_i,

    but ``D`` bounds ``P*`` from below only where ``v = 0`` (the unpenalized bias's
    constraint): the proximal rounds leave ``v`` off 0, and a gap without it certified the
    weights for the bias found, not the bias (rows of norm 0.01: "converged" at f 1.96
    where the optimum is 0.49). So the gap is taken against ``alpha' = alpha - delta``
    moved to ``sum_i t_i alpha'_i = 0`` within the box (:func:`_feasible_cost`), where

        P(w, b) - D(alpha') = sum_i [terms above] + sum_i c_i |delta_i| + |X^T (t delta)|^2 / 2

    (``b`` cancels; ``c_i`` is ``-G_i`` for a lowered ``alpha_i``, ``G_i`` for a raised one),
    at least P - P* as ``alpha'`` is feasible; linfit's objective is P / (C n), so ``f - f*
    <=`` this over C n for linfit's own problem, whatever the bias (measured on 300 rows at
    scales 0.01 to 100: within 2x of f - f* from 1e-3 down). Without ``intercept`` there is
    no constraint (``delta = 0``)."""
    G = t * (X @ w + b) - margin
    u = None if weights is None else np.asarray(weights, dtype=np.float64)
    ceiling = upper if u is None else upper * u
    hinge = np.maximum(-G, 0.0)
    total = float(np.sum(alpha * np.maximum(G, 0.0) + (ceiling - alpha) * hinge))
    v = float(t @ alpha) if intercept else 0.0
    if v != 0.0:
        total += _feasible_cost(X, t, alpha, G, ceiling, v)
    n = G.shape[0]
    loss = float(np.mean(hinge if u is None else u * hinge))
    return total / (upper * n), loss


def _feasible_cost(
    X: Any, t: np.ndarray, alpha: np.ndarray, G: np.ndarray, ceiling: Any, v: float
) -> float:
    """What making the hinge's dual feasible adds to its gap (:func:`hinge_gap`): the least
    ``sum_i c_i delta_i`` over moves ``delta_i >= 0`` that take ``sum_i t_i alpha_i = v`` to 0
    within the box, each unit lowering an ``alpha_i`` of ``t_i = sign v`` (cost ``c_i =
    -G_i``, at most ``alpha_i``) or raising one of the other side (``c_i = G_i``, at most
    ``C u_i - alpha_i``), cheapest first, plus ``|X^T (t change)|^2 / 2`` for the moves
    taken (the dual's quadratic). Free variables (``G_i`` ~ 0) cost least."""
    s = math.copysign(1.0, v)
    ceiling = np.broadcast_to(ceiling, alpha.shape)
    lower = np.flatnonzero((t == s) & (alpha > 0.0))
    raise_ = np.flatnonzero((t != s) & (alpha < ceiling))
    rows = np.concatenate([lower, raise_])
    cost = np.concatenate([-G[lower], G[raise_]])
    room = np.concatenate([alpha[lower], ceiling[raise_] - alpha[raise_]])
    order = np.argsort(cost, kind="stable")
    rows, cost, room = rows[order], cost[order], room[order]
    before = np.cumsum(room) - room  # what the cheaper ones gave
    delta = np.clip(abs(v) - before, 0.0, room)
    taken = delta > 0.0
    # each move lowers sum t alpha by s delta: the change in sum_i t_i alpha_i x_i
    z = X[rows[taken]].T @ delta[taken]
    return float(cost[taken] @ delta[taken]) + 0.5 * float(z @ z)


def solve_binary(
    X: Any, t: np.ndarray, *, C: float, margin: float, squared: bool, intercept: bool,
    eps: float, max_epochs: int, seed: int, state: dict[str, Any] | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, float, int, dict[str, Any]]:  # fmt: skip
    """The binary SVM ``1/2 |w|^2 + C sum_i u_i h(margin - t_i (w.x_i + b))`` for labels
    ``t`` (n,) of +-1 and row multipliers ``weights`` u (n,) (None: all 1), its bias
    unpenalized (or zero without ``intercept``), to the dual tolerance ``eps``: ``(w (d,),
    b, epochs so far, state)``; pass ``state`` back to continue warm (``max_epochs`` bounds
    the epochs over all the calls on one state). ``state["converged"]`` says whether the
    dual test held with the bias settled (its last round's move ``bias_scale wb`` within
    ``eps``); ``state["bias_scale"]`` is the constant feature's value (:func:`bias_feature`)."""
    X = compiled_rows(X)
    n, d = X.shape
    if state is None:
        state = {"alpha": np.zeros(n), "w": np.zeros(d), "wb": 0.0, "b": 0.0, "epochs": 0,
                 "bias_scale": bias_feature(X, C) if intercept else 0.0}  # fmt: skip
    alpha, w = state["alpha"], state["w"]
    box = dual_box(C, squared, weights)
    bias_scale = state["bias_scale"]
    epochs = state["epochs"]  # over every call on this state: max_epochs bounds them all
    # the bias found so far enters as shifted margins; the kernel's proximal steps move the
    # centre on from there (shift), and the constant feature's weight wb = bias_scale sum t
    # alpha is the last one's correction
    shifted = margin - t * state["b"]
    ran, wb, converged, shift = _svm_dual(
        X, t, shifted, alpha, w, state["wb"], bias_scale=bias_scale, box=box, eps=eps,
        max_epochs=max_epochs - epochs, seed=seed + epochs, move_centre=intercept,
    )  # fmt: skip
    epochs += ran
    state["wb"] = wb
    state["b"] += shift + bias_scale * wb  # the next call's centre: the last proximal step
    # converged: the projected gradients' spread within eps and, with intercept, the bias's
    # last move too (its effect on every G_i is t_i times the move)
    state["converged"] = converged
    state["epochs"] = epochs
    return w.copy(), state["b"], epochs, state


def dual_cd(
    model: LinearSVM, X: Any, y: np.ndarray, objective_fun: Any, *, gtol: float, ftol: float,
    max_iter: int, seed: int, weights: np.ndarray | None = None,
) -> OptimizeResult:  # fmt: skip
    """Dual coordinate descent on every class of the one-vs-rest SVM ``model``, on ``X``
    (n, d) CSR and class codes ``y`` (n,), rows weighed by the engine's multipliers
    ``weights`` (n,) of mean 1 (None: unweighted); ``max_iter`` bounds the epochs per class.
    ``objective_fun`` is the engine's ``params -> (f, g)`` that reports the answer (weighted
    as the engine weighs it). ``ftol`` is not used: the tests are on ``gtol``."""
    check_dual_model(model)
    X = compiled_rows(X)
    rows = product_rows(X)  # for the hinge's own pass
    n, d = X.shape
    K = model.n_outputs(y)
    C = 1.0 / (2.0 * model.reg * n)
    squared = model.variant == "squared_hinge"
    intercept = model.fit_intercept
    # binary: the two one-vs-rest problems are one another's mirror image, solved once
    solved = [1] if K == 2 else list(range(K))
    states: dict[int, dict[str, Any] | None] = dict.fromkeys(solved)
    W, b = np.zeros((d, K)), np.zeros(K)
    gaps, losses = dict.fromkeys(solved, 0.0), dict.fromkeys(solved, 0.0)

    def one_class(k: int, eps: float) -> int:
        """Class k's binary dual to ``eps``, warm from its state, and the hinge's gap and
        loss at it (on the class's thread: scipy's product releases the GIL too); its
        epochs so far."""
        t = np.where(y == k, 1.0, -1.0)
        W[:, k], b[k], ran, states[k] = solve_binary(
            X, t, C=C, margin=model.margin, squared=squared, intercept=intercept,
            eps=eps, max_epochs=max_iter, seed=seed + 7919 * k, state=states[k],
            weights=weights,
        )  # fmt: skip
        if not squared:
            gaps[k], losses[k] = hinge_gap(
                rows, t, states[k]["alpha"], W[:, k], b[k], margin=model.margin, upper=C,
                weights=weights, intercept=intercept,
            )  # fmt: skip
        return ran

    def solve(eps: float) -> tuple[np.ndarray, int, bool]:
        # the classes' duals are independent and the compiled loop releases the GIL: they
        # run on the cores' threads, each in its own column of W, results in class order
        epochs = max(map_classes(lambda k: one_class(k, eps), solved))
        if K == 2:
            W[:, 0], b[0] = -W[:, 1], -b[1]
        converged = all(states[k]["converged"] for k in solved)
        return model.pack(W, b), epochs, converged

    def hinge_test() -> tuple[float, float]:
        # the gap and f, summed over the classes (the binary problem counts twice, in
        # its two mirrored columns)
        mirrored = 2.0 if K == 2 else 1.0
        gap = mirrored * sum(gaps[k] for k in solved)
        return gap, mirrored * sum(losses[k] for k in solved) + model.penalty(W)

    return tightened(
        solve, None if squared else hinge_test, objective_fun, gtol=gtol, max_iter=max_iter
    )


def tightened(
    solve: Callable[[float], tuple[np.ndarray, int, bool]],
    hinge_test: Callable[[], tuple[float, float]] | None, objective_fun: Any, *,
    gtol: float, max_iter: int, safety: float = SAFETY, min_cut: float = MIN_CUT,
) -> OptimizeResult:  # fmt: skip
    """The dual tolerance's loop of both dcd solvers (this module's docstring says why):
    ``solve(eps) -> (params, epochs, converged)`` continues the dual warm to the tolerance
    ``eps``, from FIRST_EPS, each next one from :func:`_next_eps` (``safety``) until the test
    holds. The squared hinge's (``hinge_test`` None) is the primal gradient's on a pass of
    ``objective_fun``, ``params -> (f, g)``, after each call; the hinge's is its certificate's,
    ``hinge_test() -> (gap, f)`` at the last call's point, with the dual's test held, and
    ``objective_fun`` runs once, at the end, for what is reported."""
    eps = FIRST_EPS  # loose while the bias is far off, tightened warm
    evaluations = 0
    while True:
        params, epochs, converged = solve(eps)
        if hinge_test is None:
            f, g = objective_fun(params)
            evaluations += 1
            measure = float(np.max(np.abs(g))) if g.size else 0.0
        else:
            measure, f = hinge_test()
        target = gtol * max(1.0, abs(f))
        status = None
        if hinge_test is None and measure <= target:
            status = Status.GTOL
        elif hinge_test is not None and converged and measure <= target:
            status = Status.PROJECTED_GRADIENT
        elif epochs >= max_iter:
            status = Status.MAX_ITER
        elif eps < 1e-15:  # the dual is solved to rounding: the test cannot hold
            status = Status.FTOL
        if status is not None:
            break
        eps = _next_eps(eps, measure, target, safety, min_cut)
    if hinge_test is not None:
        f, g = objective_fun(params)
        evaluations += 1
    return OptimizeResult(
        x=params, fun=f, jac=g, nit=epochs, nfev=evaluations, njev=evaluations, status=status,
        method="dcd",
    )  # fmt: skip


def _next_eps(
    eps: float, measure: float, target: float, safety: float = SAFETY, min_cut: float = MIN_CUT
) -> float:
    """The dual tolerance of the next call: ``eps`` cut in proportion to how far the test's
    ``measure`` (the squared hinge's max |g|, the hinge's gap) is from its ``target``
    (times ``safety``: see SAFETY), by a factor between ``min_cut`` (MIN_CUT) and MAX_CUT.
    A fixed tenfold ladder ran a call and an objective pass per decade, past the test where
    a decade overshoots (measured on the rcv1-like data at gtol 1e-6: the squared hinge's 64
    epochs and 5 passes became 64 and 3, tolerances 0.1, 7e-4, 1e-5; the hinge's, on the
    projected gradients' bound (its stop then), 0.1 then 1e-4: 297 epochs and 2 passes,
    where the spread test's ladder to 1e-7 ran 640 and 7)."""
    if not measure > 0.0:  # no distance left (the dual's own test fell short): the least cut
        return eps * min_cut
    return eps * min(max(safety * target / measure, MAX_CUT), min_cut)


def map_classes(fn: Any, classes: list[int]) -> list[Any]:
    """``[fn(k) for k in classes]``, on as many threads as there are cores (and classes)
    when the compiled loop runs, which releases the GIL; in order either way."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(len(classes), cores or 1)
    if _dualcd is None or workers < 2:
        return [fn(k) for k in classes]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, classes))
