"""Warm starts: ``linfit.fit(init=...)`` and ``train --init``.

A warm start must begin exactly where the previous model ended: on the same data its first
objective value is the previous fit's last (1e-12 relative), though each fit scales the
features by its own rows; it then needs fewer iterations than a cold start to the same
optimum. A model of another shape is refused in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import IRIS, WINE, invoke

import linfit
from linfit.errors import ConvergenceWarning, DataError
from linfit.models import LeastSquares, LinearSVM, SoftmaxClassifier


def _classes(seed=0, n=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * [1, 5, 0.2, 3, 1] + [0, 2, 1, -4, 9]
    y = np.argmax(X @ rng.normal(size=(5, 3)) + rng.gumbel(size=(n, 3)), axis=1)
    return X, y


@pytest.mark.parametrize(
    "model", [SoftmaxClassifier(reg=1e-3), LinearSVM(reg=1e-3, variant="squared_hinge")]
)
@pytest.mark.parametrize("solver", ["lbfgs", "newton", "tron"])  # gd stops on ftol
def test_a_warm_start_begins_where_the_previous_fit_ended(model, solver):
    X, y = _classes()
    with pytest.warns(ConvergenceWarning):  # stopped after 3 iterations, on purpose
        rough = linfit.fit(model, X, y, solver=solver, max_iter=3)
    warm = linfit.fit(model, X, y, solver=solver, init=rough, gtol=1e-8, max_iter=5000)
    cold = linfit.fit(model, X, y, solver=solver, gtol=1e-8, max_iter=5000)
    assert warm.result.history[0].fun == pytest.approx(rough.result.fun, rel=1e-12)
    assert warm.result.fun == pytest.approx(cold.result.fun, rel=1e-8)
    assert warm.result.nit < cold.result.nit


def test_a_warm_start_on_other_rows_scales_by_them():
    """New rows, new scaler: the start is the previous model in raw units (the same
    predictions), not its scaled parameters reused."""
    X, y = _classes(1)
    first = linfit.fit(SoftmaxClassifier(reg=1e-3), X[:200], y[:200])
    with pytest.warns(ConvergenceWarning):  # max_iter=0: the start itself
        second = linfit.fit(SoftmaxClassifier(reg=1e-3), X[200:], y[200:], init=first, max_iter=0)
    np.testing.assert_allclose(
        second.decision_function(X), first.decision_function(X), rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda X, y: linfit.fit(SoftmaxClassifier(), X[:, :4], y), "same features"),
        (lambda X, y: linfit.fit(SoftmaxClassifier(), X, np.minimum(y, 1)), "classes"),
        (lambda X, y: linfit.fit(LeastSquares(), X, y.astype(float)), "same kind of model"),
    ],
)
def test_a_model_of_another_shape_is_refused(make, message):
    X, y = _classes()
    previous = make(X, y)
    with pytest.raises(DataError, match=message) as caught:
        linfit.fit(SoftmaxClassifier(), X, y, init=previous)
    assert "\n" not in str(caught.value)


def test_train_init_from_the_command_line(tmp_path):
    first = tmp_path / "first.linfit"
    invoke(["train", IRIS, "--max-iter", "3", "--out", first, "-q"])
    import json

    warm = json.loads(
        invoke(
            ["train", IRIS, "--init", first, "--out", tmp_path / "w.linfit", "--json", "-q"]
        ).stdout
    )
    cold = json.loads(
        invoke(["train", IRIS, "--out", tmp_path / "c.linfit", "--json", "-q"]).stdout
    )
    assert warm["objective"] == pytest.approx(cold["objective"], rel=1e-6)
    out = tmp_path / "other.linfit"
    bad = invoke(["train", WINE, "--init", first, "--out", out], ok=False)
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--init model has 4 features" in bad.stderr and not out.exists()


def test_a_path_prepares_the_rows_once_and_equals_separate_fits(monkeypatch):
    """``fit(path=...)``: every penalty's fit reaches the optimum a cold fit at that
    penalty reaches (objective 1e-8), while the rows are standardized and the labels
    encoded once for the whole path."""
    from linfit.engines.memory import InMemory

    X, y = _classes(2)
    regs = (1e-1, 1e-2, 1e-3)
    prepared = []
    original = InMemory.prepare.__func__
    monkeypatch.setattr(
        InMemory,
        "prepare",
        classmethod(lambda cls, *a, **k: prepared.append(1) or original(cls, *a, **k)),
    )
    last = linfit.fit(SoftmaxClassifier(reg=regs[-1]), X, y, path=regs[:-1], gtol=1e-9)
    assert len(prepared) == 1
    fits = (*last.path, last)
    assert [f.model.reg for f in fits] == list(regs)
    for f in fits:
        cold = linfit.fit(SoftmaxClassifier(reg=f.model.reg), X, y, gtol=1e-9)
        assert f.result.fun == pytest.approx(cold.result.fun, rel=1e-8)
    # each fit after the first starts at the one before, not at zero (log 3 for softmax)
    assert all(f.result.history[0].fun < np.log(3) - 0.1 for f in fits[1:])
