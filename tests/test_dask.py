"""The Dask engine: the in-memory engine's parameters on a cluster of 2 worker processes,
through a lost worker, and from the CLI."""

from __future__ import annotations

import itertools
import os
import signal
import warnings

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

from cli_helpers import IRIS, assert_one_error_line, invoke, json_stdout  # noqa: E402
from core_problems import data_for  # noqa: E402

from linfit import optional  # noqa: E402
from linfit.engines import out_of_core  # noqa: E402
from linfit.engines.dask_blocks import load_blocks  # noqa: E402
from linfit.engines.dask_data import read_table  # noqa: E402
from linfit.engines.dask_lstsq import solve_on_cluster  # noqa: E402
from linfit.engines.dask_objective import cluster_objective  # noqa: E402
from linfit.engines.out_of_core import chunked_objective  # noqa: E402
from linfit.errors import ConvergenceWarning, DataError  # noqa: E402
from linfit.fitting import fit  # noqa: E402
from linfit.models import MODELS, LeastSquares, LinearSVM, SoftmaxClassifier  # noqa: E402
from linfit.optim import OPTIMIZERS  # noqa: E402
from linfit.optim.sgd import calibrate_step  # noqa: E402
from linfit.optional import MissingExtraError  # noqa: E402
from linfit.preprocess import Scaler  # noqa: E402
from linfit.storage import persist  # noqa: E402

REG = 0.05


def _models():
    for cls in MODELS.values():
        if cls is LinearSVM:
            for variant, form in itertools.product(
                ("hinge", "squared_hinge"), ("weston-watkins", "one-vs-rest")
            ):
                yield LinearSVM(reg=REG, variant=variant, multiclass=form)
        else:
            yield cls(reg=REG)


PAIRS = [
    pytest.param(model, name, id=f"{model.describe()}-{name}")
    for model in _models()
    for name, optimizer in OPTIMIZERS.items()
    if not optimizer.stochastic  # sgd draws its batches at random: see the sgd tests below
    if model.has_hessian or not optimizer.needs_hessian
]


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _write(path, X, y):
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A classification and a regression CSV of 240 rows, read in 2 partitions each."""
    folder = tmp_path_factory.mktemp("dask")
    rng = np.random.default_rng(0)
    X = rng.normal(1.0, 2.0, (240, 3))
    # labels that depend on X, so the fitted weights are of order one
    scores = X @ rng.standard_normal((3, 3)) + rng.standard_normal((240, 3))
    labels = np.array(["a", "b", "c"])[scores.argmax(axis=1)]
    values = np.abs(X @ [1.0, -0.5, 0.3] + 0.5 + 0.1 * rng.standard_normal(240))
    return {
        True: _write(folder / "classes.csv", X, labels),
        False: _write(folder / "values.csv", X, values),
    }


def _table(path):
    return read_table(path, blocksize=path.stat().st_size // 3)  # 3 partitions


def _comparable(trained):
    """Params with the bias centred for classifiers: a multiclass loss on scores is blind
    to a shift of every class's bias, so that shift is wherever the optimizer left it."""
    params = trained.params.copy()
    if trained.classes is not None:
        K = trained.classes.size
        params[-K:] -= params[-K:].mean()
    return params


def _memory_twin(client, model, table, **options):
    X, y = client.compute([table.X, table.y], sync=True)
    return fit(model, X, y, **options)


@pytest.mark.parametrize(("model", "optimizer"), PAIRS)
def test_each_model_and_optimizer_gives_the_in_memory_parameters(client, files, model, optimizer):
    table = _table(files[model.is_classifier])
    assert len(table.X.chunks[0]) >= 2
    # compared after the same 10 iterations: near the optimum a run ends where rounding
    # stalls its line search (~1e-8 relative, in memory too), which proves nothing here;
    # a quadratic (least squares) instead runs to its gradient test, which it reaches
    max_iter = 1000 if isinstance(model, LeastSquares) else 10
    options = dict(solver=optimizer, gtol=1e-10, ftol=0.0, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = _memory_twin(client, model, table, **options)
        dask = fit(model, table.X, table.y, client=client, **options)
    a, b = _comparable(memory), _comparable(dask)
    assert np.abs(b - a).max() <= 1e-8 * np.abs(a).max()
    np.testing.assert_allclose(dask.scaler.mean, memory.scaler.mean, rtol=1e-14)
    np.testing.assert_allclose(dask.scaler.scale, memory.scaler.scale, rtol=1e-12)
    assert dask.feature_names == ("x0", "x1", "x2") and dask.target_name == "target"


SGD_MODELS = [m for m in _models() if m.convex]


@pytest.mark.parametrize("model", SGD_MODELS, ids=lambda m: m.describe())
def test_sgd_on_the_cluster_takes_the_batches_of_out_of_core_training(client, model):
    """With chunks of a block's rows, a cluster's groups are ``linfit.engines.out_of_core``'s mixed
    chunks from the same seed, and its calibration sample the same first batches: the
    same batches and step, so the same parameters."""
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(3)
    X = rng.normal(1.0, 2.0, (240, 3))
    scores = X @ rng.standard_normal((3, 3)) + rng.standard_normal((240, 3))
    y = scores.argmax(axis=1) if model.is_classifier else scores[:, 0]
    options = dict(solver="sgd", batch_size=16, max_iter=3, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_disk = fit(model, X, y, chunk_rows=80, **options)
        r1 = on_disk.result
        on_cluster = fit(
            model, da.from_array(X, chunks=(80, 3)), da.from_array(y, chunks=80),
            client=client, **options,
        )  # fmt: skip
        r2 = on_cluster.result
    assert r1.nit == r2.nit == 3
    a, b = _comparable(on_disk), _comparable(on_cluster)
    assert np.abs(b - a).max() <= 1e-8 * np.abs(a).max()


def _sorted_by_label(n_samples):
    model = SoftmaxClassifier(reg=1e-2)
    X, y = data_for(model, np.random.default_rng(0), n_samples=n_samples, n_features=5)
    by_class = np.argsort(y, kind="stable")
    return model, X[by_class], y[by_class]


def test_sgd_on_the_cluster_mixes_data_sorted_by_label(client, monkeypatch):
    """24,000 rows sorted by class in blocks of 6,400: two epochs of sgd (batch 256) end
    8.4e-5 above the L-BFGS optimum (measured), where visiting whole blocks in a random
    order, as before, ended 7.8e-2 away."""
    da = pytest.importorskip("dask.array")
    model, X, y = _sorted_by_label(24_000)
    best = fit(model, X, y, solver="lbfgs", gtol=1e-10).result.fun
    blocks = da.from_array(X, chunks=(6400, 5)), da.from_array(y, chunks=6400)

    def gap() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = fit(
                model, *blocks, client=client, solver="sgd", batch_size=256, max_iter=2
            ).result
        return (result.fun - best) / best

    assert 0.0 <= gap() <= 3e-4  # seeded: only BLAS rounding moves it
    monkeypatch.setattr(out_of_core, "MIX_BLOCKS_PER_CHUNK", 1)  # a group is one whole block
    assert gap() >= 1e-2


def test_step_calibration_on_the_cluster_costs_one_round_trip(client):
    """sgd's 17 candidate steps are tried on a sample fetched once (one task per block
    that holds some of its rows, where evaluating the batches on the cluster took
    2 x 17 x 32 = 1088 round trips), and pick the step chosen out of core from the same
    seed."""
    da = pytest.importorskip("dask.array")
    model, X, y = _sorted_by_label(3000)
    data = load_blocks(
        client, da.from_array(X, chunks=(500, 5)), da.from_array(y, chunks=500),
        classify=True, standardize=False, target_name="target",
    )  # fmt: skip
    distributed.wait(data.X + data.y)
    on_disk = chunked_objective(model, X, y, chunk_rows=500)
    x0 = np.zeros(6 * 3)
    with distributed.get_task_stream(client) as tasks:
        step = calibrate_step(cluster_objective(model, data, 3), np.random.default_rng(4), 64, x0)
    assert 1 <= len(tasks.data) <= len(data.X)
    assert step == calibrate_step(on_disk, np.random.default_rng(4), 64, x0)


def test_a_binary_classifier_on_its_mirror_counts_one_column_for_the_dense_hessian(client):
    """Two classes are searched on one column (models/mirrored.py): at 500 features the
    dense Hessian of one column is cheap (501 parameters) where two columns' is not, so
    the cluster's objective for the mirror offers it, and its products agree with it."""
    from linfit.engines.dask_fit import OnCluster
    from linfit.models.mirrored import Mirrored

    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((80, 500)), rng.integers(0, 2, 80)
    model = SoftmaxClassifier(reg=REG)
    engine = OnCluster.prepare(
        model, da.from_array(X, chunks=(40, 500)), da.from_array(y, chunks=40), client=client,
        standardize=False, target_name="target",
    )  # fmt: skip
    assert engine.objective(model).hess is None  # two columns: 4 x 501 entries per block
    half = engine.objective(Mirrored.of(model))
    assert half.hess is not None
    u, v = 0.01 * rng.standard_normal(501), rng.standard_normal(501)
    np.testing.assert_allclose(half.hess(u) @ v, half.hess_operator(u)(v), rtol=1e-10)


@pytest.mark.parametrize("method", ["auto", "normal", "qr", "pinv", "lstsq"])
def test_closed_form_least_squares_on_the_cluster_equals_the_in_memory_solve(client, files, method):
    table = _table(files[False])
    model = LeastSquares(reg=REG)
    data = load_blocks(
        client, table.X, table.y, classify=False, standardize=True, target_name="target"
    )
    X, y = client.compute([table.X, table.y], sync=True)
    expected = model.solve(Scaler.fit(X).transform(X), y.astype(float), method=method)
    on_cluster = solve_on_cluster(model, data, method)
    # equal up to rounding (a well-conditioned design; they agree to 1e-13)
    np.testing.assert_allclose(on_cluster.params, expected, rtol=1e-12)
    # the same report as in memory: rank, the equilibrated condition, the residual
    here = model.solution(Scaler.fit(X).transform(X), y.astype(float), method=method)
    assert on_cluster.rank == here.rank
    assert on_cluster.cond == pytest.approx(here.cond, rel=1e-12)
    np.testing.assert_allclose(on_cluster.rss, here.rss, rtol=1e-12)


def test_non_numeric_features_are_refused_in_one_line(tmp_path):
    path = tmp_path / "text.csv"
    pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0], "t": [0, 1]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"numeric features.*'a'") as info:
        read_table(path)
    assert "\n" not in str(info.value)


def test_the_cli_trains_on_the_cluster_and_predict_uses_the_model(client, tmp_path):
    address = client.scheduler.address
    on_dask, in_memory = tmp_path / "dask.linfit", tmp_path / "memory.linfit"
    common = ["train", IRIS, "--test-size", "0", "-q"]
    invoke([*common, "--engine", "dask", "--scheduler", address, "--out", on_dask])
    invoke([*common, "--out", in_memory])
    trained = persist.load(on_dask)
    assert trained.summary["converged"] and trained.summary["metrics"]["train_accuracy"] > 0.9
    predictions = [invoke(["predict", path, IRIS]).stdout for path in (on_dask, in_memory)]
    assert predictions[0] == predictions[1]


@pytest.mark.parametrize("cov", ["nonrobust", "hc3"])
def test_solve_ls_on_the_cluster_prints_the_in_memory_table(client, files, cov):
    """solve-ls --engine dask: the same coefficients, standard errors, R² and digits as in
    memory, from the cluster's blocks. The design's condition number is 2.2, so the same
    rows summed in other blocks give coefficients within ~cond eps and standard errors
    within ~cond^2 eps = 1e-15 (measured: the same bits); 1e-13 leaves a hundredfold."""
    common = ["solve-ls", files[False], "--cov", cov, "--json", "--quiet"]
    on_dask = json_stdout(invoke([*common, "--engine", "dask", "--scheduler",
                                  client.scheduler.address]).stdout)  # fmt: skip
    in_memory = json_stdout(invoke(common).stdout)
    assert on_dask["coef"] == pytest.approx(in_memory["coef"], rel=1e-13)
    assert on_dask["intercept"] == pytest.approx(in_memory["intercept"], rel=1e-13)
    for name, row in in_memory["inference"]["coef"].items():
        assert on_dask["inference"]["coef"][name]["std_err"] == pytest.approx(
            row["std_err"], rel=1e-13
        )
    assert on_dask["inference"]["r2"] == pytest.approx(in_memory["inference"]["r2"], rel=1e-13)
    assert on_dask["rank"] == in_memory["rank"]


@pytest.mark.parametrize(
    "flags", [["--encode", "onehot"], ["--poly", "x0:2"], ["--chunksize", "9"]]
)
def test_solve_ls_on_the_cluster_refuses_what_it_cannot_do_in_one_line(tmp_path, flags):
    path = _write(tmp_path / "t.csv", np.ones((4, 2)), np.arange(4.0))
    result = invoke(["solve-ls", path, "--engine", "dask", *flags], ok=False)
    line = assert_one_error_line(result.stderr)
    assert result.exit_code == 2 and "not supported with --engine dask" in line


@pytest.mark.parametrize("policy", [["--dropna"], ["--impute", "mean"]])
def test_missing_values_float32_plot_and_history_as_in_memory(client, tmp_path, policy):
    """The memory engine's options on the cluster: --dropna / --impute mean give the
    in-memory objective, --dtype float32 one within 1e-4 of it, and --plot and --history
    are written from the same per-iteration records."""
    frame = pd.read_csv(IRIS)
    frame.iloc[::7, 1] = np.nan  # gaps in a feature
    frame.iloc[3, -1] = None  # and a missing label: that row goes under either policy
    data = tmp_path / "gaps.csv"
    frame.to_csv(data, index=False)
    common = ["train", data, "--test-size", "0", "--tol", "1e-9", "-q", "--json", *policy]
    dask = ["--engine", "dask", "--scheduler", client.scheduler.address]
    memory = json_stdout(invoke([*common, "--out", tmp_path / "m.linfit"]).stdout)
    plot, history = tmp_path / "p.png", tmp_path / "h.csv"
    on_dask = json_stdout(
        invoke([*common, *dask, "--out", tmp_path / "d.linfit", "--plot", plot,
                "--history", history]).stdout
    )  # fmt: skip
    single = json_stdout(
        invoke([*common, *dask, "--out", tmp_path / "s.linfit", "--dtype", "float32"]).stdout
    )
    assert on_dask["engine"] == "dask" and on_dask["metrics"]["train_accuracy"] > 0.9
    assert on_dask["objective"] == pytest.approx(memory["objective"], rel=1e-8)
    assert single["objective"] == pytest.approx(memory["objective"], rel=1e-4)
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert len(pd.read_csv(history)) == on_dask["n_iter"] + 1
    assert persist.load(tmp_path / "d.linfit").feature_means == pytest.approx(
        persist.load(tmp_path / "m.linfit").feature_means, rel=1e-12
    )


def test_impute_mean_reads_each_partition_once(client, tmp_path):
    """The column means and the fill come from the same partitions held on the workers:
    dask's CSV parser runs once per partition (counted on the workers; it ran twice per
    partition when the means were computed from the files), and the filled features are
    pandas' own fill."""
    frame = pd.read_csv(IRIS)
    frame.iloc[::7, 1] = np.nan
    frame.iloc[3, -1] = None
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)

    def count_reads():  # on each worker: wrap the parser dask calls for every partition
        import dask.dataframe.io.csv as csv

        parse = csv.pandas_read_text

        def counted(*args, **kwargs):
            csv.linfit_reads += 1
            return parse(*args, **kwargs)

        csv.linfit_reads, csv.linfit_parse, csv.pandas_read_text = 0, parse, counted

    def reads_and_restore():
        import dask.dataframe.io.csv as csv

        csv.pandas_read_text = csv.__dict__.pop("linfit_parse")
        return csv.__dict__.pop("linfit_reads")

    client.run(count_reads)
    try:
        table = read_table(path, blocksize=path.stat().st_size // 3, missing="mean")
        X = table.X.compute()
    finally:
        reads = sum(client.run(reads_and_restore).values())
    assert table.X.numblocks[0] >= 3 and reads == table.X.numblocks[0]
    kept = frame.dropna(subset=[frame.columns[-1]]).iloc[:, :-1]
    np.testing.assert_allclose(X, kept.fillna(kept.mean()).to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--optimizer", "sgd", "--lr", "-1"], "--lr must be a positive number"),
        (["--batch-size", "16"], "--batch-size is an option of sgd and adagrad, not lbfgs"),
        (["--optimizer", "gd", "--max-iter", "-1"], "--max-iter must be >= 0"),
        (["--test-size", "1"], "--test-size must be in [0, 1)"),
    ],
)
def test_bad_options_are_refused_before_the_cluster_starts(monkeypatch, tmp_path, flags, message):
    def no_cluster(scheduler=None):
        raise AssertionError("the cluster was started before the options were checked")

    monkeypatch.setattr("linfit.engines.dask_fit.dask_client", no_cluster)
    out = tmp_path / "m.linfit"
    result = invoke(["train", IRIS, "--engine", "dask", *flags, "--out", out], ok=False)
    assert result.exit_code == 2, result.exception
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_without_the_extra_the_engine_is_refused_in_one_line(monkeypatch, tmp_path):
    def missing(module, extra, purpose):
        raise MissingExtraError(f"{purpose} needs {module}; pip install 'linfit[{extra}]'")

    monkeypatch.setattr("linfit.engines.dask_data.require", missing)
    result = invoke(["train", IRIS, "--engine", "dask", "--out", tmp_path / "m.linfit"], ok=False)
    assert result.exit_code == 2
    assert "--engine dask needs distributed; pip install 'linfit[dask]'" in result.stderr
    assert not (tmp_path / "m.linfit").exists()
    assert optional.require  # the real helper is untouched


@pytest.mark.filterwarnings("ignore::linfit.errors.ConvergenceWarning")
def test_training_survives_a_killed_worker(client, files):
    """SIGKILL a worker after iteration 2: its blocks are read again from the file on the
    other (or the restarted) worker, and the run ends where the in-memory one does."""
    model = next(m for m in _models() if m.name == "softmax")
    table = _table(files[True])
    pids = client.run(os.getpid)
    killed = []

    def kill_after_two(record):
        if record.nit == 2 and not killed:
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    options = dict(solver="lbfgs", gtol=1e-10, ftol=0.0, max_iter=10)
    memory = _memory_twin(client, model, table, **options)
    dask = fit(model, table.X, table.y, client=client, callback=kill_after_two, **options)
    result = dask.result
    assert killed and result.nit > 2
    a = _comparable(memory)
    assert np.abs(_comparable(dask) - a).max() <= 1e-8 * np.abs(a).max()
    client.wait_for_workers(2, timeout=60)


def test_train_on_the_cluster_reports_non_convergence_in_its_summary_not_a_warning(
    client, tmp_path
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke(
            ["train", IRIS, "--engine", "dask", "--scheduler", client.scheduler.address,
             "--max-iter", "2", "--out", tmp_path / "m.linfit", "--json", "-q"]
        )  # fmt: skip
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    summary = json_stdout(result.stdout)
    assert not summary["converged"] and summary["message"].startswith("not converged")


def test_train_with_weights_submits_each_block_key_with_one_run_spec(client, tmp_path):
    """The read checks the weights column in one graph and the engine gathers its blocks in
    another: an optimized ``to_delayed`` fused each block with its persisted partition under
    an alias, and the scheduler logged "Detected different `run_spec`" when the key was
    still known (in about half the runs of ``--weights w --test-size 0``)."""
    import logging

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.standard_normal((300, 3)), columns=list("abc"))
    frame = frame.assign(w=rng.uniform(0.5, 2.0, 300), label=(frame.a + frame.b > 0).astype(int))
    frame.to_csv(tmp_path / "data.csv", index=False)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    scheduler_log = logging.getLogger("distributed.scheduler")
    scheduler_log.addHandler(handler)
    try:
        for test_size in ("0", "0", "0", "0.25"):
            invoke(
                ["train", tmp_path / "data.csv", "--weights", "w", "--test-size", test_size,
                 "--engine", "dask", "--scheduler", client.scheduler.address, "-q",
                 "--out", tmp_path / "m.linfit"]
            )  # fmt: skip
    finally:
        scheduler_log.removeHandler(handler)
    assert not [r for r in records if "run_spec" in r.getMessage()]
