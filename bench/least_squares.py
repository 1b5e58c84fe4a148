"""Least squares on a tall Gaussian X: linfit's closed forms beside numpy, scipy, sklearn."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from bench.harness import Row, best_time, paired_times, timed
from linfit import fit
from linfit.models import LeastSquares


def least_squares(n_samples: int, n_features: int) -> list[Row]:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features))
    y = X @ rng.standard_normal(n_features) + 0.1 * rng.standard_normal(n_samples)
    model = LeastSquares(reg=0.0)

    floor = best_time(lambda: X.T @ X, repeat=2)
    lr, t_lr = timed(lambda: LinearRegression().fit(X, y))
    reference = np.concatenate([lr.coef_, [lr.intercept_]])

    def error(theta: np.ndarray) -> float:
        return float(np.max(np.abs(theta - reference)) / np.max(np.abs(reference)))

    rows = [
        Row("least squares", "X.T @ X (the floor)", floor),
        Row("least squares", "sklearn LinearRegression", t_lr, "X.T @ X", t_lr / floor),
    ]
    rows += _lapack_rows(X, y, t_lr, error)

    def solve(method: str) -> np.ndarray:
        """linfit's closed form through its entry point (which reports the objective and
        its gradient from the factorization, no pass over X more)."""
        return fit(model, X, y, solver=method, standardize=False).params

    theta = solve("normal")
    # the ratio held to a target comes from rounds of the floor and the solve back to back
    # (both ~1 s), so that each ratio compares two runs under the same load
    t, _, ratio = paired_times(lambda: solve("normal"), lambda: X.T @ X)
    rows.append(
        Row(
            "least squares",
            "linfit normal",
            t,
            "LinearRegression",
            t / t_lr,
            f"coef error {error(theta):.1e}",
            "<= 0.2x (5x faster), error <= 1e-8",
            t / t_lr <= 0.2 and error(theta) <= 1e-8,
        )
    )
    rows.append(
        Row(
            "least squares",
            "linfit normal",
            t,
            "X.T @ X",
            ratio,
            "",
            "<= 1.3x",
            ratio <= 1.3,
        )
    )

    # auto decides on the equilibrated condition (~1 here) and takes the normal equations
    # without refinement: it must cost what normal costs
    theta_auto = solve("auto")
    t_auto, _, ratio = paired_times(lambda: solve("auto"), lambda: solve("normal"))
    rows.append(
        Row(
            "least squares",
            "linfit auto",
            t_auto,
            "linfit normal",
            ratio,
            f"coef error {error(theta_auto):.1e}",
            "<= 1.3x, error <= 1e-8",
            ratio <= 1.3 and error(theta_auto) <= 1e-8,
        )
    )

    results = {}

    def numpy_pinv() -> None:
        results["numpy"] = np.linalg.pinv(np.column_stack([X, np.ones(n_samples)])) @ y

    def linfit_pinv() -> None:
        results["linfit"] = solve("pinv")

    # numpy's pinv takes 30-60 s at full size: three rounds, no warm-up
    t, t_np, ratio = paired_times(linfit_pinv, numpy_pinv, repeat=3, warm_up=False)
    pinv_np, theta = results["numpy"], results["linfit"]
    gap = float(np.max(np.abs(theta - pinv_np)) / np.max(np.abs(pinv_np)))
    rows.append(
        Row(
            "least squares",
            "numpy pinv([X, 1]) @ y",
            t_np,
            quality=f"coef error {error(pinv_np):.1e}",
        )
    )
    rows.append(
        Row(
            "least squares",
            "linfit pinv",
            t,
            "numpy pinv @ y",
            ratio,
            f"{gap:.1e} from numpy's",
            "<= 0.5x, within 1e-8",
            ratio <= 0.5 and gap <= 1e-8,
        )
    )
    return rows


def _lapack_rows(X, y, t_lr, error) -> list[Row]:
    """numpy's and scipy's least-squares drivers on ``[X, 1]`` (a copy, freed on return)."""
    Xh = np.column_stack([X, np.ones(X.shape[0])])
    rows = []
    for name, fn in (
        ("numpy.linalg.lstsq", lambda: np.linalg.lstsq(Xh, y, rcond=None)[0]),
        ("scipy.linalg.lstsq (gelsd)", lambda: scipy.linalg.lstsq(Xh, y)[0]),
        ("scipy.linalg.lstsq (gelsy)", lambda: scipy.linalg.lstsq(Xh, y, lapack_driver="gelsy")[0]),
    ):
        theta, t = timed(fn)
        rows.append(
            Row(
                "least squares",
                name,
                t,
                "LinearRegression",
                t / t_lr,
                f"coef error {error(theta):.1e}",
            )
        )
    return rows
