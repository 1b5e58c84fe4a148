"""Reading a large numeric CSV, and training end to end as a user would, as processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from bench.external import reader_rows
from bench.harness import Row, best_time, timed
from linfit.cache import cached
from linfit.data import load_dataset
from linfit.datasets import write_synthetic

SCRIPT = """
import sys, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
frame = pd.read_csv(sys.argv[1])
X, y = StandardScaler().fit_transform(frame.iloc[:, :-1].to_numpy()), frame.iloc[:, -1]
LogisticRegression(C=1 / (2 * len(y) * 1e-4), tol=1e-6, max_iter=1000).fit(X, y)
"""


def ingest_and_end_to_end(n_samples: int, n_features: int, n_classes: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "softmax.csv"
        write_synthetic(
            path,
            "classification",
            n_samples=n_samples,
            n_features=n_features,
            n_classes=n_classes,
            seed=0,
        )
        size = path.stat().st_size / 1e6
        floor = best_time(lambda: path.read_bytes(), repeat=2)
        t_pd = best_time(lambda: pd.read_csv(path), repeat=2)
        others, t_fastest = reader_rows(path, size, t_pd)
        t_linfit = best_time(lambda: load_dataset(path), repeat=2)
        previous = os.environ.get("LINFIT_CACHE_DIR")
        os.environ["LINFIT_CACHE_DIR"] = str(Path(folder) / "cache")  # this run's own cache
        try:
            return _timed_runs(path, folder, size, floor, t_pd, others, t_fastest, t_linfit)
        finally:
            if previous is None:
                os.environ.pop("LINFIT_CACHE_DIR")
            else:
                os.environ["LINFIT_CACHE_DIR"] = previous


def _timed_runs(
    path: Path,
    folder: str,
    size: float,
    floor: float,
    t_pd: float,
    others: list[Row],
    t_fastest: float,
    t_linfit: float,
) -> list[Row]:
    """The cached read and the end-to-end processes, inside this run's own cache."""
    cached(path, {}, lambda: load_dataset(path))  # the first read fills it
    t_cached = best_time(lambda: cached(path, {}, lambda: load_dataset(path)), repeat=3)
    rows = [
        Row(
            "ingest",
            f"read the bytes ({size:.0f} MB)",
            floor,
            quality=f"{size / floor:.0f} MB/s",
        ),
        Row(
            "ingest",
            "pandas.read_csv (C engine)",
            t_pd,
            "bytes",
            t_pd / floor,
            f"{size / t_pd:.0f} MB/s",
        ),
        *others,
        Row(
            "ingest",
            "linfit loader, first read",
            t_linfit,
            "the fastest reader",
            t_linfit / t_fastest,
            f"{size / t_linfit:.0f} MB/s, validated",
            "<= 1x the fastest reader measured",
            t_linfit / t_fastest <= 1.0,
        ),
        Row(
            "ingest",
            "linfit loader, repeated read (parsed-binary cache)",
            t_cached,
            "pandas.read_csv",
            t_cached / t_pd,
            "",
            ">= 10x faster (<= 0.1x)",
            t_cached / t_pd <= 0.1,
        ),
    ]
    model = Path(folder) / "m.linfit"
    train = [
        sys.executable,
        "-m",
        "linfit",
        "train",
        str(path),
        "--quiet",
        "--test-size",
        "0",
        "--out",
        str(model),
    ]
    script = [sys.executable, "-c", SCRIPT, str(path)]
    _, t_script = timed(lambda: subprocess.run(script, check=True))
    _, t_first = timed(lambda: subprocess.run(train, check=True, env=os.environ))
    _, t_second = timed(lambda: subprocess.run(train, check=True, env=os.environ))
    rows += [
        Row("end to end", "pandas.read_csv + sklearn fit (a process)", t_script),
        Row(
            "end to end",
            "linfit train (a process), first run",
            t_first,
            "the script",
            t_first / t_script,
        ),
        Row(
            "end to end",
            "linfit train (a process), second run",
            t_second,
            "the script",
            t_second / t_script,
            "the cache filled by the first",
            "<= 0.5x",
            t_second / t_script <= 0.5,
        ),
    ]
    return rows
