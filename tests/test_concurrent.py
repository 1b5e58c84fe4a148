"""Runs that share files, and files that change underneath a run, as real processes.

- Four ``linfit train`` processes at once on the same file, through the same cache entry,
  writing the same ``--out``: every one succeeds, the model left is one whole model, and
  the cache holds one whole entry and nothing half-written.
- A data file truncated while the compiled scanner reads it: one line and exit 2, never a
  death by SIGBUS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import _CLEAN_ENV, assert_one_error_line

from linfit.data import fastcsv, load_dataset
from linfit.errors import DataError
from linfit.storage import cache_entry, persist

RUNS = 4


def _write_table(path: Path, rows: int, features: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).round(4)
    y = (X @ rng.normal(size=features) > 0).astype(int) + (X[:, 0] > 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(f"x{j}" for j in range(features)) + ",y\n")
        for row, label in zip(X, y, strict=True):
            fh.write(",".join(map(str, row)) + f",{label}\n")


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "linfit", *args],
        cwd=cwd,
        env={**_CLEAN_ENV, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_four_runs_at_once_share_one_cache_entry_and_one_output(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    _write_table(data, rows=3000, features=6)
    out = tmp_path / "model.linfit"
    folder = tmp_path / "cache"
    env = {"LINFIT_CACHE_DIR": str(folder)}
    reference = tmp_path / "reference.linfit"
    train = ["train", "--model", "softmax", str(data), "--quiet", "--seed", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "linfit", *train, "--no-cache", "--out", str(reference)],
        env={**_CLEAN_ENV, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = persist.load(reference)
    # an empty cache (all parse, all write the entry), the entry filled (all read it), and
    # out of core into a cache of its own (the matrix parsed straight into the entry, which
    # all write; in the first cache the whole read's entry would serve it)
    waves = [([], folder), ([], folder), (["--chunksize", "700"], tmp_path / "cache2")]
    for wave, cache in waves:
        wave_env = {"LINFIT_CACHE_DIR": str(cache)}
        runs = [_start([*train, "--out", str(out), *wave], tmp_path, wave_env) for _ in range(RUNS)]
        for proc in runs:
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
            assert stderr == "", stderr  # no warning: losing the race to write is no failure
        model = persist.load(out)  # one whole model: its container checks every member
        if not wave:  # out of core, the solver reads in chunks: the same model, not the bits
            np.testing.assert_array_equal(model.params, expected.params)
        assert model.feature_names == expected.feature_names
        assert _leftovers(tmp_path) == [], "a temporary model file was left"
        assert _leftovers(cache) == [], "a staging or discarded entry was left"
    whole = load_dataset(data)
    for cache in (folder, tmp_path / "cache2"):
        (entry,) = cache.iterdir()  # one entry, whole: the four writers' race left no other
        hit = cache_entry.read_entry(entry, data)
        assert hit is not None
        np.testing.assert_array_equal(hit.X[0 : hit.X.shape[0]], whole.X)
        np.testing.assert_array_equal(hit.y, whole.y)


# --------------------------------------------------------------------------- truncation

# Runs linfit with the scanner's range reader truncating the file (as another process
# would: through its path, not this process's descriptor) before the first range is read.
TRUNCATE_FIRST = """
import os, sys
from linfit.data import fastcsv
real = fastcsv._Ranges.read
def read(self, start, end):
    if not getattr(read, "done", False):
        read.done = True
        os.truncate(sys.argv[-1], 100)
    return real(self, start, end)
fastcsv._Ranges.read = read
from linfit.cli.app import main
sys.argv = ["linfit", *sys.argv[1:]]
main()
"""


@pytest.mark.skipif(not fastcsv.available(), reason="the compiled scanner is not built")
def test_a_file_truncated_while_the_scanner_reads_it_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    _write_table(data, rows=40_000, features=4)  # past PARALLEL_BYTES: several ranges
    assert data.stat().st_size > fastcsv.PARALLEL_BYTES
    done = subprocess.run(
        [sys.executable, "-c", TRUNCATE_FIRST, "train", "--no-cache", "--out",
         str(tmp_path / "m.linfit"), str(data)],
        cwd=tmp_path, env=_CLEAN_ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != -signal.SIGBUS
    line = assert_one_error_line(done.stderr)
    assert done.returncode == 2, done.stderr
    assert "changed while it was being read" in line
    assert not (tmp_path / "m.linfit").exists()


@pytest.mark.skipif(not fastcsv.available(), reason="the compiled scanner is not built")
@pytest.mark.parametrize("when", ["before the first range", "after the last range"])
def test_a_truncation_during_the_scan_is_a_data_error(tmp_path, monkeypatch, when):
    """Before a range is read, the read comes up short; after all are read, the file's
    stat has moved: either way the rows read are refused, not trained on."""
    data = tmp_path / "data.csv"
    _write_table(data, rows=40_000, features=4)
    if when.startswith("before"):
        real_read = fastcsv._Ranges.read

        def read(self, start, end):
            if end - start > 1 << 16 and not getattr(read, "done", False):  # a range, not
                # the 64 kB reads that look for a newline where to cut one
                read.done = True
                os.truncate(data, data.stat().st_size // 2)
            return real_read(self, start, end)

        monkeypatch.setattr(fastcsv._Ranges, "read", read)
    else:
        real_scan = fastcsv._scan_ranges

        def scan_ranges(*args):
            scanned = real_scan(*args)  # every range read, counted and parsed
            os.truncate(data, data.stat().st_size // 2)
            return scanned

        monkeypatch.setattr(fastcsv, "_scan_ranges", scan_ranges)
    with pytest.raises(DataError, match="changed while it was being read"):
        load_dataset(data)


@pytest.mark.skipif(not fastcsv.available(), reason="the compiled scanner is not built")
def test_a_file_rewritten_during_the_scan_is_refused(tmp_path, monkeypatch):
    """Same size, other bytes: the file's times moved, so what was read is refused."""
    data = tmp_path / "data.csv"
    _write_table(data, rows=20_000, features=4)
    text = data.read_bytes()
    real = fastcsv._Ranges.read

    def read(self, start, end):
        data.write_bytes(text.replace(b"1", b"2"))
        return real(self, start, end)

    monkeypatch.setattr(fastcsv._Ranges, "read", read)
    with pytest.raises(DataError, match="changed while it was being read"):
        load_dataset(data)
