"""Scores are blocked by rows x outputs (issue 17): many classes never hold n x K at once.

The claims: the passes over X cut their blocks so a block's scores stay under
``SCORE_BYTES`` (dense rows and, past ``SPARSE_SCORE_BYTES``, sparse ones), depending on X
and K alone; an evaluation and a prediction on many classes peak far below the n x K
scores, with the same values as one block; the memory budget counts the blocks in
flight, so a many-class problem that fits in blocks is not refused.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from linfit.fitting import fit
from linfit.fitting.budget import check_training_memory
from linfit.fitting.solvers import get_solver
from linfit.linalg import blocks
from linfit.models import LinearSVM, SoftmaxClassifier

N, D, K = 4000, 5, 400  # scores: 4000 x 400 x 8 = 12.8 MB


def _many_classes(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    y = np.arange(N) % K  # every class 10 times
    return X, y


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_blocks_keep_the_scores_under_their_bytes(monkeypatch, sparse):
    monkeypatch.setattr(blocks, "SCORE_BYTES", 1 << 20)
    monkeypatch.setattr(blocks, "SPARSE_SCORE_BYTES", 4 << 20)
    X, _ = _many_classes()
    X = sp.csr_matrix(X) if sparse else X
    cut = blocks.row_blocks(X, K)
    assert cut[0].start == 0 and cut[-1].stop == N
    assert all(a.stop == b.start for a, b in itertools.pairwise(cut))
    assert max(b.stop - b.start for b in cut) * K * 8 <= 1 << 20
    if sparse:  # few outputs: one block, as the one-column kernels need
        assert blocks.row_blocks(X, 1) == [slice(0, N)]
        assert blocks.row_blocks(X, 2) == [slice(0, N)]


@pytest.mark.parametrize("model", [SoftmaxClassifier(reg=1e-2), LinearSVM(reg=1e-2)],
                         ids=["softmax", "weston-watkins"])  # fmt: skip
def test_an_evaluation_on_many_classes_peaks_far_below_its_scores(monkeypatch, model):
    """One loss+gradient on 400 classes: the same values as one block (1e-12), and a peak
    under a quarter of the 12.8 MB n x K scores when blocks hold 1 MB of scores each."""
    X, y = _many_classes(1)
    params = 0.01 * np.random.default_rng(2).standard_normal((D + 1) * K)
    monkeypatch.setattr(blocks, "SCORE_BYTES", 1 << 40)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1 << 40)
    f_one, g_one = model.loss_gradient(params, X, y)
    monkeypatch.setattr(blocks, "SCORE_BYTES", 1 << 20)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4 << 20)
    tracemalloc.start()
    try:
        f, g = model.loss_gradient(params, X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f == pytest.approx(f_one, rel=1e-12)
    np.testing.assert_allclose(g, g_one, rtol=1e-10, atol=1e-14)
    assert peak < N * K * 8 / 4


def test_predictions_on_many_classes_go_by_blocks(monkeypatch):
    """Predicted classes equal one block's; their peak stays under a quarter of n x K."""
    X, y = _many_classes(3)
    trained = fit(SoftmaxClassifier(reg=1e-2), X, y, max_iter=3)
    monkeypatch.setattr(blocks, "SCORE_BYTES", 1 << 40)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1 << 40)
    whole = trained.predict(X)
    proba = trained.predict_proba(X)
    monkeypatch.setattr(blocks, "SCORE_BYTES", 1 << 20)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4 << 20)
    tracemalloc.start()
    try:
        blocked = trained.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(blocked, whole)
    np.testing.assert_allclose(trained.predict_proba(X), proba, rtol=1e-12, atol=1e-15)
    assert peak < N * K * 8 / 4


def test_the_budget_counts_the_blocks_in_flight_not_n_by_k():
    """200,000 rows x 1,000 classes: 4.8 GB of scores at once, about 0.1 GB in blocks; a
    1 GB budget admits it (the budget is checked before anything is allocated)."""
    import linfit.memory as memory

    n, d, k = 200_000, 10, 1000
    X = np.zeros((n, d))
    y = np.arange(n) % k
    solver = get_solver("lbfgs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LINFIT_MEMORY_BUDGET", str(10**9))
        patch.setattr(memory, "FLOOR_BYTES", 0)
        check_training_memory(
            SoftmaxClassifier(), solver, {}, X, y, engine="auto", chunk_rows=None,
            standardize=False, target_name="target",
        )  # fmt: skip
