"""A command imports only what it uses: what ``linfit --help`` and friends load, and the
pandas-free predictions writer, byte for byte against pandas (the format predictions had).

Times are measured in ``make bench`` (whole processes, against ``python -c "import numpy"``);
here the property behind them is asserted: which heavy packages a command loads.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from linfit.cli.output import write_csv

HEAVY = ("pandas", "scipy", "sklearn", "dask", "matplotlib", "pyarrow")

# Runs the command in-process, then prints which heavy packages it imported.
PROBE = """
import sys
from linfit.cli import main
sys.argv = ["linfit", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(sorted({m.split(".")[0] for m in sys.modules} & set(%r)), file=sys.stderr)
"""


def _heavy_imports(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *args], capture_output=True, text=True
    )
    return eval(proc.stderr.strip().splitlines()[-1])  # a list literal printed above


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
