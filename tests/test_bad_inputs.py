"""The bad-input corpus (``tests/bad_inputs/``) through the real commands.

Each case of ``tests/bad_inputs/cases.json`` names a data file and/or a model file, the
commands that read them (``train``, ``predict``, ``evaluate``, ``solve-ls``), extra
arguments, and the expected outcome:

- exit 2: exactly one line on stderr, ``error: ...``, holding the case's message; no
  traceback; nothing on stdout; and no file in the working folder created, changed or
  removed (so the inputs are intact and no partial output is left behind);
- exit 0 (valid but odd input): the inputs are intact, the only new file is the command's
  output, and the result has the properties the case lists (rows predicted, features and
  classes of the model, zero coefficients, ...).

Every case runs in a folder of its own. Its first command runs as a real process
(``python -m linfit``, killed after TIMEOUT seconds so a hang fails), one per core in
parallel; as each finishes, the case's other commands run in-process (Typer's runner,
under the same timeout) in the main thread, while the next processes run. All are held
to the same contract: every case reaches linfit as a subprocess at least once, and every
command of a case is checked.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_error_line, checksums, invoke, json_stdout, run

from linfit.storage import persist

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
MANIFEST = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
TIMEOUT = 60.0  # seconds for one command; far above any case's real need (~3 s at most)
OUTPUTS = {"train": "out.linfit", "predict": "pred.csv"}  # what a command may create


def _generator_module() -> Any:
    spec = importlib.util.spec_from_file_location("bad_inputs_generate", CORPUS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Run:
    """One command of a case: how it ended, and the folder's checksums around it."""

    command: str
    before: dict[str, str]
    after: dict[str, str] = field(default_factory=dict)
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    exception: BaseException | None = None  # in-process only: what the runner caught
    hung: bool = False
    seconds: float = 0.0


@dataclass
class Prepared:
    """A case's working folder, the names of its inputs there, and its runs (the first as
    a subprocess, the others in-process)."""

    case: dict[str, Any]
    folder: Path
    data: str
    model: str
    runs: list[Run] = field(default_factory=list)


def _copy_in(source: Path, folder: Path) -> str:
    shutil.copyfile(source, folder / source.name)
    return source.name


def _cache_folder(prepared: Prepared) -> Path:
    """A case's own parsed-data cache, beside its folder (so the folder's checks see only
    the command's files)."""
    return prepared.folder.with_name(prepared.folder.name + ".cache")


def _env(prepared: Prepared) -> dict[str, str]:
    """The case's environment: its ``env``, and its own cache for a ``cache`` case."""
    env = dict(prepared.case.get("env", {}))
    if prepared.case.get("cache"):
        env["LINFIT_CACHE_DIR"] = str(_cache_folder(prepared))
    return env


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _prepare_cache(prepared: Prepared) -> None:
    """Fill the case's cache with an entry for its data file as ``train`` reads it, then
    ``damaged``: flip the last byte of the entry's y.npy; ``stale``: rewrite the data file
    with the same size (labels 0/1 become a/b) and put its modification time back, as
    ``cp -p`` or ``rsync -t`` would."""
    from linfit.data.source import ReadOptions, load_data

    path = prepared.folder / prepared.data
    before = path.stat()
    with _environment(_env(prepared)):
        load_data(path, ReadOptions())
    (entry,) = _cache_folder(prepared).iterdir()
    if prepared.case["cache"] == "damaged":
        y = entry / "y.npy"
        data = bytearray(y.read_bytes())
        data[-1] ^= 0xFF
        y.write_bytes(bytes(data))
    else:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        relabelled = [lines[0]] + [
            line[:-2] + {"0": "a", "1": "b"}[line[-2]] + "\n" for line in lines[1:]
        ]
        path.write_text("".join(relabelled), encoding="utf-8")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = path.stat()
        assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
            before.st_size, before.st_mtime_ns, before.st_ino,
        )  # fmt: skip


def _prepare(case: dict[str, Any], folder: Path, generated: Path) -> Prepared:
    def source(ref: str) -> Path:
        if ref.startswith("generated/"):
            return generated / ref.removeprefix("generated/")
        return CORPUS / ref

    folder.mkdir(parents=True)
    data = _copy_in(source(case.get("data", "csv/good.csv")), folder)
    model_ref = case.get("model", "valid")
    if model_ref == "trained":
        model = OUTPUTS["train"]  # written by the case's own train
    elif model_ref == "valid":
        shutil.copyfile(generated / "valid.linfit", folder / "model.linfit")
        model = "model.linfit"
    else:
        model = _copy_in(source(model_ref), folder)
    prepared = Prepared(case, folder, data, model)
    if case.get("cache"):
        _prepare_cache(prepared)
    return prepared


def _argv(prepared: Prepared, command: str) -> list[str]:
    extra = prepared.case.get("args", [])
    if isinstance(extra, dict):  # arguments for the commands named only
        extra = extra.get(command, [])
    args = [a.replace("{data}", prepared.data).replace("{model}", prepared.model) for a in extra]
    if command in OUTPUTS and "--out" not in args:
        args = ["--out", OUTPUTS[command], *args]
    no_cache = [] if prepared.case.get("cache") else ["--no-cache"]
    inputs = {
        "train": [prepared.data, *no_cache],
        "solve-ls": [prepared.data, *no_cache],
        "predict": [prepared.model, prepared.data],
        "evaluate": [prepared.model, prepared.data],
    }[command]
    return [command, *inputs, "--json", *args]


def _run_first(prepared: Prepared) -> Prepared:
    """The case's first command as a real process (in a worker thread)."""
    command = prepared.case["commands"][0]
    record = Run(command, checksums(prepared.folder))
    start = time.perf_counter()
    try:
        proc = run(_argv(prepared, command), prepared.folder, timeout=TIMEOUT, env=_env(prepared))
        record.code, record.stdout, record.stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired:
        record.hung = True
    record.seconds = time.perf_counter() - start
    record.after = checksums(prepared.folder)
    prepared.runs.append(record)
    return prepared


def _run_rest(prepared: Prepared) -> None:
    """The case's other commands, in-process, in its folder (in the main thread)."""
    home = Path.cwd()
    os.chdir(prepared.folder)
    try:
        for command in prepared.case["commands"][1:]:
            record = Run(command, checksums(prepared.folder))
            start = time.perf_counter()
            with _time_limit(TIMEOUT), _environment(_env(prepared)):
                result = invoke(_argv(prepared, command), ok=False)
            record.seconds = time.perf_counter() - start
            record.after = checksums(prepared.folder)
            record.code, record.stdout, record.stderr = (
                result.exit_code,
                result.stdout,
                result.stderr,
            )
            if not isinstance(result.exception, SystemExit | None):
                record.exception = result.exception
            prepared.runs.append(record)
    finally:
        os.chdir(home)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Prepared]:
    """Every case prepared and its first command run, in parallel, before any check."""
    generated = tmp_path_factory.mktemp("generated")
    _generator_module().generate_all(generated)
    root = tmp_path_factory.mktemp("cases")
    prepared = [_prepare(case, root / f"{i:03d}", generated) for i, case in enumerate(CASES)]
    prepared.sort(key=lambda p: "wide" not in p.data)  # the slowest first: no long tail
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for finished in as_completed([pool.submit(_run_first, p) for p in prepared]):
            _run_rest(finished.result())
    return {p.case["name"]: p for p in prepared}


# --------------------------------------------------------------------------- contracts


def _expect_error(case: dict[str, Any], command: str, code: int, stdout: str, stderr: str) -> None:
    line = assert_one_error_line(stderr)  # one line, 'error: ...', no traceback
    assert code == 2, f"{command}: exit {code}, expected 2: {stderr}"
    assert stdout == "", f"{command} wrote to stdout: {stdout!r}"
    assert case["message"] in line, f"{command}: {case['message']!r} not in: {line}"


def _finite(value: object) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _expect_ok(prepared: Prepared, command: str, code: int, stdout: str, stderr: str) -> None:
    """Exit 0 and the case's properties, read from the --json output and the files."""
    assert "Traceback" not in stderr, stderr
    assert code == 0, f"{command}: exit {code}: {stderr}"
    expect = prepared.case.get("expect", {})
    payload = json_stdout(stdout)
    if command == "train":
        model = persist.load(prepared.folder / OUTPUTS["train"])
        assert np.isfinite(model.params).all()
        if "features" in expect:
            assert list(model.feature_names) == expect["features"]
        if "n_features" in expect:
            assert model.n_features == expect["n_features"]
        if "warning" in expect:  # one warning line, then nothing else
            (line,) = stderr.splitlines()
            assert line.startswith("warning: ") and expect["warning"] in line, stderr
        if "classes" in expect:
            assert model.classes is not None and model.classes.tolist() == expect["classes"]
        for name in expect.get("zero_coef", []):
            coef = payload["coef"][name]
            assert max(abs(c) for c in (coef if isinstance(coef, list) else [coef])) < 1e-12
        if "metrics" in expect:
            assert sorted(payload["metrics"]) == sorted(expect["metrics"])
        assert all(_finite(v) for v in payload["coef"].values()) and _finite(payload["intercept"])
    elif command == "predict":
        predictions = pd.read_csv(prepared.folder / OUTPUTS["predict"], keep_default_na=False)
        assert payload["n"] == len(predictions) == expect.get("rows", payload["n"])
        if "classes" in expect:
            assert set(predictions["prediction"].astype(str)) <= {str(c) for c in expect["classes"]}
    elif command == "evaluate":
        assert payload["n"] == expect.get("rows", payload["n"])
        assert payload["metrics"] and all(_finite(v) for v in payload["metrics"].values())
    else:  # solve-ls
        assert all(_finite(v) for v in payload["coef"].values()) and _finite(payload["intercept"])
        if expect.get("interpolates"):
            assert payload["r2"] == pytest.approx(1.0, abs=1e-9)
            assert payload["residual_norm"] < 1e-8


def _check_files(prepared: Prepared, command: str, before: dict, after: dict) -> None:
    """Errors leave the folder exactly as it was; a success changes no input and adds (or
    replaces) only its own output file."""
    if prepared.case["exit"] == 2:
        assert after == before, f"{command} changed the folder: {_diff(before, after)}"
        return
    output = OUTPUTS.get(command)
    changed = {name for name in before.keys() & after.keys() if before[name] != after[name]}
    assert changed <= {output}, f"{command} changed {changed}"
    assert set(after) - set(before) <= {output}, f"{command} left {set(after) - set(before)}"
    assert set(before) <= set(after), f"{command} removed {set(before) - set(after)}"


def _diff(before: dict, after: dict) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread if the block runs longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- the cases


@pytest.mark.parametrize("name", [c["name"] for c in CASES])
def test_case(corpus: dict[str, Prepared], name: str) -> None:
    prepared = corpus[name]
    case = prepared.case
    assert [r.command for r in prepared.runs] == case["commands"]
    for i, record in enumerate(prepared.runs):
        how = "as a subprocess" if i == 0 else "in-process"
        assert not record.hung, f"{record.command} ({how}) did not finish in {TIMEOUT:g} s"
        assert record.exception is None, f"{record.command} raised {record.exception!r}"
        assert record.code is not None
        if case["exit"] == 2:
            _expect_error(case, record.command, record.code, record.stdout, record.stderr)
        else:
            _expect_ok(prepared, record.command, record.code, record.stdout, record.stderr)
        _check_files(prepared, record.command, record.before, record.after)


# --------------------------------------------------------------------------- the manifest


def test_the_corpus_covers_the_issue() -> None:
    """At least 40 distinct malformed inputs, every one with an outcome, and each command
    reached as a real process by some case."""
    inputs = {c.get("data") for c in CASES} | {c.get("model") for c in CASES}
    inputs -= {None, "valid", "trained"}
    flag_cases = [c for c in CASES if "data" not in c and "model" not in c]
    assert len(inputs) + len(flag_cases) >= 40
    assert len({c["name"] for c in CASES}) == len(CASES), "case names must be unique"
    for case in CASES:
        assert case["exit"] in (0, 2)
        assert case["commands"] and set(case["commands"]) <= {
            "train", "predict", "evaluate", "solve-ls",
        }  # fmt: skip
        assert case["message"] if case["exit"] == 2 else "expect" in case
    assert {c["commands"][0] for c in CASES} == {"train", "predict", "evaluate", "solve-ls"}
    committed = {
        p.relative_to(CORPUS).as_posix()
        for folder in ("csv", "model", "libsvm")
        for p in (CORPUS / folder).iterdir()
    }
    generated = {f"generated/{name}" for name in _generator_module().GENERATORS}
    # every input is committed or generated, and every committed or generated one is used
    # (csv/good.csv is the default data file)
    assert inputs <= committed | generated, inputs - committed - generated
    assert committed | generated <= inputs | {"csv/good.csv"}, (committed | generated) - inputs


def test_no_command_comes_near_the_timeout(corpus: dict[str, Prepared]) -> None:
    """No case comes near the timeout (a slow case is a bug too: a loop, a blow-up)."""
    name, slowest = max(
        ((p.case["name"], r.seconds) for p in corpus.values() for r in p.runs),
        key=lambda pair: pair[1],
    )
    assert slowest < TIMEOUT / 4, (name, slowest)
