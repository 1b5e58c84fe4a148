"""A command imports only what it uses: what ``linfit --help`` and friends load, what
``predict`` on a plain numeric CSV and ``train`` from the cache load (neither pandas nor
scipy), and the pandas-free stand-ins those paths take, each against pandas: the
predictions writer (byte for byte), a header's names, the matching of labels to classes.

Times are measured in ``make bench`` (whole processes, against ``python -c "import numpy"``);
here the property behind them is asserted: which heavy packages a command loads.
"""

from __future__ import annotations

import io
import os
import pkgutil
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import linfit.data
from linfit.cli.output import write_csv
from linfit.data import align_labels, fastcsv, labels
from linfit.data.read import Source, read_csv
from linfit.storage import persist

HEAVY = ("pandas", "scipy", "sklearn", "dask", "matplotlib", "pyarrow")
DATASETS = Path(__file__).resolve().parents[1] / "datasets"

# Runs the command in-process, then prints its exit status and which heavy packages it
# imported (a command that failed early would import little, and prove nothing).
PROBE = """
import sys
from linfit.cli import main
sys.argv = ["linfit", *sys.argv[1:]]
status = 0
try:
    main()
except SystemExit as stop:
    status = stop.code or 0
print(status, sorted({m.split(".")[0] for m in sys.modules} & set(%r)), file=sys.stderr)
"""


def _heavy_imports(*args: str | Path, env: dict[str, str] | None = None) -> list[str]:
    """The heavy packages ``linfit ARGS`` imports; the command must succeed."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    status, _, heavy = proc.stderr.strip().splitlines()[-1].partition(" ")
    assert status == "0", proc.stderr
    return eval(heavy)  # a list literal printed above


@pytest.mark.parametrize(
    "args", [["--help"], ["train", "--help"], ["predict", "--help"], ["--version"]]
)
def test_help_and_version_import_no_heavy_package(args):
    assert _heavy_imports(*args) == []


CASES = {
    "floats": np.array([0.1, 1e-20, 1e16, -0.0, np.nan, np.inf, -np.inf, 1 / 3, 2.5e-7]),
    "float32": np.array([0.1, 1 / 3, 1e-8, np.nan], dtype=np.float32),
    "text to quote": np.array(["a", "b,c", 'd"e', "f\ng", " x "], dtype=object),
    "bools": np.array([True, False]),
    "ints": np.array([1, -2, 3], dtype=np.int64),
    "labels": np.array(["setosa", "virginica"]),
}


@pytest.mark.parametrize("column", list(CASES.values()), ids=list(CASES))
def test_predictions_csv_is_what_pandas_writes(column):
    ours, theirs = io.StringIO(), io.StringIO()
    write_csv(ours, ["prediction"], [column])
    pd.DataFrame({"prediction": column}).to_csv(theirs, index=False)
    assert ours.getvalue() == theirs.getvalue()


def test_predictions_csv_of_several_columns_is_what_pandas_writes():
    values = np.random.default_rng(0).standard_normal((50, 3)) * 10.0 ** np.arange(-5, 10, 5)
    ours, theirs = io.StringIO(), io.StringIO()
    write_csv(ours, ["0", "1", "2"], list(values.T))
    pd.DataFrame(values).to_csv(theirs, index=False)
    assert ours.getvalue() == theirs.getvalue()


def test_the_listing_shows_each_commands_own_first_line():
    """``linfit --help`` lists commands from a table, so as not to import them: each line
    must be the first line of the command's help, and every command must be listed."""
    from typer.main import get_command

    from linfit.cli import app
    from linfit.cli.app import COMMANDS, load_commands

    load_commands()
    commands = get_command(app).commands
    assert set(commands) == set(COMMANDS)
    for name, (_, line) in COMMANDS.items():
        assert commands[name].help.strip().splitlines()[0] == line


def test_help_imports_no_numpy():
    """The listing itself needs no command module: not even numpy is loaded."""
    code = "import sys; from linfit.cli import main; sys.argv = ['linfit', '--help']\n"
    code += "try:\n    main()\nexcept SystemExit:\n    pass\nprint('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------- reading


def _linfit(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "linfit", *map(str, args)],
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )


def _head(source: Path, rows: int, folder: Path) -> Path:
    """The header and first ``rows`` rows of ``source``, as a file in ``folder``."""
    path = folder / f"{source.stem}-{rows}.csv"
    lines = source.read_text().splitlines()
    path.write_text("\n".join(lines[: rows + 1]) + "\n")
    return path


def _int_labelled(folder: Path) -> Path:
    """Iris with its classes as the integers 0, 1, 2: numbers only, labels included."""
    frame = pd.read_csv(DATASETS / "iris.csv")
    frame["target"] = pd.factorize(frame["target"])[0]
    path = folder / "iris-int.csv"
    frame.to_csv(path, index=False)
    return path


TRAINING = {
    "text classes": (DATASETS / "iris.csv", ()),
    "integer classes": (None, ()),  # made by _int_labelled
    "regression": (DATASETS / "diabetes.csv", ("--model", "least-squares")),
}


@pytest.fixture(scope="module", params=list(TRAINING))
def trained(request, tmp_path_factory) -> tuple[Path, Path, tuple[str, ...]]:
    """A table, the model trained on it (without the cache) and the options it took, for
    each kind of target."""
    folder = tmp_path_factory.mktemp("startup")
    data, options = TRAINING[request.param]
    data = data or _int_labelled(folder)
    model = folder / "model.linfit"
    _linfit("train", data, "--out", model, "--quiet", "--no-cache", *options)
    return data, model, options


def test_predict_on_a_small_plain_csv_imports_neither_pandas_nor_scipy(trained, tmp_path):
    """The bench's case: the compiled scanner reads the rows, the header is split without
    pandas, and the model file holds the classes, text or numbers, that predict returns."""
    data, model, _ = trained
    rows = _head(data, 10, tmp_path)
    assert _heavy_imports("predict", model, rows, "--out", tmp_path / "p.csv") == []
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 11  # a header, 10 rows


def test_train_from_the_cache_imports_no_heavy_package(trained, tmp_path):
    """A second run takes the parsed table from the cache, and scores its labels (text or
    integers) against the classes without pandas; the model is the first run's."""
    data, _, options = trained
    env = {"LINFIT_CACHE_DIR": str(tmp_path / "cache")}
    first = tmp_path / "first.linfit"
    _linfit("train", data, "--out", first, "--quiet", *options, env=env)
    assert any((tmp_path / "cache").iterdir())
    again = tmp_path / "again.linfit"
    assert _heavy_imports("train", data, "--out", again, "--quiet", *options, env=env) == []
    before, after = persist.load(first), persist.load(again)
    np.testing.assert_array_equal(after.params, before.params)
    assert after.summary["metrics"] == before.summary["metrics"]
    assert after.feature_names == before.feature_names
    if before.classes is not None:
        np.testing.assert_array_equal(after.classes, before.classes)


def test_every_data_module_imports_without_pandas_or_scipy():
    """pandas and scipy are imported inside the functions that read through them, never at
    the top of a module: a module a light path imports must not bring them in."""
    modules = [f"linfit.data.{m.name}" for m in pkgutil.iter_modules(linfit.data.__path__)]
    code = "import importlib, sys\n"
    code += f"for m in {modules!r} + ['linfit.storage.cache']: importlib.import_module(m)\n"
    code += f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) > 10 and out.stdout.strip() == "[]"


def test_a_data_module_imports_only_what_it_needs_of_the_package():
    """``linfit.data`` loads its exports on first use: the CLI's progress line imports
    ``linfit.data.progress`` at start-up, and with it no loader."""
    code = "import sys, linfit.data.progress\n"
    code += "print(sorted(m for m in sys.modules if m.startswith('linfit.data')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['linfit.data', 'linfit.data.progress']"
    for name in linfit.data.__all__:
        assert getattr(linfit.data, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        linfit.data.nothing  # noqa: B018


# Bits of header names: separators, quotes, spaces, a BOM, control characters, names that
# pandas might read otherwise (numbers, 'nan', 'Unnamed: 0'), text beyond ASCII.
HEADER_BITS = [
    "a", "b", "x", " ", "  ", ",", ";", "\t", "|", ":", "#", "'", '"', "\\", ".", "-", "+",
    "e", "0", "1", "1e5", "inf", "nan", "NA", "None", "True", "Unnamed: 0", "a.1", "\x00",
    "\x0b", "\x0c", "\r", "\x7f", "\x85", "\u2028", "\ufeff", "é", "名",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_a_header_split_without_pandas_is_named_as_pandas_names_it(tmp_path, seed):
    """Where :func:`fastcsv.plain_names` names a header's columns, pandas gives the same
    names (as strings); elsewhere the header is left to pandas."""
    rng = random.Random(seed)
    named = 0
    for i in range(500):
        sep = rng.choice([",", ";", "\t", "|", " ", ":"])
        fields = ["".join(rng.choices(HEADER_BITS, k=rng.randint(1, 3))) for _ in range(4)]
        line = sep.join(fields[: rng.randint(1, 4)]).encode()
        if rng.random() < 0.1:
            line += bytes([rng.randrange(128, 256)])  # not UTF-8, or part of a character
        line += rng.choice([b"\n", b"\r\n"])
        if b"\n" in line.rstrip(b"\r\n") or not line.strip():
            continue  # one header line, not blank: what fastcsv.header passes on
        names = fastcsv.plain_names(line, sep)
        if names is None:
            continue
        path = tmp_path / f"{i}.csv"
        path.write_bytes(line + b"1\n")
        columns = read_csv(Source(path), sep, nrows=0).columns
        assert [type(c) for c in columns] == [str] * len(columns)
        assert list(columns) == names, (line, sep)
        named += 1
    assert named > 100


@pytest.mark.parametrize("kind", ["text", "integers"])
def test_labels_matched_without_pandas_as_pandas_matches_them(monkeypatch, kind):
    """:func:`align_labels` on text labels against text classes, or integers against
    integers, takes no pandas; the codes are the general path's."""
    rng = np.random.default_rng(0)
    if kind == "text":
        pool = np.array(["a", "b", "B", "a ", "", "1", "1.0", "nan", "é", "\x00x"], dtype=object)
    else:
        pool = np.array([-(2**63), -3, 0, 1, 2, 7, 2**62, 2**63 - 1], dtype=np.int64)
    taken = 0
    for _ in range(200):
        classes = rng.permutation(pool)[: rng.integers(1, len(pool) + 1)]
        y = pool[rng.integers(0, len(pool), rng.integers(0, 30))]
        if kind == "text" and rng.random() < 0.5:
            y = y.astype(str)  # a numpy str array, as the scikit-learn estimators get
        fast = align_labels(y, classes)
        taken += labels._equal_codes(y, classes) is not None
        with monkeypatch.context() as patch:
            patch.setattr(labels, "_equal_codes", lambda *args: None)
            general = align_labels(y, classes)
        assert fast.dtype == general.dtype == np.int64
        np.testing.assert_array_equal(fast, general)
    assert taken == 200
