"""The compiled products with CSR rows (``linfit/linalg/_sparse.c``, ``sparse.py``) fuzzed
against scipy's and numpy's, and the models' Hessian products through them equal to the
general path's (which a build without a compiler takes)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from linfit.linalg import blocks
from linfit.linalg import sparse as lsp
from linfit.models import LeastSquares, LinearSVM, ReLURegressor, SoftmaxClassifier
from linfit.models.mirrored import Mirrored

needs_kernel = pytest.mark.skipif(lsp._sparse is None, reason="built without a C compiler")
# Sums of at most ~250 terms (rows, then features) in another order than numpy's or
# scipy's, or summed by parts: at most 250 eps ~ 5.6e-14 of the sum of the terms' absolute
# values; measured 2.9e-16 over 300 random cases
REORDERED = 5e-14
# the models' products through the kernel against the general path's and the dense data's:
# measured 7.9e-16 of the largest entry (softmax, one-vs-rest, Weston-Watkins, one column)
SAME_PRODUCT = 1e-14


def _split(patch, X, parts):
    """Make ``lsp.kernel_parts`` cut ``X`` into ``parts`` blocks (fewer if it has fewer
    stored values)."""
    patch.setattr(lsp, "PART_PER_COLUMN", 0)
    patch.setattr(lsp, "PART_NNZ", max(1, X.nnz // parts))


def _csr(rng, n, d, density, ptr, idx):
    X = sp.random(n, d, density=density, format="csr", random_state=rng, dtype=np.float64)
    X.data = rng.standard_normal(X.nnz)
    X.indptr, X.indices = X.indptr.astype(ptr), X.indices.astype(idx)
    return X


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300), d=st.integers(1, 60), density=st.floats(0.0, 0.6),
    ptr=st.sampled_from([np.int32, np.int64]), idx=st.sampled_from([np.int32, np.int64]),
    zeros=st.floats(0.0, 1.0), seed=st.integers(0, 2**16), parts=st.integers(1, 4),
)  # fmt: skip
def test_squares_times_equals_scipy(n, d, density, ptr, idx, zeros, seed, parts):
    """The preconditioner's (X ** 2).T @ c for any shape, density (empty rows, empty
    matrices), integer widths, c with zeros and split into parts over threads: scipy's
    to 1e-13 (its terms are all of one sign)."""
    rng = np.random.default_rng(seed)
    X = _csr(rng, n, d, density, ptr, idx)
    c = rng.random(n) * (rng.random(n) >= zeros)
    with pytest.MonkeyPatch.context() as patch:
        _split(patch, X, parts)
        squares = lsp.squares_times(X, c)
    want_squares = X.multiply(X).T @ c
    np.testing.assert_allclose(squares, want_squares, rtol=1e-13, atol=1e-300)


def test_sparse_blocks_cover_the_rows_with_even_stored_values(monkeypatch):
    """The kernels' CSR parts: in order, covering every row, stored values even to within
    a row or two, at least PART_NNZ each; one part for another format, and one
    block for the models' passes."""
    X = _csr(np.random.default_rng(0), 1000, 30, 0.2, np.int32, np.int32)
    monkeypatch.setattr(lsp, "PART_PER_COLUMN", 0)
    for parts in (1, 2, 3, 7):
        monkeypatch.setattr(lsp, "PART_NNZ", X.nnz // parts)
        slices = lsp.kernel_parts(X)
        assert len(slices) == parts
        assert slices[0].start == 0 and slices[-1].stop == 1000
        assert all(a.stop == b.start for a, b in itertools.pairwise(slices))
        counts = [X.indptr[s.stop] - X.indptr[s.start] for s in slices]
        assert max(counts) - min(counts) <= 2 * np.diff(X.indptr).max()
    monkeypatch.setattr(lsp, "PART_NNZ", X.nnz + 1)  # too few values to split
    assert lsp.kernel_parts(X) == [slice(0, 1000)]
    assert lsp.kernel_parts(X.tocsc()) == [slice(0, 1000)]
    assert blocks.row_blocks(X) == [slice(0, 1000)]  # the models' passes: one block


@needs_kernel
def test_kernels_refuse_pointers_that_do_not_rise_and_bad_indices():
    """A CSR whose row pointers fall or run past the stored values is refused with
    ValueError, never read out of bounds; a column index outside [0, d), at the start,
    middle or end of the rows, is a ValueError, never a write outside the output. float32
    values and other formats are left to scipy (None)."""
    X = _csr(np.random.default_rng(1), 20, 5, 0.5, np.int64, np.int32)
    a, V, vb, out, empty = np.ones((20, 1)), np.ones((5, 1)), np.zeros(1), np.zeros((6, 1)), b""
    bad = X.indptr.copy()
    bad[5], bad[6] = bad[6] + 3, bad[5]
    beyond = X.indptr.copy()
    beyond[-1] += 10
    for indptr in (bad, beyond):
        with pytest.raises(ValueError, match="indptr"):
            lsp._sparse.curved_product(indptr, X.indices, X.data, a, empty, empty, V, vb, out,
                                       0, 20, 8, 4, 1)  # fmt: skip
    X = _csr(np.random.default_rng(2), 30, 6, 0.5, np.int32, np.int32)
    assert lsp.squares_times(X.tocsc(), np.ones(30)) is None
    for position, index in ((0, 6), (X.nnz // 2, -1), (X.nnz - 1, 2**31 - 1)):
        bad = X.copy()
        bad.indices[position] = index
        with pytest.raises(ValueError, match="column index is out of range"):
            lsp.squares_times(bad, np.ones(30))


OVR_SQUARED = LinearSVM(reg=1e-2, variant="squared_hinge", multiclass="one-vs-rest")
ONE_COLUMN = [
    ("least-squares", LeastSquares(reg=1e-2), "regression"),
    ("relu", ReLURegressor(reg=1e-2), "regression"),
    ("softmax-binary", Mirrored.of(SoftmaxClassifier(reg=1e-2)), "binary"),
    ("ovr-squared", Mirrored.of(OVR_SQUARED), "binary"),
    ("ww-squared", Mirrored.of(LinearSVM(reg=1e-2, variant="squared_hinge")), "binary"),
]


@pytest.mark.parametrize("model,kind", [c[1:] for c in ONE_COLUMN], ids=[c[0] for c in ONE_COLUMN])
@pytest.mark.parametrize("weighted", [False, True])
def test_model_hessian_products_equal_the_general_path(model, kind, weighted, monkeypatch):
    """A one-column model's Hessian products on CSR rows through the kernel equal the
    general path's (the kernel switched off, as without a compiler) and the dense data's
    products to SAME_PRODUCT of the largest entry."""
    rng = np.random.default_rng(3)
    X = _csr(rng, 400, 25, 0.3, np.int32, np.int32)
    y = rng.integers(0, 2, 400) if kind == "binary" else rng.standard_normal(400)
    w = rng.uniform(0.0, 2.0, 400) if weighted else None
    params, v = 0.3 * rng.standard_normal(26), rng.standard_normal(26)
    fast = model.hessian_operator(params, X, y, w)(v)
    monkeypatch.setattr(lsp, "_sparse", None)
    assert lsp.curved_operator(X, np.ones((400, 1)), None, None) is None
    general = model.hessian_operator(params, X, y, w)(v)
    dense = model.hessian_operator(params, X.toarray(), y, w)(v)
    scale = SAME_PRODUCT * np.abs(general).max()
    np.testing.assert_allclose(fast, general, rtol=0, atol=scale)
    np.testing.assert_allclose(fast, dense, rtol=0, atol=scale)


def _curved_numpy(X, a, b, u, V, vb):
    S = X @ V + vb
    R = a * S if b is None else a * S - b * (b * S).sum(axis=1)[:, None]
    if u is not None:
        R *= u[:, None]
    return X.T @ R, R.sum(axis=0)


@needs_kernel
@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 200), d=st.integers(1, 40), K=st.integers(1, 13),
    density=st.floats(0.0, 0.6), ptr=st.sampled_from([np.int32, np.int64]),
    idx=st.sampled_from([np.int32, np.int64]), rank_one=st.booleans(), scaled=st.booleans(),
    seed=st.integers(0, 2**16), parts=st.integers(1, 4),
)  # fmt: skip
def test_curved_kernel_equals_numpy(n, d, K, density, ptr, idx, rank_one, scaled, seed, parts):
    """The K-column product, for K with a fixed loop (2 to 10) and without (1, 11 to 13),
    diagonal or diagonal minus rank one, with row multipliers or not, any shape, density
    and integer widths, split into parts: equal to numpy's X.T @ R and R's column sums to
    REORDERED of the terms' size."""
    rng = np.random.default_rng(seed)
    X = _csr(rng, n, d, density, ptr, idx)
    a = rng.random((n, K)) * (rng.random((n, K)) > 0.2)
    b = rng.random((n, K)) if rank_one else None
    u = rng.uniform(0.0, 2.0, n) if scaled else None
    V, vb = rng.standard_normal((d, K)), rng.standard_normal(K)
    with pytest.MonkeyPatch.context() as patch:
        _split(patch, X, parts)
        product = lsp.curved_operator(X, a, b, u)
    assert product is not None
    got, got_b = product(V, vb)
    want, want_b = _curved_numpy(X, a, b, u, V, vb)
    # the terms' size: the same sums over absolute values
    abs_u = None if u is None else np.abs(u)
    bound, bound_b = _curved_numpy(abs(X), a, b, abs_u, np.abs(V), np.abs(vb))
    if b is not None:  # the rank-one term's size adds, where numpy's subtracts it
        S = abs(X) @ np.abs(V) + np.abs(vb)
        R = b * (b * S).sum(axis=1)[:, None] * (1.0 if u is None else abs_u[:, None])
        bound, bound_b = bound + 2 * (abs(X).T @ R), bound_b + 2 * R.sum(axis=0)
    scale = max(np.abs(bound).max(initial=0.0), np.abs(bound_b).max()) + 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=REORDERED * scale)
    np.testing.assert_allclose(got_b, want_b, rtol=0, atol=REORDERED * scale)


@needs_kernel
def test_curved_kernel_refuses_bad_indices_and_shapes():
    """A column index outside [0, d) is a ValueError wherever it sits; arrays whose shapes
    disagree (out, a, u) are refused before any row is read; float32, CSC and a V of more
    than CURVED_MAX_CELLS (of more than one column) go to scipy."""
    rng = np.random.default_rng(4)
    X = _csr(rng, 30, 6, 0.5, np.int32, np.int32)
    a, V, vb = rng.random((30, 3)), rng.standard_normal((6, 3)), np.zeros(3)
    for position, index in ((0, 6), (X.nnz // 2, -1), (X.nnz - 1, 2**31 - 1)):
        bad = X.copy()
        bad.indices[position] = index
        with pytest.raises(ValueError, match="column index is out of range"):
            lsp.curved_operator(bad, a, a, None)(V, vb)
    empty = np.empty(0)
    for a_, u_, out in (
        (a, empty, np.zeros((6, 3))),  # out without the bias row
        (a[:20], empty, np.zeros((7, 3))),  # a shorter than the rows
        (a, np.ones(10), np.zeros((7, 3))),  # u shorter than the rows
    ):
        with pytest.raises(ValueError, match="do not agree"):
            lsp._sparse.curved_product(X.indptr, X.indices, X.data, a_, empty, u_, V, vb, out,
                                       0, 30, 4, 4, 3)  # fmt: skip
    assert lsp.curved_operator(X.astype(np.float32), a, None, None) is None
    assert lsp.curved_operator(X.tocsc(), a, None, None) is None
    with pytest.MonkeyPatch.context() as patch:  # V (6, 3) past the cells it stays fast for
        patch.setattr(lsp, "CURVED_MAX_CELLS", 17)
        assert lsp.curved_operator(X, a, None, None) is None
        patch.setattr(lsp, "CURVED_MAX_CELLS", 18)
        assert lsp.curved_operator(X, a, None, None) is not None
        patch.setattr(lsp, "CURVED_MAX_CELLS", 1)  # one column: taken at any width
        assert lsp.curved_operator(X, a[:, :1], None, None) is not None


MANY_COLUMNS = [
    ("softmax-3", SoftmaxClassifier(reg=1e-2), 3),
    ("softmax-12", SoftmaxClassifier(reg=1e-2), 12),
    ("ovr-squared-4", OVR_SQUARED, 4),
    ("ww-squared-4", LinearSVM(reg=1e-2, variant="squared_hinge"), 4),  # general path
]


@pytest.mark.parametrize("model,K", [c[1:] for c in MANY_COLUMNS], ids=[c[0] for c in MANY_COLUMNS])
@pytest.mark.parametrize("weighted", [False, True])
def test_many_column_hessian_products_equal_the_general_path(model, K, weighted, monkeypatch):
    """A K-column model's Hessian products on CSR rows (the compiled one-pass product where
    its curvature is diagonal minus rank one) equal the general path's (the kernel off, as
    without a compiler) and the dense data's to SAME_PRODUCT of the largest entry."""
    rng = np.random.default_rng(5)
    X = _csr(rng, 500, 25, 0.3, np.int32, np.int32)
    y = rng.integers(0, K, 500)
    w = rng.uniform(0.0, 2.0, 500) if weighted else None
    params, v = 0.3 * rng.standard_normal(26 * K), rng.standard_normal(26 * K)
    fast = model.hessian_operator(params, X, y, w)(v)
    monkeypatch.setattr(lsp, "_sparse", None)
    general = model.hessian_operator(params, X, y, w)(v)
    dense = model.hessian_operator(params, X.toarray(), y, w)(v)
    scale = SAME_PRODUCT * np.abs(general).max()
    np.testing.assert_allclose(fast, general, rtol=0, atol=scale)
    np.testing.assert_allclose(fast, dense, rtol=0, atol=scale)


def test_kernels_spread_under_linfits_own_blas_limit():
    """Inside ``single_blas_thread`` (fits on CSR rows) the kernels' parts still spread
    over the threads BLAS had before the limit, while BLAS itself runs on one."""
    from threadpoolctl import threadpool_info, threadpool_limits

    if not [lib for lib in threadpool_info() if lib["user_api"] == "blas"]:
        pytest.skip("no BLAS that threadpoolctl controls")
    with threadpool_limits(limits=2, user_api="blas"):
        assert blocks.worker_count() == 2
        with blocks.single_blas_thread():
            assert blocks.worker_count() == 2
            assert max(lib["num_threads"] for lib in blocks.blas_controller().info()) == 1
        assert blocks.worker_count() == 2


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200), d=st.integers(1, 40), K=st.integers(1, 12),
    density=st.floats(0.0, 0.6), ptr=st.sampled_from([np.int32, np.int64]),
    idx=st.sampled_from([np.int32, np.int64]), seed=st.integers(0, 2**16),
    parts=st.integers(1, 4),
)  # fmt: skip
def test_products_equal_scipys(n, d, K, density, ptr, idx, seed, parts):
    """``times`` and ``transposed_times`` (compiled for K up to FIXED_K, scipy's beyond):
    X @ W equal to scipy's bit for bit (the same sums in the same order, each row on one
    thread), X.T @ G to REORDERED of the terms' size (summed by parts), any shape, density,
    widths and split."""
    rng = np.random.default_rng(seed)
    X = _csr(rng, n, d, density, ptr, idx)
    W, G = rng.standard_normal((d, K)), rng.standard_normal((n, K))
    with pytest.MonkeyPatch.context() as patch:
        _split(patch, X, parts)
        patch.setattr(lsp, "TRANSPOSED_PER_COLUMN", 0)
        got, got_t = lsp.times(X, W), lsp.transposed_times(X, G)
    np.testing.assert_array_equal(got, X @ W)
    scale = (abs(X).T @ np.abs(G)).max(initial=0.0) + 1.0
    np.testing.assert_allclose(got_t, X.T @ G, rtol=0, atol=REORDERED * scale)


@needs_kernel
def test_products_refuse_bad_indices_and_short_arrays():
    """A column index outside [0, d) is a ValueError in either product; a factor or an
    output too short for its rows is refused before any row is read."""
    X = _csr(np.random.default_rng(6), 30, 6, 0.5, np.int32, np.int32)
    W, G = np.ones((6, 2)), np.ones((30, 2))
    for position, index in ((0, 6), (X.nnz - 1, -1)):
        bad = X.copy()
        bad.indices[position] = index
        with pytest.raises(ValueError, match="column index is out of range"):
            lsp.times(bad, W)
        with pytest.raises(ValueError, match="column index is out of range"):
            lsp.transposed_times(bad, G)
    with pytest.raises(ValueError, match="too short"):
        lsp._sparse.times(X.indptr, X.indices, X.data, W[:5], np.empty((30, 2)), 0, 30, 4, 4, 6, 2)
    with pytest.raises(ValueError, match="too short"):
        lsp._sparse.transposed_times(X.indptr, X.indices, X.data, G, np.empty((5, 2)), 0, 30,
                                     4, 4, 6, 2)  # fmt: skip
