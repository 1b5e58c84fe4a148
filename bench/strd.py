"""NIST StRD linear least squares: the digits every method gets on the eleven certified
datasets, linfit's beside numpy, scipy, scikit-learn and statsmodels, timed in one run.

The files and their certified values are read from ``../shared/strd/`` beside the
repository (values parsed from each file's own header). Score: LRE, the correct
significant digits of the worst coefficient, capped at 15 (see that folder's README).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.harness import Row, timed

STRD = Path(__file__).resolve().parents[2] / "shared" / "strd"
# name: (polynomial degree of x, or None for Longley's six predictors; intercept)
DATASETS = {
    "Norris": (1, True),
    "Pontius": (2, True),
    "NoInt1": (1, False),
    "NoInt2": (1, False),
    "Filip": (10, True),
    "Longley": (None, True),
    "Wampler1": (5, True),
    "Wampler2": (5, True),
    "Wampler3": (5, True),
    "Wampler4": (5, True),
    "Wampler5": (5, True),
}
# Filip's columns x..x^10 rounded to float64: the exact least-squares solution of that
# design (60 digits) agrees with the certified values to 7.6 digits, no more
FILIP_CEILING = 7.6
TARGET_DIGITS = 10.0


def parse(name: str) -> dict:
    """Certified values and data of ``name``.dat, from the file itself."""
    lines = (STRD / f"{name}.dat").read_text().splitlines()
    header = "\n".join(lines)
    first, last = map(int, re.search(r"Data\s+\(lines (\d+) to (\d+)\)", header).groups())
    data = np.array([[float(t) for t in line.split()] for line in lines[first - 1 : last]])
    text = "\n".join(lines[: first - 1])
    rows = re.findall(r"^\s+B(\d+)\s+(\S+)\s+(\S+)\s*$", text, flags=re.MULTILINE)
    return {
        "coef": np.array([float(est) for _, est, _ in rows]),
        "sd": np.array([float(sd) for _, _, sd in rows]),
        "residual_sd": float(re.search(r"Residual\s+Standard Deviation\s+(\S+)", text).group(1)),
        "r2": float(re.search(r"R-Squared\s+(\S+)", text).group(1)),
        "y": data[:, 0],
        "x": data[:, 1:],
    }


def design(name: str, x: np.ndarray) -> np.ndarray:
    """The design's columns without intercept: powers of x, or Longley's predictors."""
    degree, _ = DATASETS[name]
    return x if degree is None else np.column_stack([x[:, 0] ** k for k in range(1, degree + 1)])


def lre(estimate, certified) -> float:
    """The worst LRE over the values, capped at 15 and floored at 0."""
    estimate, certified = np.atleast_1d(estimate), np.atleast_1d(certified)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(
            certified != 0, np.abs(estimate - certified) / np.abs(certified), np.abs(estimate)
        )
        error = np.where(np.isfinite(error), error, 1.0)
        return float(np.min(np.clip(-np.log10(np.maximum(error, 1e-300)), 0, 15)))


def _solvers() -> dict[str, Callable[[np.ndarray, np.ndarray, bool], np.ndarray]]:
    """Each system's coefficients ``[b0, b1, ...]`` (intercept first when there is one)."""
    import scipy.linalg

    from linfit.fitting.solve_ls import solve_least_squares
    from linfit.linalg.powers import expand

    def design_of_powers(x, degree):
        return np.column_stack([x**k for k in range(2, degree + 1)])

    def with_ones(X, intercept):
        return np.column_stack([np.ones(len(X)), X]) if intercept else X

    def linfit(method):
        def run(X, y, intercept):
            r = solve_least_squares(X, y, method=method, fit_intercept=intercept)
            return np.r_[r.intercept, r.coef] if intercept else r.coef

        return run

    solvers = {f"linfit {m}": linfit(m) for m in ("auto", "normal", "qr", "pinv", "lstsq")}

    def linfit_powers(X, y, intercept):
        # solve-ls --poly x:DEGREE: the same float64 columns, known as powers of the first
        if X.shape[1] == 1 or not np.array_equal(X[:, 1:], design_of_powers(X[:, 0], X.shape[1])):
            return linfit("auto")(X, y, intercept)
        X, names, exact = expand(X[:, :1], ["x"], {"x": X.shape[1]})
        r = solve_least_squares(X, y, fit_intercept=intercept, feature_names=names, exact=exact)
        return np.r_[r.intercept, r.coef] if intercept else r.coef

    solvers["linfit auto --poly"] = linfit_powers
    solvers["numpy lstsq"] = lambda X, y, i: np.linalg.lstsq(with_ones(X, i), y, rcond=None)[0]
    solvers["scipy gelsd"] = lambda X, y, i: scipy.linalg.lstsq(with_ones(X, i), y)[0]
    solvers["scipy gelsy"] = lambda X, y, i: scipy.linalg.lstsq(
        with_ones(X, i), y, lapack_driver="gelsy"
    )[0]

    def sklearn(X, y, intercept):
        from sklearn.linear_model import LinearRegression

        lr = LinearRegression(fit_intercept=intercept).fit(X, y)
        return np.r_[lr.intercept_, lr.coef_] if intercept else lr.coef_

    solvers["scikit-learn LinearRegression"] = sklearn
    try:
        import statsmodels.api as sm

        solvers["statsmodels OLS (pinv)"] = lambda X, y, i: sm.OLS(y, with_ones(X, i)).fit().params
        solvers["statsmodels OLS (qr)"] = lambda X, y, i: (
            sm.OLS(y, with_ones(X, i)).fit(method="qr").params
        )
    except ImportError:  # the bench extra installs it
        pass
    return solvers


def strd() -> list[Row]:
    """One row per system and dataset: its LRE, and for linfit auto the target."""
    if not STRD.is_dir():
        return [Row("NIST StRD", f"skipped: {STRD} not found", None)]
    rows = []
    solvers = _solvers()
    for name, (_, intercept) in DATASETS.items():
        cert = parse(name)
        X = design(name, cert["x"])
        for system, solver in solvers.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theta, t = timed(lambda: solver(X, cert["y"], intercept))  # noqa: B023
            digits = lre(theta, cert["coef"])
            target, holds = "", None
            if system == "linfit auto":
                need = FILIP_CEILING - 0.5 if name == "Filip" else TARGET_DIGITS
                target, holds = f">= {need:g} digits", digits >= need
            if system == "linfit auto --poly" and DATASETS[name][0] is not None:
                target, holds = f">= {TARGET_DIGITS:g} digits", digits >= TARGET_DIGITS
            rows.append(
                Row(
                    "NIST StRD",
                    f"{system} on {name}",
                    t,
                    quality=f"LRE {digits:.1f}",
                    target=target,
                    holds=holds,
                )
            )
    return rows
