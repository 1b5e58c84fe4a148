"""Sparse, wide fits (issue 16): linfit against LIBLINEAR and scikit-learn on the
rcv1-like (binary) and news20-like (20 classes) problems of ``bench/sparse.py``.

Penalties are matched: LIBLINEAR's ``C`` is ``reg = 1 / (2 C n)`` for the SVMs. Softmax on
two classes is logistic regression on the score ``s_0 - s_1 = 2 u`` (linfit searches the
mirror ``W = [u, -u]``), whose penalty ``2 reg |u|^2`` is ``reg / 2 |w|^2``: the same
problem as LIBLINEAR's logistic ``-s 0`` at ``reg = 1 / (C n)``.

Each LIBLINEAR model is also scored with linfit's objective (its weights mapped to
linfit's columns): where the losses match, linfit's optimum must be as low within 1e-4
relative. LIBLINEAR penalizes its bias (``-B 1``) where linfit does not, so its weights
are a feasible point of linfit's problem, not its optimum, and the comparison is fair.
Every fit is timed as the median of three (LIBLINEAR from its own problem structure, built
once and not timed, as linfit's matrix is).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.external import installed, missing
from bench.harness import Row, interleaved_times, median_ratio, median_timed, timed
from bench.sparse import SparseData

C = 1.0
# LIBLINEAR's solvers by -s number, as the rows name them.
LIBLINEAR = {
    0: "LIBLINEAR -s 0 (logistic, primal trust-region Newton)",
    1: "LIBLINEAR -s 1 (squared hinge, dual CD)",
    2: "LIBLINEAR -s 2 (squared hinge, primal trust-region Newton)",
    3: "LIBLINEAR -s 3 (hinge, dual CD)",
    4: "LIBLINEAR -s 4 (Crammer-Singer)",
    7: "LIBLINEAR -s 7 (logistic, dual CD)",
}
OBJECTIVE_RTOL = 1e-4
ACCURACY_POINTS = 0.003


def liblinear_fit(data: SparseData, solver: int, C: float = C) -> tuple[Any, float] | None:
    """LIBLINEAR ``-s solver -c C -B 1`` on the training rows: ``((W (d, K), b (K,),
    test accuracy), median fit time)``, W's columns in linfit's class order; None when
    liblinear-official is not installed."""
    if not installed("liblinear"):
        return None
    from liblinear.liblinearutil import parameter, predict, problem, train

    labels = data.y_train.astype(np.float64)
    prob = problem(labels, data.X_train)
    model, t = median_timed(lambda: train(prob, parameter(f"-s {solver} -c {C!r} -B 1 -q")))
    predicted, _, _ = predict(data.y_test.astype(np.float64), data.X_test, model, "-q")
    accuracy = float(np.mean(np.asarray(predicted) == data.y_test))
    return (*liblinear_weights(model, data.X_train.shape[1], data.n_classes), accuracy), t


def liblinear_weights(model: Any, d: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """A LIBLINEAR model's weights as linfit's columns: ``W`` (d, K), ``b`` (K,), column k
    scoring class code k. LIBLINEAR keeps one column for two classes (positive for its
    first label); its bias is the last feature's weight times ``-B``'s value."""
    nr_w = 1 if K == 2 and model.param.solver_type != 4 else K
    w = np.ctypeslib.as_array(model.w, shape=(model.nr_feature + 1, nr_w)).copy()
    w[-1] *= model.bias
    labels = [int(label) for label in model.get_labels()]
    if nr_w == 1:
        w = np.hstack([w, -w])  # the second label's decision is the first's negative
    order = np.argsort(labels)  # LIBLINEAR's columns follow its labels' first appearance
    w = w[:, order]
    if d > model.nr_feature:  # features no training row has: zero weights
        w = np.vstack([w[:-1], np.zeros((d - model.nr_feature, K)), w[-1:]])
    return w[:-1], w[-1]


def _linfit(
    model: Any, data: SparseData, solver: str | None = None, repeat: int = 3
) -> tuple[Any, float, float]:
    """``(trained, median time, test accuracy)`` of ``linfit.fit`` on the raw CSR rows."""
    import linfit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a kinked loss at max_iter: its row says so
        trained, t = median_timed(
            lambda: linfit.fit(model, data.X_train, data.y_train, solver=solver,
                               standardize=False),
            repeat,
        )  # fmt: skip
    return trained, t, float(np.mean(trained.predict(data.X_test) == data.y_test))


def _objective(model: Any, W: np.ndarray, b: np.ndarray, data: SparseData) -> float:
    return model.loss(model.pack(W, b), data.X_train, data.y_train)


def _rows_for_loss(
    workload: str,
    data: SparseData,
    label: str,
    model: Any,
    solvers: list[str | None],
    baselines: dict[str, tuple[Any, float] | None],
    scale: float = 1.0,
) -> list[Row]:
    """LIBLINEAR's rows for one loss and linfit's against the fastest of them: time ratio
    <= 1, objective within OBJECTIVE_RTOL of each LIBLINEAR's (scored by linfit's),
    accuracy within ACCURACY_POINTS. ``scale`` maps LIBLINEAR's weights to the model's."""
    rows, measured = [], {}
    for system, result in baselines.items():
        if result is None:
            rows.append(missing(workload, system, "liblinear-official"))
            continue
        (W, b, accuracy), t = result
        f = _objective(model, scale * W, scale * b, data)
        measured[system] = (t, f, accuracy)
        rows.append(
            Row(workload, system, t, quality=f"test accuracy {accuracy:.4f}, objective {f:.8g}")
        )
    fastest = min(measured.items(), key=lambda item: item[1][0], default=None)
    for solver in solvers:
        trained, t, accuracy = _linfit(model, data, solver)
        f = trained.result.fun
        name = f"linfit {label} ({solver or 'default: ' + trained.result.method})"
        if fastest is None:
            rows.append(Row(workload, name, t, quality=f"test accuracy {accuracy:.4f}"))
            continue
        base, (t_base, _, _) = fastest
        f_worst = min(m[1] for m in measured.values())
        acc_best = max(m[2] for m in measured.values())
        holds = (
            t / t_base <= 1.0
            and f <= f_worst * (1 + OBJECTIVE_RTOL)
            and accuracy >= acc_best - ACCURACY_POINTS
        )
        rows.append(
            Row(
                workload, name, t, base, t / t_base,
                f"test accuracy {accuracy:.4f}, objective {f:.8g} "
                f"({(f - f_worst) / f_worst:+.1e} vs LIBLINEAR's best), {trained.result.nit} it.",
                "<= 1x, objective within 1e-4, accuracy within 0.3 point", holds,
            )
        )  # fmt: skip
    return rows


def rcv1(data: SparseData) -> list[Row]:
    """The binary text problem: squared hinge, hinge and logistic regression."""
    from linfit.models import LinearSVM, SoftmaxClassifier

    workload = "sparse rcv1-like binary fit"
    n = data.X_train.shape[0]
    reg = 1.0 / (2 * C * n)
    ll = {s: liblinear_fit(data, s) for s in (0, 7, 1, 2, 3)}
    rows = _rows_for_loss(
        workload, data, "svm squared hinge",
        LinearSVM(reg=reg, variant="squared_hinge", multiclass="one-vs-rest"), [None, "tron"],
        {LIBLINEAR[s]: ll[s] for s in (1, 2)},
    )  # fmt: skip
    rows += _rows_for_loss(
        workload, data, "svm hinge",
        LinearSVM(reg=reg, variant="hinge", multiclass="one-vs-rest"), [None],
        {LIBLINEAR[3]: ll[3]},
    )  # fmt: skip
    rows += _rows_for_loss(
        workload, data, "softmax = logistic", SoftmaxClassifier(reg=2 * reg), [None],
        {LIBLINEAR[s]: ll[s] for s in (0, 7)},
        scale=0.5,
    )  # fmt: skip
    rows.append(_sklearn_logistic(workload, data))
    rows += sgd_against_vw(workload, data)
    return rows


def _sklearn_logistic(workload: str, data: SparseData) -> Row:
    """scikit-learn's LogisticRegression (lbfgs) at the same C: a reference time."""
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # at its iteration limit it is still a baseline
        clf, t = timed(
            lambda: LogisticRegression(C=C, max_iter=1000).fit(data.X_train, data.y_train)
        )
    accuracy = float(np.mean(clf.predict(data.X_test) == data.y_test))
    return Row(workload, "sklearn LogisticRegression (lbfgs)", t,
               quality=f"test accuracy {accuracy:.4f}, {int(np.max(clf.n_iter_))} it.")  # fmt: skip


def news20(data: SparseData) -> list[Row]:
    """The 20-class text problem: one-vs-rest squared hinge against LIBLINEAR's, softmax
    and Weston-Watkins (other models than LIBLINEAR's one-vs-rest logistic and
    Crammer-Singer: time and accuracy side by side)."""
    from linfit.models import LinearSVM, SoftmaxClassifier

    workload = "sparse news20-like 20-class fit"
    n = data.X_train.shape[0]
    reg = 1.0 / (2 * C * n)
    ll = {s: liblinear_fit(data, s) for s in (1, 2, 0, 4)}
    rows = _rows_for_loss(
        workload, data, "svm squared hinge one-vs-rest",
        LinearSVM(reg=reg, variant="squared_hinge", multiclass="one-vs-rest"), [None, "tron"],
        {LIBLINEAR[s]: ll[s] for s in (1, 2)},
    )  # fmt: skip
    for s in (0, 4):  # other models than linfit's: time and accuracy only
        if ll[s] is None:
            rows.append(missing(workload, LIBLINEAR[s], "liblinear-official"))
        else:
            (_, _, accuracy), t = ll[s]
            rows.append(Row(workload, LIBLINEAR[s], t, quality=f"test accuracy {accuracy:.4f}"))
    cs = ll[4][1] if ll[4] is not None else None
    for label, model in (
        ("softmax", SoftmaxClassifier(reg=reg)),
        ("svm Weston-Watkins hinge", LinearSVM(reg=reg, variant="hinge")),
    ):
        ww = label.startswith("svm")
        trained, t, accuracy = _linfit(model, data, repeat=3)
        rows.append(
            Row(
                workload, f"linfit {label} ({trained.result.method})", t,
                "LIBLINEAR -s 4" if cs else None, t / cs if cs else None,
                f"test accuracy {accuracy:.4f}, {trained.result.nit} it., "
                f"{trained.result.message.split(':')[0]}",
                "<= 2x" if ww and cs else "", (t / cs <= 2.0) if ww and cs else None,
            )
        )  # fmt: skip
    return rows


VW_ROUNDS = 5
VW_PASS = "Vowpal Wabbit, 1 pass (logistic loss)"
ACCURACY_POINTS_SGD = 0.01


def sgd_against_vw(workload: str, data: SparseData) -> list[Row]:
    """One epoch of linfit's sgd and of its adagrad (logistic regression as two-class
    softmax, C = 1, the calibrated rate, batches of 256) against Vowpal Wabbit's one-pass
    learner (its defaults: adaptive, normalized, invariant updates; logistic loss) and its
    3 passes over a cache (one run, a reference). Target: time <= 1x VW's one pass (the
    median ratio of ``VW_ROUNDS`` paired, interleaved rounds) and test accuracy within 1
    point of the optimum's (linfit's default solver, tron, on the same problem). VW
    learns from its text format, written (and timed) on a row of its own; its runs time
    the learning alone, parsing included."""
    import linfit
    from bench.external import vw_binary_accuracy, vw_learn, write_vw_binary
    from linfit.models import SoftmaxClassifier

    passes = "Vowpal Wabbit, 3 passes over a cache (logistic loss)"
    model = SoftmaxClassifier(reg=1.0 / (C * data.X_train.shape[0]))
    optimum, _, best = _linfit(model, data, repeat=1)
    fits: dict[str, Any] = {}  # each solver's last fit is scored

    def epoch(solver: str) -> Callable[[], None]:
        def run() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one epoch stops at max_iter: the point
                fits[solver] = linfit.fit(model, data.X_train, data.y_train, solver=solver,
                                          max_iter=1, standardize=False)  # fmt: skip

        return run

    runs = {solver: epoch(solver) for solver in ("sgd", "adagrad")}
    if not installed("vowpalwabbit"):
        rows = [missing(workload, system, "vowpalwabbit") for system in (VW_PASS, passes)]
        for solver, run in runs.items():
            _, t = median_timed(run)
            accuracy = float(np.mean(fits[solver].predict(data.X_test) == data.y_test))
            quality = f"test accuracy {accuracy:.4f}, optimum {best:.4f}"
            rows.append(Row(workload, f"linfit {solver}, 1 epoch (softmax = logistic)", t,
                            quality=quality))  # fmt: skip
        return [*rows, _plain_sgd_reference(workload, data, best)]
    with tempfile.TemporaryDirectory() as folder:
        train, test = Path(folder) / "train.vw", Path(folder) / "test.vw"
        _, t_format = timed(lambda: write_vw_binary(train, data.X_train, data.y_train))
        write_vw_binary(test, data.X_test, data.y_test)
        one, three = Path(folder) / "one.model", Path(folder) / "three.model"
        cache = f"--passes 3 -c -k --cache_file {folder}/train.cache"
        runs["vw"] = lambda: vw_learn(train, one, "--loss_function logistic")
        times = interleaved_times(runs, VW_ROUNDS)
        _, t_three = timed(lambda: vw_learn(train, three, f"--loss_function logistic {cache}"))
        vw_one, vw_three = (vw_binary_accuracy(m, test, data.y_test) for m in (one, three))
    rows = [
        Row(workload, "Vowpal Wabbit: formatting its text input (train rows)", t_format),
        Row(workload, VW_PASS, float(np.median(times["vw"])),
            quality=f"test accuracy {vw_one:.4f}"),
        Row(workload, passes, t_three, quality=f"test accuracy {vw_three:.4f}"),
    ]  # fmt: skip
    for solver in ("sgd", "adagrad"):
        accuracy = float(np.mean(fits[solver].predict(data.X_test) == data.y_test))
        ratio = median_ratio(times[solver], times["vw"])
        rows.append(
            Row(
                workload, f"linfit {solver}, 1 epoch (softmax = logistic)",
                float(np.median(times[solver])), VW_PASS, ratio,
                f"test accuracy {accuracy:.4f}, the optimum's ({optimum.result.method}) "
                f"{best:.4f} ({100 * (accuracy - best):+.2f} points)",
                "<= 1x VW's one pass, accuracy within 1 point of the optimum's",
                ratio <= 1.0 and accuracy >= best - ACCURACY_POINTS_SGD,
            )
        )  # fmt: skip
    rows.append(_plain_sgd_reference(workload, data, best))
    return rows


SGD_SEEDS = 5


def _plain_sgd_reference(workload: str, data: SparseData, best: float) -> Row:
    """scikit-learn's SGDClassifier, one epoch of per-row steps (log loss, alpha = 1 / (C
    n), its default schedule), over ``SGD_SEEDS`` shuffles: what plain SGD, one global step
    for every feature, reaches on these rows. A reference for linfit's sgd's accuracy, not
    a baseline of a target: the median time, the accuracies' range."""
    from sklearn.linear_model import SGDClassifier

    n = data.X_train.shape[0]
    times, accuracies = [], []
    for seed in range(SGD_SEEDS):
        clf = SGDClassifier(loss="log_loss", alpha=1.0 / (C * n), max_iter=1, tol=None,
                            random_state=seed)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one epoch stops at max_iter: the point
            _, t = timed(lambda c=clf: c.fit(data.X_train, data.y_train))
        times.append(t)
        accuracies.append(float(np.mean(clf.predict(data.X_test) == data.y_test)))
    low, high = min(accuracies), max(accuracies)
    return Row(
        workload, f"sklearn SGDClassifier, 1 epoch (log loss), {SGD_SEEDS} shuffles",
        float(np.median(times)),
        quality=f"test accuracy {low:.4f} to {high:.4f} ({100 * (low - best):+.2f} to "
        f"{100 * (high - best):+.2f} points from the optimum's)",
    )  # fmt: skip
