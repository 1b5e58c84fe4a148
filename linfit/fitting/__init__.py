"""Training: ``fit`` (the one entry point), the solvers it runs, what it returns.

:mod:`~linfit.fitting.entry` turns raw data into a :class:`TrainedModel` through an engine
(:mod:`linfit.engines`) and a solver (:mod:`~linfit.fitting.solvers`: the optimizers of
:mod:`linfit.optim` and the closed forms of least squares); :mod:`~linfit.fitting.report`
says how a run ended; :mod:`~linfit.fitting.trained` is the fitted model, scored by
:mod:`~linfit.fitting.metrics`; :mod:`~linfit.fitting.workflow` is a run on a file, and
:mod:`~linfit.fitting.solve_ls` least squares with the diagnostics ``solve-ls`` reports.
"""

from linfit.fitting.entry import ENGINES, fit, make_engine, prepare_solver
from linfit.fitting.report import check_diverged, summarize
from linfit.fitting.solvers import SOLVERS, Problem, Solver, get_solver
from linfit.fitting.trained import TrainedModel, by_chunks

__all__ = [
    "ENGINES",
    "SOLVERS",
    "Problem",
    "Solver",
    "TrainedModel",
    "by_chunks",
    "check_diverged",
    "fit",
    "get_solver",
    "make_engine",
    "prepare_solver",
    "summarize",
]
