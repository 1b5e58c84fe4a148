"""`linfit gradcheck --identities`: the notes' identities hold, their mistaken forms fail."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import invoke, json_stdout

from linfit.checks import calculus, identities, model_identities
from linfit.checks.calculus import jacobian
from linfit.checks.identities import IDENTITIES, TOLERANCE, Identity, check_identities
from linfit.models import LinearModel, LinearSVM, ReLURegressor, SoftmaxClassifier

# The rows that check a model's gradient: the formula written out in model_identities.py against
# finite differences of the loss written there, and linfit's loss_gradient against the formula.
MODEL_ROWS = [
    (
        "SVM gradient, margin inside the max",
        LinearSVM(reg=model_identities.MODEL_REG, margin=model_identities.MARGIN),
        model_identities._svm_loss,
        model_identities._svm_gradient,
        model_identities._classification,
    ),
    (
        "softmax cross-entropy gradient (p - 1[j=y]) x^T",
        SoftmaxClassifier(reg=model_identities.MODEL_REG),
        model_identities._softmax_loss,
        model_identities._softmax_gradient,
        model_identities._classification,
    ),
    (
        "ReLU regressor gradient, indicator per sample",
        ReLURegressor(reg=model_identities.MODEL_REG),
        model_identities._relu_loss,
        model_identities._relu_gradient,
        model_identities._relu_problem,
    ),
]
MODEL_IDS = ["svm", "softmax", "relu"]


def _row_error(identity: Identity, seed: int = 0) -> float:
    return identities._relative(*identity.check(np.random.default_rng(seed)))


@pytest.mark.parametrize("seed", range(5))
def test_every_identity_holds_and_every_counter_example_fails(seed):
    results = check_identities(seed)
    assert len(results) == len(IDENTITIES)
    for r in results:
        if r.counter_example:
            assert r.max_rel_error > 100 * TOLERANCE, r.name  # clearly wrong, not borderline
        else:
            assert r.max_rel_error <= TOLERANCE, r.name
        assert r.passed


def test_the_notes_three_mistakes_are_the_counter_examples():
    names = [i.name for i in IDENTITIES if i.counter_example]
    assert len(names) == 3
    assert any("2 A x" in n for n in names)  # note 000's quadratic form
    assert any("margin outside" in n for n in names)  # note 000's SVM loss
    assert any("outside the sum" in n for n in names)  # note 004's ReLU gradient


def test_numerical_jacobian_matches_a_known_one():
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    # d sin(Ax)/dx = diag(cos(Ax)) A, numerator layout (3, 4)
    np.testing.assert_allclose(
        jacobian(lambda z: np.sin(A @ z), x), np.cos(A @ x)[:, None] * A, rtol=0, atol=1e-11
    )


def test_a_wrong_identity_is_reported_as_failing(monkeypatch):
    wrong = Identity(
        "d(x^T x)/dx = x (wrong)",
        "denominator",
        lambda rng: (lambda x: (x, calculus.gradient(lambda z: z @ z, x)))(rng.standard_normal(4)),
    )
    monkeypatch.setattr(identities, "IDENTITIES", (wrong,))
    (result,) = check_identities()
    assert not result.holds and not result.passed
    cli = invoke(["gradcheck", "--identities", "--json"], ok=False)
    assert cli.exit_code == 1
    assert json_stdout(cli.stdout)["passed"] is False


def test_cli_identities_json():
    result = invoke(["gradcheck", "--identities", "--json", "--quiet"])
    payload = json_stdout(result.stdout)
    assert payload["passed"] is True
    assert payload["tolerance"] == TOLERANCE
    assert len(payload["results"]) == len(IDENTITIES)
    for row in payload["results"]:
        assert set(row) == {
            "identity",
            "layout",
            "max_rel_error",
            "holds",
            "counter_example",
            "passed",
        }
        assert row["layout"] in ("denominator", "numerator", "equality")
        assert row["passed"] is True
        assert row["holds"] is (not row["counter_example"])


def test_the_model_rows_are_the_ones_the_tests_know():
    names = {i.name for i in IDENTITIES}
    assert {name for name, *_ in MODEL_ROWS} <= names


@pytest.mark.parametrize(("name", "model", "loss", "formula", "problem"), MODEL_ROWS, ids=MODEL_IDS)
def test_the_written_out_loss_is_linfits_objective(name, model, loss, formula, problem):
    """The loss written in model_identities.py is the objective linfit minimizes (penalty included),
    so checking linfit's gradient against its formula is checking the right thing."""
    rng = np.random.default_rng(1)
    for _ in range(3):
        X, y, params = problem(rng)
        assert loss(params, X, y) == pytest.approx(model.loss(params, X, y), rel=1e-12)
        assert model_identities._penalty(params, X.shape[1]) > 0  # the 2 reg W term is exercised


def test_the_model_rows_never_call_linfits_loss(monkeypatch):
    """Finite differences are of the loss written in model_identities.py, not of linfit's."""

    def refuse(*args, **kwargs):
        raise AssertionError("an identity used linfit's model.loss")

    monkeypatch.setattr(LinearModel, "loss", refuse)
    assert all(r.passed for r in check_identities())


@pytest.mark.parametrize(("name", "model", "loss", "formula", "problem"), MODEL_ROWS, ids=MODEL_IDS)
def test_a_wrong_gradient_in_linfit_fails_its_row(monkeypatch, name, model, loss, formula, problem):
    """A 0.01% error in linfit's loss_gradient is caught by the row."""
    (identity,) = [i for i in IDENTITIES if i.name == name]
    assert _row_error(identity) <= TOLERANCE
    original = type(model).loss_gradient

    def slightly_off(self, params, X, y):
        value, grad = original(self, params, X, y)
        return value, grad * (1 + 1e-4)

    monkeypatch.setattr(type(model), "loss_gradient", slightly_off)
    assert _row_error(identity) > 10 * TOLERANCE
    (result,) = [r for r in check_identities() if r.name == name]
    assert not result.passed


@pytest.mark.parametrize(("name", "model", "loss", "formula", "problem"), MODEL_ROWS, ids=MODEL_IDS)
def test_a_wrong_formula_fails_even_where_linfit_agrees_with_it(
    monkeypatch, name, model, loss, formula, problem
):
    """The formula is held to finite differences of the loss, not only to linfit: a formula
    without the penalty's ``2 reg W`` fails although linfit is patched to agree with it."""

    def without_penalty(params, X, y):
        g = formula(params, X, y)
        d = X.shape[1]
        W, _ = model_identities._unpack(params, d)
        g[: W.size] -= 2 * model_identities.MODEL_REG * W.ravel()
        return g

    monkeypatch.setattr(
        type(model), "loss_gradient", lambda self, p, X, y: (0.0, without_penalty(p, X, y))
    )
    row = Identity(
        name, "denominator", model_identities._model_gradient(model, loss, without_penalty, problem)
    )
    assert _row_error(row) > 100 * TOLERANCE


def test_the_notes_relu_form_fails_even_where_linfit_agrees_with_it(monkeypatch):
    """Note 004's gradient (every sample's error counted) is rejected by the finite
    differences alone."""
    wrong = model_identities._relu_note_gradient_formula
    monkeypatch.setattr(ReLURegressor, "loss_gradient", lambda self, p, X, y: (0.0, wrong(p, X, y)))
    row = Identity(
        "relu",
        "denominator",
        model_identities._model_gradient(
            ReLURegressor(reg=model_identities.MODEL_REG),
            model_identities._relu_loss,
            wrong,
            model_identities._relu_problem,
        ),
    )
    assert _row_error(row) > 100 * TOLERANCE


def test_model_rows_draw_points_away_from_kinks():
    """No finite-difference stencil straddles a hinge or ReLU kink at the drawn points."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        X, y, params = model_identities._classification(rng)
        reach = 4 * calculus.H * max(1.0, np.abs(X).max())
        assert np.abs(model_identities._svm_hinge_arguments(params, X, y)).min() > reach
        X, y, params = model_identities._relu_problem(rng)
        z = model_identities._scores(params, X)[:, 0]
        assert np.abs(z).min() > reach
        assert (z > 0).any() and (z < 0).any()  # both pieces of the ReLU are exercised
