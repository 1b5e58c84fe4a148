"""The compiled per-row loss passes (linfit/models/rowpass.py, _rowpass.c) against the
models' numpy passes, which they replace on float64 scores.

Tolerances: the kernels do each cell's arithmetic as numpy does, in the same order; only
sums over a row (BLAS's order in numpy, column order in C) and the kernel's exp (an ulp)
round apart. A sum of K terms in another order is apart by at most (K - 1) eps relative,
1.1e-14 at the 50 classes tested, so losses and gradients agree to 2e-14 of their
magnitude (measured: 1.35e-15, 6 eps, at most). The fused gradients match central
differences to 1e-8: at h = 1e-6 the differences' rounding, eps |f| / h, is ~1e-9 for
these losses of a few units (measured: 8.6e-10 at most), their truncation ~h^2 below it.
"""

from __future__ import annotations

import numpy as np
import pytest

from linfit.models import LinearSVM, SoftmaxClassifier, rowpass
from linfit.models.softmax import SAFE_RANGE

pytestmark = pytest.mark.skipif(rowpass._rowpass is None, reason="built without a C compiler")

MODELS = [
    SoftmaxClassifier(reg=1e-3),
    *(
        LinearSVM(reg=1e-3, variant=variant, multiclass=form, margin=margin)
        for variant in ("hinge", "squared_hinge")
        for form in ("weston-watkins", "one-vs-rest")
        for margin in (1.0, 0.5)
    ),
]
IDS = [model.describe() + (f" margin {model.margin}" if hasattr(model, "margin") else "")
       for model in MODELS]  # fmt: skip


@pytest.fixture
def plain(monkeypatch):
    """Runs a callable with the kernel switched off: the models' numpy passes."""

    def run(fn, *args):
        with monkeypatch.context() as patch:
            patch.setattr(rowpass, "_rowpass", None)
            return fn(*args)

    return run


def close(a: float | np.ndarray, b: float | np.ndarray, rtol: float = 2e-14) -> bool:
    """Equal to ``rtol`` of the larger magnitude (NaN equal to NaN, infinities exactly)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return False
    finite = np.isfinite(a)
    if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
        return False
    scale = max(np.abs(a[finite]).max(initial=0.0), np.abs(b[finite]).max(initial=0.0), 1e-300)
    return bool(np.abs(a[finite] - b[finite]).max(initial=0.0) <= rtol * scale)


def scores(rng, n: int, K: int, spread: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    S = rng.standard_normal((n, K)) * spread
    return S, rng.integers(0, K, n)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@pytest.mark.parametrize("n", [1, 3, 4, 7, 257, 1000])  # tails of the kernels' row groups
@pytest.mark.parametrize("K", [2, 3, 8])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_equals_numpy(model, n, K, weighted, plain):
    rng = np.random.default_rng(n * 100 + K)
    S, y = scores(rng, n, K)
    w = rng.random(n) * 2 if weighted else None
    loss, G = model._loss_grad_scores(S.copy(), y, True, w)
    plain_loss, plain_G = plain(model._loss_grad_scores, S.copy(), y, True, w)
    assert close(loss, plain_loss) and close(G, plain_G)
    assert model._loss_grad_scores(S.copy(), y, False, w) == (loss, None)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_kernel_takes_every_score(model, plain):
    """Scores that put every hinge term on either side of its kink, exact zeros among
    them, and softmax's scores far from 0 (the shifted exp)."""
    rng = np.random.default_rng(5)
    S = rng.integers(-3, 4, (500, 6)).astype(float) * 0.5  # many at the kinks exactly
    y = rng.integers(0, 6, 500)
    for shift in (0.0, 450.0, -450.0):
        got = model._loss_grad_scores(S + shift, y, True)
        want = plain(model._loss_grad_scores, S + shift, y, True)
        assert close(got[0], want[0]) and close(got[1], want[1])


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_non_finite_scores(model, plain):
    """NaN and infinite scores give what numpy's passes give: NaN rows stay NaN, and the
    Weston-Watkins row whose true class scores -inf (the kernel's branch) infinite."""
    rng = np.random.default_rng(6)
    S, y = scores(rng, 9, 4)
    S[1, 2] = np.nan
    S[5, y[5]] = -np.inf
    S[7, (y[7] + 1) % 4] = np.inf
    with np.errstate(all="ignore"):
        got = model._loss_grad_scores(S.copy(), y, True)
        want = plain(model._loss_grad_scores, S.copy(), y, True)
    assert close(got[0], want[0]) and close(got[1], want[1])


@pytest.mark.parametrize("fused_exp", [False, True])
@pytest.mark.parametrize("shift", [0.0, 450.0])
def test_softmax_exp_paths(fused_exp, shift, plain, monkeypatch):
    """The exp in the kernel (FUSED_EXP, where it is built wide) and numpy's exp before the
    kernel's sums both equal numpy's passes, shifted or not."""
    if fused_exp and not rowpass._rowpass.WIDE_EXP:
        pytest.skip("the kernel's exp is used only where vectorized wide")
    monkeypatch.setattr(rowpass, "FUSED_EXP", fused_exp)
    rng = np.random.default_rng(9)
    model = SoftmaxClassifier()
    for n, K in ((1, 2), (255, 3), (1000, 8), (300, 50)):
        S, y = scores(rng, n, K, spread=4.0)
        w = rng.random(n)
        for weights in (None, w):
            got = model._loss_grad_scores(S + shift, y, True, weights)
            want = plain(model._loss_grad_scores, S + shift, y, True, weights)
            assert close(got[0], want[0]) and close(got[1], want[1])


def test_kernel_exp_within_an_ulp():
    """The kernel's exp over softmax's whole range of shifted scores, [-600, 300], against
    numpy's: apart by at most an ulp, eps times the value (measured: 1 ulp at most, 92% equal)."""
    rng = np.random.default_rng(10)
    t = np.concatenate([rng.uniform(-600, 300, 200_000), np.linspace(-1, 1, 20_001), [-600, 300]])
    S = t[:, None].copy()
    codes, sums = np.zeros(t.size, np.int64), np.empty(t.size)
    rowpass._rowpass.softmax(S, codes, b"", 1, 0.0, 1.0, False, True, sums)
    exact = np.exp(t)
    assert np.all(np.abs(S[:, 0] - exact) <= np.finfo(float).eps * exact)
    assert np.array_equal(sums, S[:, 0])


def test_softmax_wide_scores_take_numpy():
    """Scores spanning more than SAFE_RANGE need a shift per row: the kernel declines and
    leaves S as it was."""
    S = np.array([[0.0, 2 * SAFE_RANGE], [1.0, 2.0]])
    before = S.copy()
    assert rowpass.softmax(S, np.array([0, 1]), True, None, SAFE_RANGE) is None
    assert np.array_equal(S, before)
    loss, G = SoftmaxClassifier()._loss_grad_scores(S, np.array([0, 1]), True)
    assert np.isfinite(loss) and np.isfinite(G).all()


def test_kernel_takes_float32_scores_as_float64_and_checks_codes():
    """float32 scores go through the kernel as a float64 copy (exact), so they give the
    float64 scores' loss and gradient bit for bit, and leave the float32 array as it was;
    class codes outside [0, K) are a ValueError."""
    rng = np.random.default_rng(8)
    S32, codes = rng.standard_normal((40, 3)).astype(np.float32), rng.integers(0, 3, 40)
    before = S32.copy()
    for run in (
        lambda S: rowpass.hinge(S, codes, True, None, 1.0, True, False),
        lambda S: rowpass.softmax(S, codes, True, None, SAFE_RANGE),
    ):
        loss32, G32 = run(S32)
        loss64, G64 = run(S32.astype(np.float64))
        assert loss32 == loss64 and G32.dtype == np.float64 and np.array_equal(G32, G64)
        assert np.array_equal(S32, before)
    S = np.zeros((4, 3))
    for bad in (np.array([0, 1, 3, 0]), np.array([0, -1, 2, 0])):
        with pytest.raises(ValueError, match="outside"):
            rowpass.hinge(S.copy(), bad, True, None, 1.0, True, False)
        with pytest.raises(ValueError, match="outside"):
            rowpass.softmax(S.copy(), bad, True, None, SAFE_RANGE)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_loss_gradient_through_blocks(model, plain):
    """The whole evaluation (blocks over two threads, where BLAS has them) equals numpy's
    passes, and gives the same bits on every call."""
    rng = np.random.default_rng(7)
    n, d, K = 30_000, 5, 4  # several blocks: row_blocks cuts 4 MB of X
    X = rng.standard_normal((n, d))
    y = rng.integers(0, K, n)
    w = rng.random(n) + 0.5
    params = rng.standard_normal((d + 1) * K)
    for weights in (None, w):
        fun, grad = model.loss_gradient(params, X, y, weights)
        plain_fun, plain_grad = plain(model.loss_gradient, params, X, y, weights)
        assert close(fun, plain_fun) and close(grad, plain_grad)
        again = model.loss_gradient(params, X, y, weights)
        assert again[0] == fun and np.array_equal(again[1], grad)
        assert close(model.loss(params, X, y, weights), fun)


@pytest.mark.parametrize(
    "model",
    [
        SoftmaxClassifier(reg=1e-3),
        LinearSVM(reg=1e-3, variant="squared_hinge"),
        LinearSVM(reg=1e-3, variant="squared_hinge", multiclass="one-vs-rest"),
    ],
    ids=lambda model: model.describe(),
)
def test_fused_gradient_matches_differences(model):
    """The kernels' gradient against central differences of their own loss (the squared
    hinge is differentiable; the plain hinge's kinks are gradcheck's business)."""
    rng = np.random.default_rng(8)
    n, d, K = 200, 4, 5
    X = rng.standard_normal((n, d))
    y = rng.integers(0, K, n)
    w = rng.random(n) + 0.5
    params = rng.standard_normal((d + 1) * K) * 0.5
    steps = np.eye(params.size) * 1e-6
    for weights in (None, w):
        _, grad = model.loss_gradient(params, X, y, weights)
        ups = np.array([model.loss(params + e, X, y, weights) for e in steps])
        downs = np.array([model.loss(params - e, X, y, weights) for e in steps])
        numeric = (ups - downs) / 2e-6
        assert np.abs(grad - numeric).max() <= 1e-8 * max(1.0, np.abs(grad).max())


def test_softmax_kernel_checks_codes_where_it_reads_them():
    """The kernel's softmax reads the codes for the gradient only: there a code outside
    [0, K) is a ValueError before any cell is written; the loss alone does not read them
    (rowpass.softmax has checked them in softmax_prepare), giving the same sums."""
    rng = np.random.default_rng(11)
    S, good = scores(rng, 300, 3)
    bad = good.copy()
    bad[257] = 3  # in the second chunk of rows
    for grad in (False, True):
        want, got = np.empty(300), np.empty(300)
        S_good, S_bad = S.copy(), S.copy()
        rowpass._rowpass.softmax(S_good, good, b"", 3, 0.0, 300.0, grad, True, want)
        if grad:
            with pytest.raises(ValueError, match="outside"):
                rowpass._rowpass.softmax(S_bad, bad, b"", 3, 0.0, 300.0, grad, True, got)
            assert np.array_equal(S_bad, S)
        else:
            rowpass._rowpass.softmax(S_bad, bad, b"", 3, 0.0, 300.0, grad, True, got)
            assert np.array_equal(got, want) and np.array_equal(S_bad, S_good)
