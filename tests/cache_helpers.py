"""Checks shared by the tests of the parsed-data cache (dense and sparse entries)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from linfit.data import Dataset, load_dataset
from linfit.errors import CacheWarning
from linfit.storage import cache


def assert_damage_is_one_reported_miss_and_a_rewrite(
    folder: Path, entry: Path, path: Path | str, said: str, same: Callable[[Dataset, Dataset], None]
) -> None:
    """A read of ``path`` whose ``entry`` (in cache ``folder``) was damaged: parsed once,
    with one one-line ``CacheWarning`` matching ``said``, giving what a parse gives
    (``same``); the entry is rewritten whole, so the next read hits, silently, and nothing
    is left aside."""
    calls = []

    def parse() -> Dataset:
        calls.append(1)
        return load_dataset(path)

    with pytest.warns(CacheWarning, match=said) as caught:
        same(cache.cached(path, {}, parse), load_dataset(path))
    assert calls == [1] and len(caught) == 1
    assert "\n" not in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same(cache.cached(path, {}, lambda: calls.append(1)), load_dataset(path))
    assert calls == [1]
    assert sorted(p.name for p in folder.iterdir()) == [entry.name]
