"""The regression table of a least-squares fit, as statsmodels' OLS summary and R's
``summary.lm`` report it: per coefficient the estimate, standard error, t statistic,
p-value and confidence interval; for the fit the residual standard error, R², adjusted
R², the F statistic, log-likelihood, AIC and BIC.

Everything comes from the fit's triangle (``(Xh^T Xh)^{-1}``, the residual sum of
squares) and, for heteroskedasticity-robust errors, one more pass over the rows, so a
fit in memory, out of core or on a cluster gives the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from linfit.errors import OptionError, SolverError, UnknownNameError
from linfit.linalg.design import EXTENDED, Design, correlation
from linfit.linalg.lsq import LeastSquaresFit, accurate_inverse

COVARIANCES = ("nonrobust", "hc0", "hc1", "hc2", "hc3")
INTERCEPT_NAME = "(intercept)"


@dataclass(frozen=True)
class Coefficient:
    estimate: float
    std_err: float
    t: float
    p: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Inference:
    """The table; ``coef`` maps each column's name (the intercept's ``(intercept)``) to
    its row, in the design's order with the intercept first."""

    coef: dict[str, Coefficient]
    residual_se: float
    r2: float
    adj_r2: float
    f: float
    f_p: float
    loglik: float
    aic: float
    bic: float
    n: int
    df_model: int
    df_resid: int
    alpha: float
    cov: str

    def to_dict(self) -> dict[str, Any]:
        """The ``"inference"`` object of ``--json``."""
        out: dict[str, Any] = {"coef": {k: vars(v) for k, v in self.coef.items()}}
        for key in ("residual_se", "r2", "adj_r2", "f", "f_p", "loglik", "aic", "bic"):
            out[key] = getattr(self, key)
        out.update(
            n=self.n, df_model=self.df_model, df_resid=self.df_resid, alpha=self.alpha,
            cov=self.cov,
        )  # fmt: skip
        return out


def check_options(alpha: float, cov: str) -> None:
    """Refuse a confidence level or covariance the table cannot have."""
    if cov not in COVARIANCES:
        raise UnknownNameError("covariance", cov, COVARIANCES)
    if not 0 < alpha < 1:
        raise OptionError(f"`alpha` must be between 0 and 1 (exclusive), got {alpha}")


def infer(
    fit: LeastSquaresFit,
    design: Design,
    names: list[str],
    tss: float,
    *,
    alpha: float = 0.05,
    cov: str = "nonrobust",
    weights: np.ndarray | None = None,
) -> Inference:
    """The inference table of ``fit`` (one output) on ``design``; ``names`` (d,) are the
    feature names, ``tss`` the total sum of squares of ``y`` (about its mean with an
    intercept, about zero without), weighted as the rows are.

    Weighted least squares (``design`` of weighted rows, ``weights`` (n,) > 0 the same
    ones): every figure is ordinary least squares' on the rows scaled by ``sqrt(w)``,
    as statsmodels' WLS computes them, except the log-likelihood, which counts the
    scaling's Jacobian, ``sum log(w) / 2``."""
    check_options(alpha, cov)
    n, p, df = _check_fit(fit)
    theta = fit.theta[:, 0]
    rss = _residual_sum_of_squares(fit, design)
    sigma2 = rss / df
    C = accurate_inverse(fit, design)
    V = covariance(fit, C, design, cov) if cov != "nonrobust" else sigma2 * C
    coef = _coefficients(fit, V, names, df, alpha=alpha, cov=cov)
    r2 = r_squared(rss, tss)
    df_model = p - int(fit.intercept)
    adj_r2 = 1.0 - (n - int(fit.intercept)) / df * (1.0 - r2)
    f, f_p = _wald_f(theta, V, fit.intercept, df_model, df)
    loglik = -n / 2 * (np.log(2 * np.pi) + np.log(rss / n) + 1) if rss > 0 else np.inf
    if weights is not None:
        loglik += 0.5 * float(np.sum(np.log(weights)))
    return Inference(
        coef=coef, residual_se=float(np.sqrt(sigma2)), r2=float(r2), adj_r2=float(adj_r2),
        f=f, f_p=f_p, loglik=float(loglik), aic=float(-2 * loglik + 2 * p),
        bic=float(-2 * loglik + np.log(n) * p), n=n, df_model=df_model, df_resid=df,
        alpha=alpha, cov=cov,
    )  # fmt: skip


def _check_fit(fit: LeastSquaresFit) -> tuple[int, int, int]:
    """``(n, p, df)``: rows, coefficients and residual degrees of freedom ``n - p`` of a fit
    the table is valid for; ``SolverError`` for a penalized, rank-deficient or
    saturated one."""
    if fit.reg > 0:
        raise SolverError(
            "the inference table is not valid for a penalized fit (`reg` > 0): its standard "
            "errors and tests assume ordinary least squares; set `reg` to 0"
        )
    p = fit.theta.shape[0]
    if fit.inverse is None or fit.rank < p:
        raise SolverError(
            f"the inference table needs a full-rank design (rank {fit.rank} of {p}); drop "
            "the dependent columns"
        )
    n, df = fit.n, fit.n - p
    if df <= 0:
        raise SolverError(f"the inference table needs more rows ({n}) than coefficients ({p})")
    return n, p, df


def _residual_sum_of_squares(fit: LeastSquaresFit, design: Design) -> float:
    """The fit's residual sum of squares, computed again by a pass over ``design`` when
    the solve's own figure is not accurate enough."""
    # the table's figures need the residual to more digits than a solve reports it with
    if fit.rss_error <= 1e-13:
        return float(fit.rss[0])
    return float(correlation(fit.theta, design)[1][0])


def _coefficients(
    fit: LeastSquaresFit, V: np.ndarray, names: list[str], df: int, *, alpha: float, cov: str
) -> dict[str, Coefficient]:
    """The table's rows from the estimates ``fit.theta[:, 0]`` (p,) and their covariance
    ``V`` (p, p): named by ``names`` (d,), the intercept (last in ``theta``) first."""
    import scipy.stats  # on first use: a command that never asks skips it

    theta = fit.theta[:, 0]
    p = theta.shape[0]
    se = np.sqrt(np.maximum(np.diag(V), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, theta / se, np.sign(theta) * np.inf)
    # robust errors are asymptotic: normal quantiles, as statsmodels uses for them
    dist = scipy.stats.t(df) if cov == "nonrobust" else scipy.stats.norm()
    pvalues = 2 * dist.sf(np.abs(t))
    q = dist.ppf(1 - alpha / 2)
    order = [p - 1, *range(p - 1)] if fit.intercept else list(range(p))
    labels = [INTERCEPT_NAME, *names] if fit.intercept else list(names)
    return {
        labels[k]: Coefficient(
            float(theta[j]),
            float(se[j]),
            float(t[j]),
            float(pvalues[j]),
            float(theta[j] - q * se[j]),
            float(theta[j] + q * se[j]),
        )
        for k, j in enumerate(order)
    }


def _wald_f(theta, V, intercept: bool, df_model: int, df: int) -> tuple[float, float]:
    """The F test that every coefficient but the intercept is zero, from the covariance in
    use (with the classical one it is the ANOVA F)."""
    import scipy.stats

    if df_model == 0:
        return float("nan"), float("nan")
    keep = slice(0, len(theta) - 1) if intercept else slice(None)
    b, Vb = theta[keep], V[keep, keep]
    try:
        f = float(b @ np.linalg.solve(Vb, b)) / df_model
    except np.linalg.LinAlgError:
        return float("inf"), 0.0
    return f, float(scipy.stats.f.sf(f, df_model, df))


def covariance(fit: LeastSquaresFit, C: np.ndarray, design: Design, kind: str) -> np.ndarray:
    """White's heteroskedasticity-consistent covariance ``C M C`` (p, p), ``C`` the
    inverse Gram matrix and ``M = sum_i w_i r_i^2 x_i x_i^T``, with MacKinnon and White's
    weights: hc0 1, hc1 n / (n - p), hc2 1 / (1 - h_i), hc3 1 / (1 - h_i)^2, where
    ``h_i = x_i^T C x_i`` is the leverage. One pass over the rows."""
    theta = fit.theta

    def block(Xh: np.ndarray, Y: np.ndarray) -> np.ndarray:
        r = (Y.astype(EXTENDED) - Xh.astype(EXTENDED) @ theta.astype(EXTENDED))[:, 0]
        w = np.asarray(r * r, dtype=np.float64)
        if kind in ("hc2", "hc3"):
            h = np.einsum("ij,ij->i", Xh @ C, Xh)
            w = w / (1 - h) if kind == "hc2" else w / (1 - h) ** 2
        return Xh.T @ (w[:, None] * Xh)

    meat = design.reduce(block)
    V = C @ meat @ C
    if kind == "hc1":
        V = V * fit.n / (fit.n - theta.shape[0])
    return (V + V.T) / 2


def r_squared(rss: float, tss: float) -> float:
    """``1 - rss / tss`` (0 or 1 for a constant ``y``, as ``metrics.r2``); ``tss`` about
    the mean with an intercept, about zero without."""
    if tss > 0:
        return 1.0 - rss / tss
    return 0.0 if rss > 0 else 1.0


def total_sum_of_squares(
    y: np.ndarray, intercept: bool, weights: np.ndarray | None = None
) -> float:
    """``sum (y - mean)^2`` with an intercept, ``sum y^2`` without, in extended precision;
    with ``weights`` (n,), ``sum w (y - weighted mean)^2`` (or ``sum w y^2``)."""
    yx = np.asarray(y, dtype=EXTENDED).ravel()
    if weights is None:
        if intercept and yx.size:
            yx = yx - yx.sum() / yx.size
        return float(np.dot(yx, yx))
    wx = np.asarray(weights, dtype=EXTENDED)
    if intercept and yx.size:
        yx = yx - np.dot(wx, yx) / wx.sum()
    return float(np.dot(wx, yx * yx))
