"""linfit's models and scikit-learn's closest ones on one split, scored on one objective."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linfit.engines.weights import ClassWeight, check_sample_weight, row_multipliers
from linfit.errors import ConvergenceWarning
from linfit.evaluation.baselines import fit_baselines
from linfit.fitting import TrainedModel, fit
from linfit.models import LinearModel


@dataclass(frozen=True)
class Row:
    """One system's result. ``objective`` is linfit's objective at that system's params,
    on the standardized training split, so every row is measured with the same ruler."""

    system: str
    objective: float
    metrics: dict[str, float]
    n_iter: int | None
    time_s: float
    optimizer: str | None = None  # linfit rows only
    converged: bool | None = None  # linfit rows only
    message: str | None = None  # linfit rows only: how training ended, with advice if unconverged
    history: tuple[float, ...] = field(default=(), repr=False)  # objective per iteration

    @property
    def is_baseline(self) -> bool:
        return self.optimizer is None

    def as_dict(self) -> dict[str, Any]:
        """The JSON/table form: system, objective, metrics, n_iter, converged, time_s.

        ``converged`` is None for scikit-learn's rows, whose stopping linfit does not judge.
        """
        return {
            "system": self.system,
            "objective": self.objective,
            **self.metrics,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "time_s": self.time_s,
        }


def compare_models(
    model: LinearModel,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    optimizers: Sequence[str | None] = (None,),
    baselines: bool = True,
    gtol: float = 1e-6,
    max_iter: int | None = None,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
    class_weight: ClassWeight = None,
) -> list[Row]:
    """Train ``model`` with each optimizer (None: its default), then scikit-learn's baselines.

    Raw ``X_*`` (n, d) and labels/values ``y_*`` (n,); every system sees the same
    standardization (the training split's) and the same training weights
    (``sample_weight`` (n_train,) and ``class_weight``, as ``linfit.fit`` takes them).
    ``seed`` fixes stochastic optimizers' shuffles.
    """
    rows, trained = [], None
    for optimizer in optimizers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # rows report convergence
            trained = fit(
                model, X_train, y_train, solver=optimizer, gtol=gtol, max_iter=max_iter,
                seed=seed, sample_weight=sample_weight, class_weight=class_weight,
            )  # fmt: skip
        result = trained.result
        rows.append(
            Row(
                system=f"linfit {model.describe()} ({result.method})",
                objective=result.fun,
                metrics={
                    **trained.scores(X_train, y_train, "train"),
                    **trained.scores(X_test, y_test, "test"),
                },
                n_iter=result.nit,
                time_s=trained.summary["time_s"],
                optimizer=result.method,
                converged=result.success,
                message=trained.summary["message"],
                history=tuple(r.fun for r in result.history),
            )
        )
    if baselines and trained is not None:
        weights = (sample_weight, class_weight)
        rows.extend(_baseline_rows(model, trained, X_train, y_train, X_test, y_test, weights))
    return rows


def _baseline_rows(
    model: LinearModel, trained: TrainedModel, X_train, y_train, X_test, y_test, weights
) -> list[Row]:
    """scikit-learn's rows, each scored by linfit's (weighted) objective; ``weights`` is
    ``(sample_weight, class_weight)`` as linfit's fit took them."""
    Xs = trained.scaler.transform(X_train)
    targets = trained.class_codes(y_train) if trained.classes is not None else y_train
    sample_weight, class_weight = weights
    u = row_multipliers(
        check_sample_weight(sample_weight, Xs.shape[0]), class_weight, trained.classes, targets
    )
    rows = []
    for baseline in fit_baselines(model, Xs, targets, u):
        as_linfit = dataclasses.replace(trained, params=baseline.params)
        rows.append(
            Row(
                system=baseline.name,
                objective=model.loss(baseline.params, Xs, targets, u),
                metrics={
                    **as_linfit.scores(X_train, y_train, "train"),
                    **as_linfit.scores(X_test, y_test, "test"),
                },
                n_iter=baseline.n_iter,
                time_s=baseline.time_s,
            )
        )
    return rows
