"""`linfit gradcheck --identities`: the notes' identities hold, their mistaken forms fail."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import invoke, json_stdout

from linfit import identities
from linfit.identities import IDENTITIES, TOLERANCE, Identity, check_identities, jacobian


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
        lambda rng: (lambda x: (x, identities.gradient(lambda z: z @ z, x)))(
            rng.standard_normal(4)
        ),
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
