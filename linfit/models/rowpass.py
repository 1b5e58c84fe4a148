"""The softmax and hinge losses on a block's scores (n, K) in fused per-row passes
(``_rowpass.c``): one walk over the scores where numpy takes a dozen, with the GIL released,
so the blocks ``map_blocks`` runs on two threads do their elementwise work side by side.

Measured on 120,000 rows of 20 features (the bench's ``floor_across_shapes``): numpy's passes
took more CPU time than the block's product X_b @ W at 8 classes (363 against 301 us a
26,214-row block), and twice as much on two threads as on one (1.98 against 0.93 ms
summed over the blocks at 2 classes): each short call holds the GIL.

Each function returns what ``_loss_grad_scores`` returns, or None when the kernel does
not take the scores (no compiler, or, for softmax, scores spanning more than
``softmax.SAFE_RANGE``, which need a shift per row); the caller then runs its numpy
passes, which are the reference the kernel is tested against (tests/test_rowpass.py).
float32 scores go through the kernel as a float64 copy.
"""

from __future__ import annotations

import numpy as np

from linfit.models.blocks import weighted_mean

try:
    from linfit.models import _rowpass  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler
    _rowpass = None


# softmax's exp in the kernel, with the sums and the scaling while each chunk of rows is in
# cache, where the kernel has vectorized it wide (x86-64 Linux); else numpy's exp, a pass
# of its own. Measured on 120,000 rows at two threads, paired rounds: 0.94-0.97x the
# evaluation's time at 20 features x 2, 8 and 50 classes, 0.985x at 60 x 8.
FUSED_EXP = bool(getattr(_rowpass, "WIDE_EXP", 0))
# the kernel's exp holds for arguments in [-1022 ln 2, 1023 ln 2]: the shifted scores lie in
# [-safe_range, safe_range / 2], so it takes a safe_range up to this
EXP_RANGE = 708.0


def takes(S: np.ndarray) -> bool:
    """Whether the kernel reads ``S`` as it is: float64, C-ordered, two axes."""
    return _rowpass is not None and S.dtype == np.float64 and S.ndim == 2 and S.flags.c_contiguous


def _float64(S: np.ndarray) -> np.ndarray:
    """float32 scores as a float64 copy the kernel takes (one pass, where numpy's passes over
    float32 scores are a dozen); any other ``S`` as it is."""
    return S.astype(np.float64) if _rowpass is not None and S.dtype == np.float32 else S


def _weights(weights: np.ndarray | None) -> np.ndarray | bytes:
    return b"" if weights is None else np.ascontiguousarray(weights, dtype=np.float64)


def softmax(
    S: np.ndarray,
    y: np.ndarray,
    need_grad: bool,
    weights: np.ndarray | None,
    safe_range: float,
) -> tuple[float, np.ndarray | None] | None:
    """Softmax's mean loss and gradient in the scores on ``S`` (n, K), overwritten by the
    gradient; ``y`` (n,) codes, ``weights`` (n,) or None. None (``S`` untouched) unless
    ``takes(S)`` and the scores span less than ``safe_range``; float32 scores are taken as
    a float64 copy, which holds the gradient (``S`` is then left as it was).

    The shift that keeps exp finite is skipped when every score lies within half of
    ``safe_range`` of 0: exp can neither overflow nor leave a row's sum subnormal there,
    and the subtraction is a pass over ``S``."""
    S = _float64(S)
    if not takes(S) or S.size == 0:
        return None
    n, K = S.shape
    codes = np.ascontiguousarray(y, dtype=np.int64)
    correct = np.empty(n)
    low, high = _rowpass.softmax_prepare(S, codes, K, correct)
    if not high - low < safe_range:  # also for infinite extremes
        return None
    shift = 0.0 if -safe_range / 2 < low and high < safe_range / 2 else high
    correct -= shift  # lse - s_y does not depend on the shift
    fused_exp = FUSED_EXP and safe_range <= EXP_RANGE
    if not fused_exp:  # numpy's exp, the faster where the kernel's is not vectorized wide
        if shift:
            S -= shift
        np.exp(S, out=S)
    sums = np.empty(n)
    _rowpass.softmax(S, codes, _weights(weights), K, shift, float(n), need_grad, fused_exp, sums)
    losses = np.log(sums, out=sums)
    loss = weighted_mean(np.subtract(losses, correct, out=losses), weights)
    return loss, (S if need_grad else None)


def hinge(
    S: np.ndarray,
    y: np.ndarray,
    need_grad: bool,
    weights: np.ndarray | None,
    margin: float,
    squared: bool,
    one_vs_rest: bool,
) -> tuple[float, np.ndarray | None] | None:
    """The (squared) hinge's mean loss, Weston-Watkins or one-vs-rest (``svm.LinearSVM``),
    and its gradient in the scores on ``S`` (n, K), overwritten by the gradient (float32
    scores: a float64 copy holds it); None (``S`` untouched) unless ``takes(S)``."""
    S = _float64(S)
    if not takes(S):
        return None
    n, K = S.shape
    codes = np.ascontiguousarray(y, dtype=np.int64)
    losses = np.empty(n)
    _rowpass.hinge(
        S, codes, _weights(weights), K, float(n), margin, squared, one_vs_rest, need_grad, losses
    )
    return weighted_mean(losses, weights), (S if need_grad else None)
