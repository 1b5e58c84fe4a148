"""Fit a model on raw data: encode labels, standardize, optimize, and keep what prediction needs."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from linfit.chunked import chunked_objective, row_chunks
from linfit.data import align_labels
from linfit.data.stream import DEFAULT_CHUNK_ROWS
from linfit.errors import ConvergenceWarning, DataError, DivergenceError, OptionError
from linfit.metrics import confusion_matrix, scores
from linfit.models import LinearModel
from linfit.optim import OPTIMIZERS, Callback, Objective, OptimizeResult, Status, get_optimizer
from linfit.optim.registry import DEFAULT_FTOL, DEFAULT_GTOL, Optimizer, check_options
from linfit.optim.result import DIVERGENCE_FACTOR
from linfit.preprocess import Scaler, encode_labels

# A float target with more distinct values than this (and than a fifth of the rows) is
# more likely a regression target than a set of class labels.
MANY_CLASSES = 50
# Below this many rows a full pass takes milliseconds, so a deterministic optimizer
# reaches the optimum long before sgd's noisy steps do (on iris's 120 training rows, 10
# epochs of sgd end at 3.7 times the optimum that lbfgs reaches in 0.02 s).
SGD_SMALL_DATA_ROWS = 10_000


@dataclass(frozen=True)
class TrainedModel:
    """A model with its fitted parameters and everything needed to use them on raw data.

    ``params`` are in the units of the *scaled* features (flat ``[W.ravel(), b]``);
    ``coefficients()`` gives them in the raw features' units.
    """

    model: LinearModel
    params: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    scaler: Scaler
    classes: np.ndarray | None = None  # (K,) original labels, classifiers only
    summary: dict[str, Any] = field(default_factory=dict)
    encode: str = "none"  # how non-numeric columns became features ("none" or "onehot")
    feature_means: np.ndarray | None = None  # (n_features,) raw training means, for imputing

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores (n_samples, K) for raw features ``X`` (n_samples, n_features)."""
        return self._apply(self.model.decision_function, X)

    def _apply(self, method: Callable[..., np.ndarray], X: np.ndarray) -> np.ndarray:
        """``method(params, scaled X)`` for one of the model's methods, by blocks of rows
        when ``X`` is a matrix on disk. A sparse ``X`` is not scaled (centring would make
        it dense): the method gets the weights in raw units, the scaling folded in."""
        if sp.issparse(X):
            return method(self.model.pack(*self.coefficients()), X)
        return by_chunks(X, lambda B: method(self.params, self.scaler.transform(B)))

    def _codes(self, X: np.ndarray) -> np.ndarray:
        """The model's raw predictions: class codes (n,), or values (n, K)."""
        return self._apply(self.model.predict, X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Original class labels (n_samples,), or values (n_samples,) / (n_samples, K)."""
        out = self._codes(X)
        if self.classes is not None:
            return self.classes[out]
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n_samples, K), columns in the order of ``classes``."""
        if not hasattr(self.model, "predict_proba"):
            raise OptionError(
                f"model {self.model.describe()} gives no probabilities; only softmax does"
            )
        return self._apply(self.model.predict_proba, X)

    def class_codes(self, y: np.ndarray) -> np.ndarray:
        """Codes (n,) of labels ``y`` into ``classes``; -1 for a label the model never saw."""
        return align_labels(y, self.classes)

    def scores(self, X: np.ndarray, y: np.ndarray, prefix: str) -> dict[str, float]:
        """Accuracy, or R^2 and RMSE, of predictions on raw ``X`` against ``y``; {} if empty.

        Labels are matched to ``classes`` as ``align_labels`` does (an unseen label
        counts as wrong), so a file whose labels read as numbers still scores.
        """
        if y.shape[0] == 0:
            return {}
        if self.classes is None:
            return scores(False, y, self.predict(X), prefix)
        return scores(True, self.class_codes(y), self._codes(X), prefix)

    def confusion(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
        """Counts (K, K), rows true and columns predicted class, and how many labels of
        ``y`` the model never saw (left out of the matrix)."""
        codes = self.class_codes(y)
        known = codes >= 0
        predicted = self._codes(X)[known]
        return confusion_matrix(codes[known], predicted, self.classes.size), int((~known).sum())

    def coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """``(W (n_features, K), b (K,))`` for raw features: standardization undone."""
        W, b = self.model.unpack(self.params, self.n_features)
        return self.scaler.unscale(W, b)


def by_chunks(
    X: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> np.ndarray:
    """``fn(X)`` for an array in memory; for a matrix on disk (a RowFile), ``fn`` over
    blocks of ``chunk_rows`` rows, concatenated, so memory holds one block of ``X``."""
    if isinstance(X, np.ndarray):
        return fn(X)
    parts = [fn(np.asarray(X[rows])) for rows in row_chunks(X.shape[0], chunk_rows)]
    return np.concatenate(parts) if parts else fn(np.asarray(X[0:0]))


def _column_means(X: np.ndarray, chunk_rows: int | None) -> np.ndarray:
    """(n_features,) float64 means of ``X``'s columns, a chunk at a time when asked."""
    if chunk_rows is None:
        return np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()  # sparse: a matrix
    return Scaler.fit_chunks(X, chunk_rows).mean


def fit(
    model: LinearModel,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: str | None = None,
    standardize: bool = True,
    feature_names: tuple[str, ...] | None = None,
    target_name: str = "target",
    gtol: float = DEFAULT_GTOL,
    ftol: float = DEFAULT_FTOL,
    max_iter: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    chunk_rows: int | None = None,
) -> tuple[TrainedModel, OptimizeResult]:
    """Train ``model`` on raw ``X`` (n_samples, n_features) and targets ``y`` (n_samples,).

    Classifiers take any labels (encoded here, predicted back in the originals). The
    optimizer defaults to the model's; an optimizer that needs a Hessian is refused for
    a model without one before any work is done; ``max_iter`` defaults to the optimizer's
    own limit, and ``lr``, ``batch_size`` go to the optimizers that take them (``seed``
    to those that draw random numbers, such as sgd's shuffles). With ``chunk_rows``, ``X``
    (which may be a read-only memmap) is read and standardized a chunk of rows at a time, so
    memory holds one chunk of it (see ``linfit.chunked``). Returns the trained model, whose
    ``summary`` records how training ended, and the optimizer's full result.
    """
    minimizer, options = prepare_optimizer(
        model, optimizer, lr=lr, batch_size=batch_size, seed=seed, gtol=gtol, max_iter=max_iter
    )
    max_iter = minimizer.default_max_iter if max_iter is None else max_iter
    if chunk_rows is not None and chunk_rows < 1:
        raise OptionError(f"--chunksize must be at least 1 row, got {chunk_rows}")
    if sp.issparse(X):
        _check_sparse(model, chunk_rows)

    if model.is_classifier:
        classes, targets = encode_labels(y)
        if classes.size > max(MANY_CLASSES, y.shape[0] // 5) and y.dtype.kind == "f":
            warnings.warn(
                f"the target {target_name!r} has {classes.size} distinct values for "
                f"{y.shape[0]} rows: it looks continuous, and each value becomes a class; "
                "for a regression use --model least-squares or relu",
                UserWarning,
                stacklevel=2,
            )
    elif y.dtype.kind in "iufb":
        classes, targets = None, y.astype(np.float64, copy=False)
    else:
        raise DataError(
            f"target {target_name!r} is not numeric, but {model.name} is a regression model; "
            "use a classifier (softmax, svm) or a numeric --target"
        )
    if chunk_rows is None:
        scaler = Scaler.fit(X) if standardize else Scaler.identity(X.shape[1])
        Xs = scaler.transform(X)  # a sparse X is scaled, not centred, and stays sparse
        Xs = Xs if sp.issparse(Xs) else np.ascontiguousarray(Xs)
        x0, objective = model.initial_params(Xs, targets), model.objective(Xs, targets)
    else:
        scaler = Scaler.fit_chunks(X, chunk_rows) if standardize else Scaler.identity(X.shape[1])
        Xs = scaler.transform(np.asarray(X[:chunk_rows]))  # the first chunk, to start from
        # convex models start at zero; others from their own rule, on the first chunk
        x0 = (
            np.zeros((X.shape[1] + 1) * model.n_outputs(targets))
            if model.convex
            else model.initial_params(Xs, targets[:chunk_rows])
        )
        objective = chunked_objective(model, X, targets, chunk_rows=chunk_rows, scaler=scaler)

    result, summary = run_optimizer(
        model,
        minimizer,
        objective,
        x0,
        options,
        gtol=gtol,
        ftol=ftol,
        max_iter=max_iter,
        callback=callback,
        standardized=standardize,
    )
    model.check_solution(result.x, Xs, targets[: Xs.shape[0]])
    trained = TrainedModel(
        model=model,
        params=result.x,
        feature_names=tuple(feature_names or (f"x{i}" for i in range(X.shape[1]))),
        target_name=target_name,
        scaler=scaler,
        classes=classes,
        summary=summary,
        feature_means=(
            scaler.mean if standardize and not sp.issparse(X) else _column_means(X, chunk_rows)
        ),
    )
    return trained, result


def _check_sparse(model: LinearModel, chunk_rows: int | None) -> None:
    """Refuse what a sparse X cannot do yet: ReLU's start (a dense least-squares solve)
    and chunked reading (of a dense array or memmap)."""
    if not model.convex:
        raise OptionError(
            f"{model.describe()} starts from a dense least-squares solve, so it does not train "
            "on sparse data yet; use least-squares, or data small enough to be made dense"
        )
    if chunk_rows is not None:
        raise OptionError("chunk_rows reads a dense array or memmap by chunks, not a sparse X")


def prepare_optimizer(
    model: LinearModel,
    optimizer: str | None,
    *,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    gtol: float,
    max_iter: int | None,
) -> tuple[Optimizer, dict[str, Any]]:
    """The optimizer (default: the model's) and its options, checked before any work: an
    optimizer that needs a Hessian is refused for a model without one, and ``lr`` or
    ``batch_size`` for an optimizer that does not take it."""
    name = optimizer or model.default_optimizer
    minimizer = get_optimizer(name)
    if minimizer.needs_hessian:
        model.require_hessian()
    options: dict[str, Any] = {}
    for option, value in (("lr", lr), ("batch_size", batch_size)):
        if value is None:
            continue
        if option not in minimizer.options:
            takers = " and ".join(n for n, o in OPTIMIZERS.items() if option in o.options)
            raise OptionError(f"--{option.replace('_', '-')} is an option of {takers}, not {name}")
        options[option] = value
    check_options(options)
    if "seed" in minimizer.options:
        options["seed"] = seed
    if not model.differentiable:
        options.update(minimizer.nonsmooth_options)
    for option, limit in (("--tol", gtol), ("--max-iter", max_iter)):
        if limit is not None and not limit >= 0:
            raise OptionError(f"{option} must be >= 0, got {limit}")
    return minimizer, options


def check_diverged(result: OptimizeResult) -> None:
    """Refuse to keep a run whose objective diverged (see ``Run.diverged``)."""
    if result.status == Status.DIVERGED:
        raise DivergenceError(
            "training diverged (the objective became NaN or infinite, or rose more than "
            f"{DIVERGENCE_FACTOR:g} x max(1, |f0|) above its start f0), so no model was saved; "
            "use the line search (drop --lr), a smaller --lr, or standardized features"
        )


def run_optimizer(
    model: LinearModel,
    minimizer: Optimizer,
    objective: Objective,
    x0: np.ndarray,
    options: dict[str, Any],
    *,
    gtol: float,
    ftol: float,
    max_iter: int,
    callback: Callback | None,
    standardized: bool,
) -> tuple[OptimizeResult, dict[str, Any]]:
    """Minimize ``objective`` from ``x0``, timed; the result and its ``summarize``d form.

    The optimizer's bare max_iter warning is silenced; the one that reaches the caller is
    the summary's, which adds the advice.
    """
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        result = minimizer(
            objective, x0, gtol=gtol, ftol=ftol, max_iter=max_iter, callback=callback, **options
        )
    elapsed = time.perf_counter() - start
    small = minimizer.stochastic and (objective.n_samples or 0) < SGD_SMALL_DATA_ROWS
    summary = summarize(
        result, elapsed, gtol, smooth=model.differentiable, standardized=standardized,
        rather=model.default_optimizer if small else None,
    )  # fmt: skip
    if result.status == Status.MAX_ITER:
        warnings.warn(summary["message"], ConvergenceWarning, stacklevel=3)
    return result, summary


def summarize(
    result: OptimizeResult,
    elapsed: float,
    gtol: float,
    *,
    smooth: bool,
    standardized: bool,
    flags: dict[str, str | None] | None = None,
    rather: str | None = None,
) -> dict[str, Any]:
    """How an optimization ended, in JSON-ready form, with advice where it did not converge.

    ``rather`` names the optimizer to advise instead of "another" one: the model's default,
    when a stochastic optimizer ran on data small enough for full passes.

    The advice names the calling command's options, given in ``flags`` by role:
    ``"max_iter"``, ``"optimizer"`` (the option choosing the method), ``"tol"`` and
    ``"standardize"``; a role mapped to None is advised without a flag name, or (all but
    ``"standardize"``) not at all, since the command lacks it. Roles left out default to
    ``linfit train``'s options (``--max-iter``, ``--optimizer``, ``--tol``).
    """
    names = {
        "max_iter": "--max-iter",
        "optimizer": "--optimizer",
        "tol": "--tol",
        "standardize": None,
        **(flags or {}),
    }
    unknown = names.keys() - {"max_iter", "optimizer", "tol", "standardize"}
    if unknown:
        raise ValueError(f"unknown flag role(s) {sorted(unknown)} in summarize(flags=...)")
    message = result.message
    if result.status == Status.MAX_ITER:
        message = f"not converged: stopped at max_iter={result.nit}, tol {gtol:g}"
    if not result.success and result.status not in (Status.DIVERGED, Status.STOPPED):
        message += f" (max |gradient| {result.grad_norm:.3g})"
        if not smooth:
            message += (
                "; expected for a loss with kinks, whose gradient need not vanish even at "
                "the optimum (a squared-hinge loss is smooth)"
            )
        else:
            advice = []
            if not standardized:
                flag = names["standardize"]
                advice.append("standardized features" + (f" ({flag})" if flag else ""))
            if result.status == Status.MAX_ITER and names["max_iter"]:
                advice.append(f"more {names['max_iter']}")
            if names["optimizer"] and rather:
                advice.append(
                    f"{names['optimizer']} {rather} (sgd is for data too large for full "
                    f"passes: below {SGD_SMALL_DATA_ROWS:,} rows {rather} converges sooner)"
                )
            elif names["optimizer"]:
                advice.append(f"another {names['optimizer']}")
            if names["tol"]:
                advice.append(f"a larger {names['tol']}")
            if advice:
                message += "; try " + ", ".join(advice)
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
