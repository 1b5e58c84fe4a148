"""The parsed-binary cache: a hit returns the same data; any change to file or options misses."""

from __future__ import annotations

import os

import numpy as np
import pytest
from cli_helpers import IRIS, invoke

from linfit.data import load_dataset
from linfit.storage import cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _load(path, **options):
    return cache.cached(path, options, lambda: load_dataset(path, **options))


def _same(a, b):
    np.testing.assert_array_equal(a.X, b.X)
    assert a.X.dtype == b.X.dtype and a.X.flags.c_contiguous and b.X.flags.c_contiguous
    np.testing.assert_array_equal(a.y, b.y)
    assert a.y.dtype == b.y.dtype
    assert (a.feature_names, a.target_name) == (b.feature_names, b.target_name)


def test_a_hit_returns_exactly_what_the_parse_returned(folder):
    first = _load(IRIS)  # string labels: object dtype
    assert len(list(folder.iterdir())) == 1
    calls = []
    hit = cache.cached(IRIS, {}, lambda: calls.append(1))
    assert calls == []  # not parsed again
    _same(first, hit)
    _same(first, load_dataset(IRIS))


def test_a_changed_file_or_other_options_miss(folder, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    first = _load(path)
    path.write_text("a,b,target\n1,2,3\n4,5,7\n")
    os.utime(path, ns=(0, 10**9))  # a new modification time
    assert _load(path).y[-1] == 7 != first.y[-1]
    _load(path, target="a")
    assert len(list(folder.iterdir())) == 3


def test_a_damaged_entry_is_replaced(folder, tmp_path):
    _load(IRIS)
    (entry,) = folder.iterdir()
    (entry / "X.bin").write_bytes(b"truncated")
    _same(_load(IRIS), load_dataset(IRIS))
    assert (entry / "X.bin").stat().st_size == 150 * 4 * 8


def test_an_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(blocker / "cache"))  # under a file: no mkdir
    _same(_load(IRIS), load_dataset(IRIS))


def test_standard_input_is_not_cached():
    assert cache.entry_key("-", {}) is None


def test_no_cache_flag_writes_no_entry(folder, tmp_path):
    invoke(["train", IRIS, "--no-cache", "--quiet", "--out", tmp_path / "m.linfit"])
    assert not folder.exists()
    invoke(["train", IRIS, "--quiet", "--out", tmp_path / "m.linfit"])
    assert len(list(folder.iterdir())) == 1
