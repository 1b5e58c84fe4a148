"""How a fit ended, in words a user can act on: the summary, its advice, the divergence check."""

from __future__ import annotations

from typing import Any

from linfit.errors import DivergenceError
from linfit.optim import OptimizeResult, Status
from linfit.optim.result import DIVERGENCE_FACTOR

# Below this many rows a full pass takes milliseconds, so a deterministic optimizer
# reaches the optimum long before sgd's noisy steps do (on iris's 120 training rows, 10
# epochs of sgd end at 3.7 times the optimum that lbfgs reaches in 0.02 s).
SGD_SMALL_DATA_ROWS = 10_000


def check_diverged(result: OptimizeResult) -> None:
    """Refuse to keep a run whose objective diverged (see ``Run.diverged``); the error
    carries the run's ``result``."""
    if result.status == Status.DIVERGED:
        error = DivergenceError(
            "training diverged (the objective became NaN or infinite, or rose more than "
            f"{DIVERGENCE_FACTOR:g} x max(1, |f0|) above its start f0), so no model was saved; "
            "use the line search (drop `lr`), a smaller `lr`, or standardized features"
        )
        error.result = result
        raise error


def summarize(
    result: OptimizeResult,
    elapsed: float,
    gtol: float,
    *,
    smooth: bool,
    standardized: bool,
    rather: str | None = None,
) -> dict[str, Any]:
    """How an optimization ended, in JSON-ready form, with advice where it did not converge.

    ``rather`` names the optimizer to advise instead of "another" one: the model's default,
    when a stochastic optimizer ran on data small enough for full passes.

    The advice names ``fit``'s parameters (``max_iter``, ``solver``, ``gtol``,
    ``standardize``) in backquotes, as the library's errors do: a caller shows them as its
    own options (the command line as its flags, through ``linfit.cli.app.FLAGS``).
    """
    message = _end_message(result, gtol)
    if not result.success and result.status not in (Status.DIVERGED, Status.STOPPED):
        message += f" (max |gradient| {result.grad_norm:.3g})"
        if not smooth:
            message += (
                "; expected for a loss with kinks, whose gradient need not vanish even at "
                "the optimum (a squared-hinge loss is smooth)"
            )
        else:
            message += "; try " + ", ".join(_advice(result, standardized, rather))
    return {
        "optimizer": result.method,
        "converged": result.success,
        "status": result.status.name.lower(),
        "message": message,
        "n_iter": result.nit,
        "n_fev": result.nfev,
        "objective": result.fun,
        "grad_norm": result.grad_norm,
        "time_s": elapsed,
    }


def _end_message(result: OptimizeResult, gtol: float) -> str:
    """How the run ended, in a phrase: the solver's message, or a closed form, or the
    iteration limit reached."""
    if result.status == Status.CLOSED_FORM:
        return f"closed form ({result.method})"
    if result.status == Status.MAX_ITER:
        return f"not converged: stopped at max_iter={result.nit}, tol {gtol:g}"
    return result.message


def _advice(result: OptimizeResult, standardized: bool, rather: str | None) -> list[str]:
    """What to try after a smooth run that did not converge, naming ``fit``'s parameters."""
    advice = [] if standardized else ["standardized features (`standardize`)"]
    if result.status == Status.MAX_ITER:
        advice.append("more `max_iter`")
    if rather:
        advice.append(
            f"`solver` {rather} (sgd is for data too large for full passes: below "
            f"{SGD_SMALL_DATA_ROWS:,} rows {rather} converges sooner)"
        )
    else:
        advice.append("another `solver`")
    advice.append("a larger `gtol`")
    return advice
