"""Splitting, scaling and label encoding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linfit.errors import DataError, OptionError
from linfit.preprocess import Scaler, encode_labels, train_test_split


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(1, 30), min_size=2, max_size=12),
    test_size=st.floats(0.01, 0.95),
    seed=st.integers(0, 2**16),
)
def test_stratified_split_contract(counts, test_size, seed):
    counts = np.array(counts)
    strata = np.repeat(np.arange(counts.size), counts)
    train, test = train_test_split(strata.size, test_size, seed=seed, strata=strata)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).size == strata.size
    train_counts = np.bincount(strata[train], minlength=counts.size)
    test_counts = np.bincount(strata[test], minlength=counts.size)
    assert (train_counts >= 1).all()  # the model sees every class
    room = int(np.maximum(counts - 1, 0).sum())
    assert test.size == min(round(test_size * strata.size), room)
    # proportional: a class never falls below its share's floor, and exceeds its share by
    # less than one sample plus what capped classes (which must keep a training sample)
    # could not take
    ideal = test_size * counts
    capped = test_counts == np.maximum(counts - 1, 0)
    spill = float(np.clip(ideal - test_counts, 0, None)[capped].sum())
    assert (test_counts[~capped] >= np.floor(ideal[~capped])).all()
    assert (test_counts - ideal < 1 + spill + 1e-9).all()


def test_split_without_strata_and_test_size_zero():
    train, test = train_test_split(10, 0.3, seed=1)
    assert test.size == 3 and train.size == 7
    train, test = train_test_split(10, 0.0, seed=1)
    assert test.size == 0 and np.array_equal(np.sort(train), np.arange(10))


@pytest.mark.parametrize("test_size", [-0.1, 1.0, 1.5])
def test_test_size_outside_zero_one_is_an_option_error(test_size):
    with pytest.raises(OptionError, match=r"^test_size must be in \[0, 1\)"):
        train_test_split(10, test_size, seed=0)


def test_scaler_unscale_gives_the_same_scores_on_raw_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (50, 4))
    X[:, 2] = 7.0  # a constant column keeps scale 1
    scaler = Scaler.fit(X)
    assert scaler.scale[2] == 1.0
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    W_raw, b_raw = scaler.unscale(W, b)
    np.testing.assert_allclose(
        X @ W_raw + b_raw, scaler.transform(X) @ W + b, rtol=1e-12, atol=1e-12
    )


def test_encode_labels_round_trips_and_refuses_one_class():
    classes, codes = encode_labels(np.array(["b", "a", "b", "c"], dtype=object))
    assert list(classes) == ["a", "b", "c"]
    assert list(classes[codes]) == ["b", "a", "b", "c"]
    with pytest.raises(DataError, match="single class"):
        encode_labels(np.array([1, 1, 1]))
