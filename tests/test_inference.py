"""The regression table against statsmodels' OLS on random well-conditioned problems, and
its refusals. Relative agreement 1e-10 on every figure (measured ~1e-13: p-values of
1e-12 carry the most relative rounding)."""

from __future__ import annotations

import numpy as np
import pytest

from linfit.errors import SolverError, UnknownNameError
from linfit.fitting.inference import infer, total_sum_of_squares
from linfit.fitting.solve_ls import solve_least_squares
from linfit.linalg.design import RowDesign
from linfit.linalg.lsq import solve

sm = pytest.importorskip("statsmodels.api", reason="statsmodels is the oracle (dev extra)")

RTOL = 1e-10


def _problem(seed: int, n: int = 120, d: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 20, d) + rng.normal(size=d)
    noise = rng.normal(size=n) * (1 + np.abs(X[:, 0]) / 10)  # heteroskedastic
    return X, X @ rng.normal(size=d) + 3 + noise


def _close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0, err_msg=what)


@pytest.mark.parametrize("cov", ["nonrobust", "hc0", "hc1", "hc2", "hc3"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_figure_equals_statsmodels(cov, intercept, seed):
    X, y = _problem(seed)
    design = RowDesign(X, y[:, None], intercept)
    table = infer(
        solve(design, "auto"), design, ["a", "b", "c", "d"], total_sum_of_squares(y, intercept),
        cov=cov, alpha=0.1,
    )  # fmt: skip
    exog = sm.add_constant(X, prepend=True) if intercept else X
    ols = sm.OLS(y, exog).fit(cov_type="nonrobust" if cov == "nonrobust" else cov.upper())
    rows = list(table.coef.values())
    assert next(iter(table.coef)) == ("(intercept)" if intercept else "a")
    _close([r.estimate for r in rows], ols.params, "estimate")
    _close([r.std_err for r in rows], ols.bse, "std_err")
    _close([r.t for r in rows], ols.tvalues, "t")
    _close([r.p for r in rows], ols.pvalues, "p")
    ci = ols.conf_int(alpha=0.1)
    _close([r.ci_low for r in rows], ci[:, 0], "ci_low")
    _close([r.ci_high for r in rows], ci[:, 1], "ci_high")
    for ours, theirs in [
        (table.r2, ols.rsquared), (table.adj_r2, ols.rsquared_adj), (table.f, ols.fvalue),
        (table.f_p, ols.f_pvalue), (table.loglik, ols.llf), (table.aic, ols.aic),
        (table.bic, ols.bic), (table.residual_se, np.sqrt(ols.scale)),
    ]:  # fmt: skip
        _close(ours, theirs, "fit statistics")
    assert (table.n, table.df_resid, table.df_model) == (120, ols.df_resid, ols.df_model)


def test_the_json_object_holds_the_documented_keys():
    X, y = _problem(3)
    report = solve_least_squares(X, y, feature_names=["a", "b", "c", "d"])
    payload = report.inference.to_dict()
    assert set(payload["coef"]) == {"(intercept)", "a", "b", "c", "d"}
    assert set(payload["coef"]["a"]) == {"estimate", "std_err", "t", "p", "ci_low", "ci_high"}
    assert {
        "residual_se",
        "r2",
        "adj_r2",
        "f",
        "f_p",
        "loglik",
        "aic",
        "bic",
        "n",
        "df_resid",
    } <= set(payload)


def test_the_table_out_of_core_is_the_table_in_memory(tmp_path, monkeypatch):
    """Computed from the triangle and passes over the rows: a matrix on disk, read in
    blocks, gives the same figures (1e-10) as the matrix in memory, robust errors too."""
    from linfit.data.rowfile import RowWriter
    from linfit.linalg import blocks

    monkeypatch.setattr(blocks, "BLOCK_BYTES", 16 * 4 * 8)
    monkeypatch.setattr(blocks, "MIN_BLOCK_ROWS", 1)
    X, y = _problem(4)
    writer = RowWriter(tmp_path / "x.bin", np.float64)
    writer.append(X)
    on_disk = writer.close()
    assert len(blocks.row_blocks(on_disk)) > 1
    for cov in ("nonrobust", "hc3"):
        here = solve_least_squares(X, y, cov=cov).inference
        there = solve_least_squares(on_disk, y, cov=cov).inference
        for name, row in here.coef.items():
            _close(list(vars(there.coef[name]).values()), list(vars(row).values()), name)
        _close(there.f, here.f, "F")


def test_refusals_are_one_line_errors():
    X, y = _problem(5)
    design = RowDesign(X, y[:, None], True)
    tss = total_sum_of_squares(y, True)
    with pytest.raises(SolverError, match="penalized"):
        infer(solve(design, "auto", reg=0.1), design, list("abcd"), tss)
    with pytest.raises(UnknownNameError, match="hc3"):
        infer(solve(design, "auto"), design, list("abcd"), tss, cov="hc4")
    with pytest.raises(Exception, match="alpha"):
        infer(solve(design, "auto"), design, list("abcd"), tss, alpha=1.5)
    # a rank-deficient design has no table (its coefficients are not identified)
    Xd = np.column_stack([X, X[:, 0] + X[:, 1]])
    # x4 = x0 + x1, said by whichever of the three the pivoting puts last
    with pytest.warns(
        Warning, match=r"rank-deficient \(rank 5 of 6\): x[014] ≈ [−]?x[014] [+−] x[014];"
    ):
        report = solve_least_squares(Xd, y)
    assert report.inference is None and report.rank == 5


@pytest.mark.parametrize("cov", ["nonrobust", "hc0", "hc3"])
@pytest.mark.parametrize("intercept", [True, False])
def test_weighted_table_equals_statsmodels_wls(cov, intercept):
    """Weighted least squares through solve_least_squares: every figure equals
    statsmodels' WLS with the same weights (1e-10), the fit's R^2 and residual too."""
    X, y = _problem(3)
    w = np.random.default_rng(4).uniform(0.2, 5.0, y.size)
    report = solve_least_squares(X, y, fit_intercept=intercept, sample_weight=w, cov=cov)
    exog = sm.add_constant(X, prepend=True) if intercept else X
    wls = sm.WLS(y, exog, weights=w).fit(
        cov_type="nonrobust" if cov == "nonrobust" else cov.upper()
    )
    rows = list(report.inference.coef.values())
    _close([r.estimate for r in rows], wls.params, "estimate")
    _close([r.std_err for r in rows], wls.bse, "std_err")
    _close([r.p for r in rows], wls.pvalues, "p")
    table = report.inference
    for ours, theirs in [
        (table.r2, wls.rsquared), (table.adj_r2, wls.rsquared_adj), (table.f, wls.fvalue),
        (table.loglik, wls.llf), (table.aic, wls.aic), (table.bic, wls.bic),
        (report.r2, wls.rsquared), (report.residual_norm**2, wls.ssr),
    ]:  # fmt: skip
        assert ours == pytest.approx(theirs, rel=RTOL)


def test_zero_weights_are_rows_left_out():
    """A row of weight 0 is no observation (as in R's lm): the table equals the one
    without those rows, degrees of freedom included."""
    X, y = _problem(5)
    w = np.random.default_rng(6).uniform(0.2, 5.0, y.size)
    w[::7] = 0.0
    keep = w > 0
    zeroed = solve_least_squares(X, y, sample_weight=w).inference
    dropped = solve_least_squares(X[keep], y[keep], sample_weight=w[keep]).inference
    assert zeroed.df_resid == dropped.df_resid == keep.sum() - X.shape[1] - 1
    for a, b in zip(zeroed.coef.values(), dropped.coef.values(), strict=True):
        assert a.std_err == pytest.approx(b.std_err, rel=1e-12)
