"""Memory checked before it is spent: the budget, the estimate's refusals, targets that
are identifiers, LIBSVM files with huge indices, and MemoryError as one line."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import _CLEAN_ENV, IRIS, assert_one_error_line, invoke

from linfit import memory
from linfit.errors import DataError, OptionError
from linfit.fitting import fit
from linfit.memory import MemoryBudgetError
from linfit.models import make_model
from linfit.storage import persist

# --------------------------------------------------------------------------- the budget


def test_the_budget_is_the_variable_else_what_is_available(monkeypatch):
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "8e9")
    assert memory.budget_bytes() == 8_000_000_000
    monkeypatch.delenv("LINFIT_MEMORY_BUDGET")
    available = memory.budget_bytes()
    assert 0 < available <= memory.os.sysconf("SC_PAGE_SIZE") * memory.os.sysconf("SC_PHYS_PAGES")


@pytest.mark.parametrize("value", ["lots", "-1", "0", "inf", "nan", "1e9999"])
def test_a_bad_budget_is_an_option_error(monkeypatch, value):
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", value)
    with pytest.raises(OptionError, match="LINFIT_MEMORY_BUDGET must be a positive number"):
        memory.budget_bytes()


def test_a_refusal_names_the_total_the_largest_parts_and_the_budget(monkeypatch):
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "1e8")
    with pytest.raises(MemoryBudgetError) as caught:
        memory.require("this", {"a": 200_000_000, "b": 50_000_000, "c": 0}, "do less")
    message = str(caught.value)
    assert message == (
        "this needs about 250 MB of memory (a 200 MB, b 50 MB), more than the 100 MB "
        "$LINFIT_MEMORY_BUDGET; do less"
    )
    memory.require("this", {"a": 100_000_000}, "fits exactly")


def test_a_run_under_the_floor_is_never_refused(monkeypatch):
    """A budget of 1 kB sends every file out of core (data.stream), and still trains."""
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "1000")
    memory.require("this", {"a": memory.FLOOR_BYTES}, "never said")
    with pytest.raises(MemoryBudgetError):
        memory.require("this", {"a": memory.FLOOR_BYTES + 1}, "said")


# --------------------------------------------------------------------------- the estimate


@pytest.fixture
def budget(monkeypatch):
    def set_to(n_bytes: float) -> None:
        monkeypatch.setenv("LINFIT_MEMORY_BUDGET", str(n_bytes))

    return set_to


def _data(n=2000, d=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, rng.integers(0, classes, n)


def test_bfgs_inverse_hessian_is_refused_with_lbfgs_as_the_way_out(budget):
    X, y = _data(n=200, d=300, classes=10)  # p = 3010: BFGS's matrices 4 p^2 = 290 MB
    budget(100e6)
    with pytest.raises(MemoryBudgetError) as caught:
        fit(make_model("softmax"), X, y, solver="bfgs")
    message = str(caught.value)
    assert "BFGS's p x p inverse Hessian 290 MB" in message and "use solver lbfgs" in message
    fit(make_model("softmax"), X, y, solver="lbfgs", max_iter=5)  # the way out fits


def test_scores_rows_by_classes_are_refused_with_chunk_rows_as_the_way_out(budget):
    X, y = _data(n=40_000, d=2, classes=100)  # scores 3 x 40,000 x 100 x 8 = 96 MB
    budget(50e6)
    with pytest.raises(MemoryBudgetError, match=r"scores 96 MB.*chunk_rows"):
        fit(make_model("softmax"), X, y)


def test_the_copy_of_x_is_refused_with_float32_as_a_way_out(budget):
    X, y = _data(n=100_000, d=100, classes=2)  # the standardized copy: 80 MB
    budget(60e6)  # with the blocks' scores and the rest: 80.6 MB in float64, 40.6 MB in float32
    with pytest.raises(MemoryBudgetError, match=r"copy of X 80 MB.*dtype float32"):
        fit(make_model("softmax"), X, y)
    fit(make_model("softmax"), X.astype(np.float32), y, max_iter=2)  # half: it fits


def test_the_cli_renders_the_way_out_as_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "FLOOR_BYTES", 0)
    monkeypatch.setenv("LINFIT_MEMORY_BUDGET", "1000")
    result = invoke(["train", IRIS, "--out", tmp_path / "m.linfit"], ok=False)
    line = assert_one_error_line(result.stderr)
    assert result.exit_code == 2 and "or --chunksize to score" in line and "1 kB" in line
    assert not (tmp_path / "m.linfit").exists()


# --------------------------------------------------------------------------- identifiers


def test_an_identifier_target_is_refused_before_any_rows_by_classes_allocation():
    n = 30_000
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    ids = np.array([f"row-{i}" for i in range(n)], dtype=object)
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            fit(make_model("softmax"), X, ids, target_name="id")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # an n x n score matrix would be 7.2 GB
    message = str(caught.value)
    assert "30,000 distinct values in 30,000 rows" in message
    assert "identifier column? choose the label with target" in message


def test_a_continuous_target_for_a_classifier_is_pointed_to_regression():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(500, 2)), rng.normal(size=500)
    with pytest.raises(DataError, match="use model least-squares or relu"):
        fit(make_model("svm"), X, y)


def test_many_real_classes_still_train():
    """200 classes of 15 rows each: a many-class problem, not an identifier."""
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=4, size=(200, 6))
    y = np.repeat(np.arange(200), 15)
    X = centres[y] + rng.normal(size=(y.size, 6))
    trained = fit(make_model("softmax"), X, y, max_iter=200)
    assert trained.classes.size == 200
    assert (trained.predict(X) == y).mean() > 0.9


# --------------------------------------------------------------------------- LIBSVM indices


def _peak_run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """``linfit ARGS`` in a process of its own; its peak resident memory (bytes) and time."""
    script = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run([sys.executable, '-m', 'linfit', *sys.argv[1:]],"
        " capture_output=True, text=True)\n"
        "t = time.perf_counter() - t\n"
        "sys.stdout.write(done.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, t, done.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd, capture_output=True, text=True,
        env=_CLEAN_ENV, timeout=120,
    )  # fmt: skip
    *stderr, last = done.stdout.splitlines()
    peak_kb, seconds, code = last.split()
    child = subprocess.CompletedProcess(args, int(code), "", "\n".join(stderr))
    return child, int(peak_kb) * 1024, float(seconds)


# Peak resident memory of a command on a tiny file: 196 MB measured (the interpreter,
# numpy, scipy and scikit-learn); predicting with scipy's column indexing over the
# 50,000,001 indices, as before, peaked at 599 MB.
SMALL_RUN_BYTES = 350e6


def test_a_libsvm_index_of_fifty_million_trains_cheaply(tmp_path):
    """Issue 17: 4 lines, largest index 50,000,000 grew to 24 GB; LIBLINEAR took 3.2 GB
    and 12 s. Only the indices the file uses are features: a model of 4 features that
    predicts the file the same way."""
    data = tmp_path / "huge.svm"
    data.write_text("1 1:0.5 50000000:1\n0 2:1.5\n1 3:1\n0 1:2\n")
    out = tmp_path / "m.linfit"
    args = ["train", "--model", "softmax", str(data), "--no-cache", "--quiet", "--out", str(out)]
    done, peak, seconds = _peak_run(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert peak < SMALL_RUN_BYTES and seconds < 30, (peak, seconds)
    model = persist.load(out)
    assert model.feature_names == ("f1", "f2", "f3", "f50000000")
    predicted, peak, _ = _peak_run(
        ["predict", str(out), str(data), "--quiet", "--out", str(tmp_path / "p.csv")], tmp_path
    )
    assert predicted.returncode == 0, predicted.stderr
    assert peak < SMALL_RUN_BYTES, peak
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 5


@pytest.mark.parametrize(
    ("index", "said"),
    [(2**40, "too large to read"), (10**20, "too large to read"), (2**31, "too large to read")],
)
def test_an_index_too_large_is_one_line(tmp_path, index, said):
    data = tmp_path / "d.svm"
    data.write_text(f"1 1:0.5 {index}:1\n0 2:1.5\n")
    result = invoke(["train", data, "--no-cache", "--out", tmp_path / "m.linfit"], ok=False)
    line = assert_one_error_line(result.stderr)
    assert result.exit_code == 2 and said in line and "2,147,483,647" in line


def test_the_largest_readable_index_trains(tmp_path):
    data = tmp_path / "d.svm"
    data.write_text(f"1 1:0.5 {2**31 - 1}:1\n0 2:1.5\n1 1:1\n0 2:1\n")
    invoke(["train", data, "--no-cache", "--quiet", "--out", tmp_path / "m.linfit"])
    assert persist.load(tmp_path / "m.linfit").feature_names[-1] == f"f{2**31 - 1}"


# --------------------------------------------------------------------------- MemoryError


def test_a_memory_error_anywhere_is_one_line(tmp_path, monkeypatch):
    from linfit.fitting import workflow

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 6.71 GiB for an array with shape (30000, 30000)")

    monkeypatch.setattr(workflow, "fit", exhausted)
    result = invoke(["train", IRIS, "--out", tmp_path / "m.linfit"], ok=False)
    line = assert_one_error_line(result.stderr)
    assert result.exit_code == 2
    assert "out of memory (Unable to allocate 6.71 GiB" in line and "--chunksize" in line
    assert not (tmp_path / "m.linfit").exists()
