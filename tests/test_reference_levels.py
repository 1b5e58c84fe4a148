"""Categorical columns against reference levels in least squares (issue 18).

The claims: with an intercept and no penalty, ``solve-ls --encode onehot`` leaves out one
level of each categorical column (its first, or the one ``--reference`` names) and its
table equals statsmodels' OLS with treatment contrasts (``C(cut, Treatment('Fair'))``) to
1e-10; the full encoding stays without an intercept or with a penalty; the levels are
named in the output; a bad ``--reference`` is one line, exit 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_error_line, invoke, json_stdout

smf = pytest.importorskip("statsmodels.formula.api", reason="statsmodels is the oracle (dev)")


@pytest.fixture
def table(tmp_path):
    """A diamonds-like table: price from carat and two categorical columns, plus noise."""
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({
        "cut": rng.choice(["Fair", "Good", "Ideal", "Premium"], n),
        "color": rng.choice(["D", "E", "F"], n),
        "carat": rng.uniform(0.2, 2.0, n),
    })  # fmt: skip
    bonus = frame["cut"].map({"Fair": 0, "Good": 150, "Ideal": 400, "Premium": 300})
    frame["price"] = 2000 * frame["carat"] + bonus + rng.normal(0, 100, n)
    path = tmp_path / "diamonds.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _solve(path, *flags):
    args = ["solve-ls", path, "--target", "price", "--encode", "onehot", "--json", "--quiet"]
    return json_stdout(invoke([*args, *flags]).stdout)


@pytest.mark.parametrize(
    ("flags", "cut_ref"), [((), "Fair"), (("--reference", "cut=Ideal"), "Ideal")]
)
def test_treatment_contrasts_equal_statsmodels(table, flags, cut_ref):
    path, frame = table
    payload = _solve(path, *flags)
    assert payload["reference_levels"] == {"cut": cut_ref, "color": "D"}
    assert f"cut={cut_ref}" not in payload["coef"] and "color=D" not in payload["coef"]
    ols = smf.ols(f"price ~ C(cut, Treatment('{cut_ref}')) + C(color) + carat", frame).fit()
    theirs = {
        name.replace(f"C(cut, Treatment('{cut_ref}'))[T.", "cut=")
        .replace("C(color)[T.", "color=")
        .rstrip("]"): value
        for name, value in ols.params.items()
    }
    # two backward-stable solvers: the design's condition number is 8.4, so the weights
    # (up to 2,000) agree to ~8.4 eps 2,000 = 4e-12 absolute, relative to the smallest
    # (1.4) ~3e-12 (measured 1.4e-12); a standard error to ~cond^2 eps = 1.6e-14 each
    # (measured 1.4e-15)
    assert payload["intercept"] == pytest.approx(theirs.pop("Intercept"), rel=1e-11)
    assert payload["coef"] == pytest.approx(theirs, rel=1e-11)
    table_se = {name: row["std_err"] for name, row in payload["inference"]["coef"].items()}
    assert table_se["carat"] == pytest.approx(ols.bse["carat"], rel=1e-13)
    assert payload["rank"] == len(payload["coef"]) + 1  # full rank: no direction cut


@pytest.mark.parametrize("flags", [("--no-intercept",), ("--reg", "0.1")])
def test_every_level_stays_without_intercept_or_with_a_penalty(table, flags):
    path, _ = table
    payload = _solve(path, *flags)
    assert payload["reference_levels"] == {}
    assert {"cut=Fair", "cut=Ideal", "color=D"} <= set(payload["coef"])


def test_the_levels_are_named_in_the_table(table):
    path, _ = table
    result = invoke(["solve-ls", path, "--target", "price", "--encode", "onehot"])
    assert "reference levels" in result.stderr + result.stdout
    assert "cut=Fair, color=D" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cut=Nope", "level 'Nope' is not a value of column 'cut'"),
        ("carat=1", "'carat', not a categorical feature column"),
        ("cut", "--reference takes COLUMN=LEVEL"),
    ],
)
def test_bad_references_are_one_line(table, value, message):
    path, _ = table
    args = ["solve-ls", path, "--target", "price", "--encode", "onehot", "--reference", value]
    result = invoke(args, ok=False)
    line = assert_one_error_line(result.stderr)
    assert result.exit_code == 2 and message in line
