"""The one-pass Hessian product on CSR rows (``linfit/linalg/_sparse.c``, ``sparse.py``),
fuzzed against scipy's two products, and the models' Hessian products through it equal
to the general path's (which a build without a compiler takes)."""

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


def _scipy_product(X, c, v, vb):
    r = c * (X @ v + vb)
    return X.T @ r, r.sum()


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
def test_kernel_equals_scipy(n, d, density, ptr, idx, zeros, seed, parts):
    """Any shape, density (empty rows, empty matrices), integer widths, curvature with
    zeros and split into parts over threads: equal to scipy's X.T @ (c (X v + vb)) to
    1e-12 relative to the terms' size, and (X ** 2).T @ c to 1e-13 (its terms are all
    of one sign)."""
    rng = np.random.default_rng(seed)
    X = _csr(rng, n, d, density, ptr, idx)
    c = rng.random(n) * (rng.random(n) >= zeros)
    v, vb = rng.standard_normal(d), float(rng.standard_normal())
    with pytest.MonkeyPatch.context() as patch:
        _split(patch, X, parts)
        product = lsp.gauss_newton_operator(X, c)
    assert product is not None
    got, got_b = product(v, vb)
    want, want_b = _scipy_product(X, c, v, vb)
    scale = (np.abs(X).T @ (c * (np.abs(X) @ np.abs(v) + abs(vb)))).max() + 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * scale)
    assert got_b == pytest.approx(want_b, rel=1e-12, abs=1e-12 * scale)
    with pytest.MonkeyPatch.context() as patch:  # the preconditioner's (X ** 2).T @ c
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
def test_kernel_refuses_pointers_that_do_not_rise():
    """A CSR whose row pointers fall or run past the stored values is refused with
    ValueError, never read out of bounds."""
    X = _csr(np.random.default_rng(1), 20, 5, 0.5, np.int64, np.int32)
    out = np.zeros(5)
    bad = X.indptr.copy()
    bad[5], bad[6] = bad[6] + 3, bad[5]
    with pytest.raises(ValueError, match="indptr"):
        lsp._sparse.gauss_newton(bad, X.indices, X.data, np.ones(20), np.ones(5), 0.0, out,
                                 0, 20, 8, 4)  # fmt: skip
    beyond = X.indptr.copy()
    beyond[-1] += 10
    with pytest.raises(ValueError, match="indptr"):
        lsp._sparse.gauss_newton(beyond, X.indices, X.data, np.ones(20), np.ones(5), 0.0, out,
                                 0, 20, 8, 4)  # fmt: skip
    with pytest.raises(ValueError):  # out shorter than v
        lsp._sparse.gauss_newton(X.indptr, X.indices, X.data, np.ones(20), np.ones(5), 0.0,
                                 np.zeros(4), 0, 20, 8, 4)  # fmt: skip


@needs_kernel
def test_out_of_range_indices_are_refused_and_other_matrices_take_scipy():
    """The kernels check each column index as they read it: one outside [0, d), at the
    start, middle or end of the rows, is a ValueError, never a write outside the output.
    float32 values and other formats are left to scipy (None)."""
    X = _csr(np.random.default_rng(2), 30, 6, 0.5, np.int32, np.int32)
    assert lsp.gauss_newton_operator(X.astype(np.float32), np.ones(30)) is None
    assert lsp.gauss_newton_operator(X.tocsc(), np.ones(30)) is None
    assert lsp.squares_times(X.tocsc(), np.ones(30)) is None
    for position, index in ((0, 6), (X.nnz // 2, -1), (X.nnz - 1, 2**31 - 1)):
        bad = X.copy()
        bad.indices[position] = index
        with pytest.raises(ValueError, match="column index is out of range"):
            lsp.gauss_newton_operator(bad, np.ones(30))(np.ones(6), 0.0)
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
    general path's (the kernel switched off, as without a compiler) to 1e-12, and the
    dense data's products."""
    rng = np.random.default_rng(3)
    X = _csr(rng, 400, 25, 0.3, np.int32, np.int32)
    y = rng.integers(0, 2, 400) if kind == "binary" else rng.standard_normal(400)
    w = rng.uniform(0.0, 2.0, 400) if weighted else None
    params, v = 0.3 * rng.standard_normal(26), rng.standard_normal(26)
    fast = model.hessian_operator(params, X, y, w)(v)
    monkeypatch.setattr(lsp, "_sparse", None)
    assert lsp.gauss_newton_operator(X, np.ones(400)) is None
    general = model.hessian_operator(params, X, y, w)(v)
    dense = model.hessian_operator(params, X.toarray(), y, w)(v)
    np.testing.assert_allclose(fast, general, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fast, dense, rtol=1e-12, atol=1e-14)
