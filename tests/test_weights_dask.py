"""Sample and class weights on the Dask engine: the in-memory engine's weighted fit, on a
cluster of 2 worker processes.

Oracles: the in-memory engine (tests/test_weights_fit.py checks it against repeated rows
and scikit-learn), the data themselves (integer weights are repeated rows) and the
out-of-core engine for sgd (the same batches from the same seed).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from core_problems import data_for  # noqa: E402

import linfit  # noqa: E402
from linfit.engines.dask_fit import OnCluster  # noqa: E402
from linfit.engines.memory import InMemory  # noqa: E402
from linfit.errors import DataError, OptionError  # noqa: E402
from linfit.models import LeastSquares, ReLURegressor, SoftmaxClassifier  # noqa: E402

OBJECTIVE_RTOL = 1e-8  # the optimum's objective, cluster against memory
SCALER_RTOL = 1e-12  # weighted moments merged by block against the whole array's
TIGHT = {"gtol": 1e-10, "ftol": 0.0, "max_iter": 5000}
ROWS = 50  # per block: 120 rows make blocks of 50, 50 and 20


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _problem(model, seed=0, n=120):
    """Raw ``X`` (n, 4) of unequal moments, targets ``y`` (n,) and weights (n,): counts
    0-3 (the first rows 1, so every class keeps a row) times a factor in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    X, y = data_for(model, rng, n_samples=n, n_features=4, n_classes=3)
    X = X * [1.0, 3.0, 0.5, 2.0] + [0.0, 1.0, -2.0, 5.0]
    counts = rng.integers(0, 4, size=n)
    counts[:3] = 1
    return X, y, counts, counts * rng.uniform(0.5, 2.0, n)


def _on_cluster(X, y):
    """``X`` and ``y`` as dask arrays of ``ROWS``-row blocks."""
    return da.from_array(X, chunks=(ROWS, X.shape[1])), da.from_array(y, chunks=ROWS)


def _weights(w, rows=ROWS):
    """``w`` as a dask array of ``rows``-row blocks (rechunked to X's by the engine)."""
    return None if w is None else da.from_array(w, chunks=rows)


CASES = {
    "softmax-lbfgs": (SoftmaxClassifier(reg=1e-2), "lbfgs"),
    "softmax-newton": (SoftmaxClassifier(reg=1e-2), "newton"),  # the dense Hessian
    "softmax-tron": (SoftmaxClassifier(reg=1e-2), "tron"),  # the Hessian's products
    "least-squares-qr": (LeastSquares(reg=1e-3), "qr"),  # TSQR on the cluster
    "least-squares-normal": (LeastSquares(reg=1e-3), "normal"),  # normal equations
    "least-squares-pinv": (LeastSquares(reg=1e-3), "pinv"),  # SVD, refinement (reduce)
    "least-squares-lbfgs": (LeastSquares(reg=1e-3), "lbfgs"),
    "relu": (ReLURegressor(reg=1e-3), "lbfgs"),  # the weighted least-squares start
}


@pytest.mark.parametrize("name", list(CASES))
def test_weighted_fit_on_the_cluster_equals_the_in_memory_one(client, name):
    model, solver = CASES[name]
    X, y, _, w = _problem(model)
    options = {"solver": solver, **({} if solver in ("qr", "normal", "pinv") else TIGHT)}
    memory = linfit.fit(model, X, y, sample_weight=w, **options)
    cluster = linfit.fit(
        model, *_on_cluster(X, y), sample_weight=_weights(w, 37), client=client, **options
    )
    np.testing.assert_allclose(cluster.scaler.mean, memory.scaler.mean, rtol=SCALER_RTOL)
    np.testing.assert_allclose(cluster.scaler.scale, memory.scaler.scale, rtol=SCALER_RTOL)
    assert cluster.result.fun == pytest.approx(memory.result.fun, rel=OBJECTIVE_RTOL)
    np.testing.assert_allclose(cluster.feature_means, X.mean(axis=0), rtol=1e-12)
    if solver in ("qr", "normal", "pinv"):  # a closed form: the same solution
        np.testing.assert_allclose(cluster.params, memory.params, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model", [SoftmaxClassifier(reg=1e-2), ReLURegressor(reg=1e-3)])
def test_the_cluster_objective_is_the_in_memory_one_at_a_point(client, model):
    """Value, gradient, dense Hessian and Hessian products at a random point: the
    in-memory engine's, up to the order of summation (an optimizer that reaches the
    same optimum with a wrong Hessian would hide it)."""
    X, y, _, w = _problem(model, seed=5)
    options = {"standardize": True, "target_name": "target", "sample_weight": w}
    here = InMemory.prepare(model, X, y, **options)
    there = OnCluster.prepare(model, *_on_cluster(X, y), client=client, **options)
    K = here.n_outputs
    rng = np.random.default_rng(6)
    x, v = rng.standard_normal((2, (X.shape[1] + 1) * K))
    mine, theirs = here.objective(model), there.objective(model)
    (f, g), (f_c, g_c) = mine.fun(x), theirs.fun(x)
    assert f_c == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(g_c, g, rtol=1e-10, atol=1e-12)
    assert theirs.value(x) == pytest.approx(mine.value(x), rel=1e-12)
    Hv = mine.hess_operator(x)(v)
    np.testing.assert_allclose(theirs.hess_operator(x)(v), Hv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(theirs.hess(x) @ v, Hv, rtol=1e-10, atol=1e-12)


def test_weights_given_as_an_array_here_are_the_dask_arrays(client):
    model = LeastSquares(reg=1e-3)
    X, y, _, w = _problem(model, seed=1)
    X_d, y_d = _on_cluster(X, y)
    from_dask = linfit.fit(model, X_d, y_d, sample_weight=_weights(w), client=client, solver="qr")
    from_here = linfit.fit(model, X_d, y_d, sample_weight=w, client=client, solver="qr")
    np.testing.assert_array_equal(from_here.params, from_dask.params)


@pytest.mark.parametrize("name", ["softmax-lbfgs", "least-squares-qr"])
def test_integer_weights_on_the_cluster_train_as_repeated_rows(client, name):
    model, solver = CASES[name]
    X, y, counts, _ = _problem(model, seed=2)
    options = {"solver": solver, **TIGHT}
    weighted = linfit.fit(
        model,
        *_on_cluster(X, y),
        sample_weight=_weights(counts.astype(float)),
        client=client,
        **options,
    )
    rows = np.repeat(np.arange(y.size), counts)
    repeated = linfit.fit(model, X[rows], y[rows], **options)
    np.testing.assert_allclose(weighted.scaler.mean, repeated.scaler.mean, rtol=SCALER_RTOL)
    np.testing.assert_allclose(weighted.scaler.scale, repeated.scaler.scale, rtol=SCALER_RTOL)
    assert weighted.result.fun == pytest.approx(repeated.result.fun, rel=OBJECTIVE_RTOL)


@pytest.mark.parametrize("class_weight", ["balanced", {"2": 5.0, 0: 0.5}])
def test_class_weights_on_the_cluster_equal_the_in_memory_ones(client, class_weight):
    """Balanced from the classes' counts on the cluster, and a mapping, both times the
    sample weights: the in-memory fit's optimum."""
    model = SoftmaxClassifier(reg=1e-2)
    X, y, _, w = _problem(model, seed=3)
    y = np.where(np.arange(y.size) % 5 == 0, 2, y % 2)  # class 2 rarer
    for sample_weight in (None, w):
        memory = linfit.fit(
            model, X, y, sample_weight=sample_weight, class_weight=class_weight, **TIGHT
        )
        cluster = linfit.fit(
            model, *_on_cluster(X, y), sample_weight=_weights(sample_weight),
            class_weight=class_weight, client=client, **TIGHT,
        )  # fmt: skip
        np.testing.assert_allclose(cluster.scaler.mean, memory.scaler.mean, rtol=SCALER_RTOL)
        assert cluster.result.fun == pytest.approx(memory.result.fun, rel=OBJECTIVE_RTOL)
        np.testing.assert_allclose(cluster.params, memory.params, rtol=1e-6, atol=1e-8)


def test_weighted_sgd_on_the_cluster_takes_the_out_of_core_batches(client):
    """Blocks of 40 rows are out of core's chunks of 40: the same weighted batches (not
    renormalized per batch) and calibration, so the same parameters."""
    model = SoftmaxClassifier(reg=1e-2)
    X, y, _, w = _problem(model, seed=4)
    options = {"solver": "sgd", "batch_size": 16, "max_iter": 3, "seed": 7}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sgd stops at max_iter
        on_disk = linfit.fit(model, X, y, sample_weight=w, chunk_rows=40, **options)
        on_cluster = linfit.fit(
            model, da.from_array(X, chunks=(40, 4)), da.from_array(y, chunks=40),
            sample_weight=da.from_array(w, chunks=40), client=client, **options,
        )  # fmt: skip
    assert on_disk.result.nit == on_cluster.result.nit == 3
    a, b = on_disk.params, on_cluster.params
    assert np.abs(b - a).max() <= 1e-8 * np.abs(a).max()


BAD = [
    ("sample_weight", -np.ones(120), DataError, "negative"),
    ("sample_weight", np.zeros(120), DataError, "zero on every row"),
    ("sample_weight", np.r_[np.ones(119), np.inf], DataError, "infinite"),
    ("sample_weight", np.ones(7), OptionError, "one weight per row"),
    ("class_weight", {0: 0.0, 1: 0.0, 2: 0.0}, DataError, "every row weighs zero"),
    ("class_weight", {"nope": 2.0}, DataError, "not among the labels"),
    ("class_weight", "heavy", OptionError, "balanced"),
]


@pytest.mark.parametrize(("option", "value", "error", "message"), BAD)
def test_bad_weights_are_refused_on_the_cluster_in_one_line(client, option, value, error, message):
    """The in-memory refusals, word for word; sample weights as a dask array, whose
    values are counted on the cluster."""
    model = SoftmaxClassifier()
    X, y, _, _ = _problem(model)
    given = _weights(value) if option == "sample_weight" else value
    with pytest.raises(error, match=message) as on_cluster:
        linfit.fit(model, *_on_cluster(X, y), client=client, **{option: given})
    with pytest.raises(error) as in_memory:
        linfit.fit(model, X, y, **{option: value})
    assert "\n" not in str(on_cluster.value)
    assert str(on_cluster.value) == str(in_memory.value)


def test_class_weight_on_the_cluster_is_for_classifiers(client):
    X, y, _, _ = _problem(LeastSquares())
    with pytest.raises(OptionError, match="for classifiers"):
        linfit.fit(LeastSquares(), *_on_cluster(X, y), client=client, class_weight="balanced")


@pytest.mark.parametrize("model", [SoftmaxClassifier(reg=1e-2), LeastSquares(reg=1e-3)],
                         ids=["classifier", "regressor"])  # fmt: skip
def test_weighted_metrics_on_the_cluster_equal_the_in_memory_ones(client, model):
    """cluster_scores with sample weights (and, for a classifier, balanced class weights
    from the training rows' counts on the cluster) equals TrainedModel.scores with the
    rows weighed as fitting.workflow weighs them in memory (1e-12); unweighted too."""
    from linfit.engines.dask_fit import class_counts, cluster_scores
    from linfit.engines.weights import class_weights
    from linfit.fitting.workflow import row_weights

    X, y, _, w = _problem(model, seed=5)
    trained = linfit.fit(model, X, y, sample_weight=w, max_iter=50)
    per_class = None
    if trained.classes is not None:
        counts = class_counts(client, da.from_array(y, chunks=ROWS), trained.classes)
        np.testing.assert_array_equal(counts, np.bincount(trained.class_codes(y)))
        per_class = class_weights("balanced", trained.classes, counts)
    X_d, y_d = _on_cluster(X, y)
    for weights, by_class in ((None, None), (w, per_class)):
        here = trained.scores(X, y, "train", row_weights(trained, y, weights, by_class))
        there = cluster_scores(trained, X_d, y_d, "train", client, _weights(weights), by_class)
        assert there.keys() == here.keys()
        for key, value in here.items():
            assert there[key] == pytest.approx(value, rel=1e-12), key


def test_train_on_the_cluster_reports_weighted_metrics(client, tmp_path):
    """train --engine dask --weights w --weighted-metrics: exit 0, the metrics weighted
    (they differ from the unweighted run's on a table whose weights vary)."""
    import pandas as pd
    from cli_helpers import invoke, json_stdout

    model = SoftmaxClassifier(reg=1e-2)
    X, y, _, w = _problem(model, seed=6)
    path = tmp_path / "w.csv"
    pd.DataFrame(X, columns=list("abcd")).assign(w=w, target=y).to_csv(path, index=False)
    common = ["train", path, "--engine", "dask", "--scheduler", client.scheduler.address,
              "--weights", "w", "--test-size", "0.25", "--json", "--quiet",
              "--out", tmp_path / "m.linfit"]  # fmt: skip
    weighted = json_stdout(invoke([*common, "--weighted-metrics"]).stdout)
    plain = json_stdout(invoke(common).stdout)
    assert weighted["metrics"]["train_accuracy"] != plain["metrics"]["train_accuracy"]
