"""The tiled bias addition on (n, K) score blocks gives numpy's broadcast result, bit for
bit, whatever the shape, dtype and memory order; the scratch arrays are reused per thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from linfit.models.blocks import add_to_rows, scratch


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 1000])
@pytest.mark.parametrize("K", [1, 2, 8, 9, 50, 600])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_tiled_addition_equals_broadcasting(n, K, dtype, order):
    rng = np.random.default_rng(n * 1000 + K)
    S = np.asarray(rng.standard_normal((n, K)), dtype=dtype, order=order)
    b = rng.standard_normal(K).astype(dtype)
    added = S.copy(order=order)
    assert add_to_rows(added, b) is added  # in place
    np.testing.assert_array_equal(added, S + b)


def test_scratch_is_reused_within_a_thread_and_apart_between_threads():
    a = scratch((100, 3), np.float64)
    b = scratch((50, 2), np.float64)  # smaller: the same memory
    assert np.shares_memory(a, b) and a.flags.c_contiguous and b.shape == (50, 2)
    assert not np.shares_memory(a, scratch((10, 3), np.float32))  # one array per dtype
    other = []
    worker = threading.Thread(target=lambda: other.append(scratch((100, 3), np.float64)))
    worker.start()
    worker.join()
    assert not np.shares_memory(a, other[0])
