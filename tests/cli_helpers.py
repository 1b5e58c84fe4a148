"""Shared helpers for the CLI tests: running linfit in-process and as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from linfit.cli import app
from linfit.cli.app import load_commands

# the commands load on first use; tests look at every command's parameters
load_commands()

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
IRIS = DATASETS / "iris.csv"
WINE = DATASETS / "wine.csv"
DIABETES = DATASETS / "diabetes.csv"
DIGITS = DATASETS / "digits.csv"

# An ANSI escape sequence (CSI ... final byte); any ESC at all is enough to fail "no escapes".
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# A subprocess must not be slowed or coloured by the developer's environment.
_CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "PYTHONWARNINGS", "CLICOLOR_FORCE")
}

# typer.testing.CliRunner in this Typer keeps stdout and stderr apart (result.stdout,
# result.stderr; result.output mixes both), so in-process runs can check where output goes.
_runner = CliRunner()


def invoke(args: Sequence[str | Path], *, input: str | None = None, ok: bool = True) -> Result:
    """Run ``linfit ARGS`` in-process; with ``ok``, insist on exit 0 and no exception."""
    result = _runner.invoke(app, [str(a) for a in args], input=input, prog_name="linfit")
    if ok:
        assert result.exit_code == 0, (
            f"linfit {' '.join(map(str, args))} exited {result.exit_code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
        )
    return result


def run(
    args: Sequence[str | Path],
    cwd: Path,
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m linfit ARGS`` as a real process in ``cwd``; capture text stdout/stderr.

    A run longer than ``timeout`` seconds is killed and raises ``subprocess.TimeoutExpired``.
    """
    return subprocess.run(
        [sys.executable, "-m", "linfit", *map(str, args)],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env={**_CLEAN_ENV, **(env or {})},
        timeout=timeout,
    )


def json_stdout(stdout: str) -> dict[str, Any]:
    """The single JSON object that must be the whole of stdout (one line, nothing else),
    parsed strictly: NaN and Infinity are not JSON."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"stdout should be one JSON line, got {len(lines)}:\n{stdout}"
    payload = json.loads(lines[0], parse_constant=_not_json)
    assert isinstance(payload, dict)
    return payload


def _not_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not valid JSON")


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path (a new file shows up too)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def assert_one_error_line(stderr: str) -> str:
    """stderr is exactly one non-empty line, ``error: ...``, with no traceback; returns it."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line on stderr, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert line.removeprefix("error: ").strip(), "the error message is empty"
    return line
