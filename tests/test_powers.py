"""Polynomial columns known exactly (``linfit.linalg.powers``, ``solve-ls --poly``).

The claims: ``expand`` puts each named column's powers after it, equal to numpy's float64
powers; ``Powers`` recomputes them in extended precision, each rounding back to its
float64 column within one unit in the last place and closer to the exact power than it
(checked against exact rational arithmetic); and bad ``--poly`` values are one line,
exit 2. Its digits on NIST's Filip are tests/test_strd.py's.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from cli_helpers import assert_one_error_line, invoke, json_stdout

from linfit.errors import OptionError
from linfit.linalg.design import EXTENDED
from linfit.linalg.powers import expand, parse_powers


def test_expand_places_each_columns_powers_after_it():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    out, names, powers = expand(X, ["a", "b", "c"], {"b": 3, "c": 2})
    assert names == ["a", "b", "b^2", "b^3", "c", "c^2"]
    np.testing.assert_array_equal(out[:, [0, 1, 4]], X)
    np.testing.assert_array_equal(out[:, 2], X[:, 1] ** 2)
    np.testing.assert_array_equal(out[:, 3], X[:, 1] ** 3)
    np.testing.assert_array_equal(out[:, 5], X[:, 2] ** 2)
    assert powers.columns == ((2, 1, 2), (3, 1, 3), (5, 4, 2))


def test_exact_columns_are_nearer_the_true_powers_than_their_float64_values():
    """x^k from float64 x, k up to 10: the extended value's error (against exact rationals)
    is below 1e-18 relative, and it rounds to within one ulp of numpy's float64 power."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-9, -3, 40)  # Filip's range
    X, _, powers = expand(x[:, None], ["x"], {"x": 10})
    extended = powers(X)
    assert extended.dtype == EXTENDED
    if np.finfo(EXTENDED).eps >= np.finfo(np.float64).eps:
        pytest.skip("this platform's long double is float64: no extended precision to check")
    for k in range(2, 11):
        exact = np.array([_extended(Fraction(float(v)) ** k) for v in x], dtype=EXTENDED)
        error = np.abs((extended[:, k - 1] - exact) / exact)
        assert float(np.max(error)) < 1e-18, k
        ulps = np.abs(extended[:, k - 1].astype(np.float64) - X[:, k - 1]) / np.spacing(X[:, k - 1])
        assert float(np.max(ulps)) <= 1.0, k


def _extended(value: Fraction) -> np.ndarray:
    """An exact rational to EXTENDED as the sum of its two nearest float64 parts (about
    1e-32 relative: exact at long double's precision)."""
    high = float(value)
    return EXTENDED(high) + EXTENDED(float(value - Fraction(high)))


@pytest.mark.parametrize(
    ("entries", "message"),
    [(["x"], "COLUMN:DEGREE"), (["x:a"], "COLUMN:DEGREE"), ([":3"], "COLUMN:DEGREE")],
)
def test_bad_specs_are_refused(entries, message):
    with pytest.raises(OptionError, match=message):
        parse_powers(entries)


def test_unknown_columns_and_degrees_out_of_range_are_refused():
    X = np.ones((3, 1))
    with pytest.raises(OptionError, match="no column 'z'"):
        expand(X, ["x"], {"z": 2})
    with pytest.raises(OptionError, match="1 to 20"):
        expand(X, ["x"], {"x": 21})


def _csv(tmp_path, n=30):
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 2, n)
    y = 1 + 2 * x - 0.5 * x**2 + 0.01 * rng.standard_normal(n)
    path = tmp_path / "poly.csv"
    path.write_text(
        "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y, strict=True))
    )
    return path, x, y


def test_the_cli_fits_the_powers_as_numpy_does(tmp_path):
    """solve-ls --poly x:2 equals numpy's lstsq on [x, x^2, 1] and names x^2: the design's
    condition number is 19, so two backward-stable solutions (of the float64 powers and of
    the exact ones) differ by at most ~cond^2 eps = 8e-14 relative (measured 1.1e-15)."""
    path, x, y = _csv(tmp_path)
    payload = json_stdout(invoke(["solve-ls", path, "--target", "y", "--poly", "x:2",
                                  "--json", "--quiet"]).stdout)  # fmt: skip
    expected = np.linalg.lstsq(np.column_stack([x, x**2, np.ones_like(x)]), y, rcond=None)[0]
    got = [payload["coef"]["x"], payload["coef"]["x^2"], payload["intercept"]]
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize(
    ("value", "message"), [("x", "COLUMN:DEGREE"), ("z:2", "no column 'z'"), ("x:0", "1 to 20")]
)
def test_bad_poly_flags_are_one_line(tmp_path, value, message):
    path, _, _ = _csv(tmp_path)
    result = invoke(["solve-ls", path, "--target", "y", "--poly", value], ok=False)
    line = assert_one_error_line(result.stderr)
    assert result.exit_code == 2 and message in line
