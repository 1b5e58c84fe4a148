"""Training on a CSV larger than memory should allow: peak memory, and the same optimum.

Two runs of ``linfit train`` as processes. On a file that fits in memory, out of core
(``--chunksize``) against a whole read: the same objective (1e-6 relative), and the time
ratio. On a large file (3 GB at full size), out of core: the peak resident memory of the
process, held under 1 GB, against the file's size. On both, mini-batch sgd in one and in
three epochs (shuffled by chunk): its time and how far its objective ends from L-BFGS's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import Row, timed
from linfit.data.bundled import write_synthetic

CHUNK_ROWS = 65_536
RSS_LIMIT = 1 << 30
SGD_EPOCHS = (1, 3)

# Runs the command and prints its peak resident memory (KB): a wrapper of its own, so
# that no other child of the benchmark counts in RUSAGE_CHILDREN.
PEAK_RSS = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(json.dumps({'code': done.returncode, 'stdout': done.stdout,"
    " 'peak_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)


def _train(path: Path, folder: Path, *extra: str) -> tuple[dict, int, float]:
    """``linfit train`` on ``path``: its JSON result, peak RSS in bytes, and wall time."""
    command = [sys.executable, "-m", "linfit", "train", str(path), "--quiet", "--json"]
    command += ["--test-size", "0", "--out", str(folder / "m.linfit"), *extra]
    wrapper = [sys.executable, "-c", PEAK_RSS, *command]
    env = {**os.environ, "LINFIT_CACHE_DIR": str(folder / "cache")}
    done, seconds = timed(
        lambda: subprocess.run(wrapper, capture_output=True, text=True, env=env, check=True)
    )
    report = json.loads(done.stdout)
    if report["code"] != 0:
        raise RuntimeError(f"linfit train failed: {done.stderr.strip()}")
    return json.loads(report["stdout"]), report["peak_kb"] * 1024, seconds


def out_of_core(small: tuple[int, int, int], large: tuple[int, int, int]) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "fits.csv"
        n, d, k = small
        write_synthetic(path, "classification", n_samples=n, n_features=d, n_classes=k, seed=1)
        whole, rss_whole, t_whole = _train(path, folder, "--no-cache")
        disk, rss_disk, t_disk = _train(path, folder, "--no-cache", "--chunksize", str(CHUNK_ROWS))
        gap = abs(disk["objective"] - whole["objective"]) / abs(whole["objective"])
        size = path.stat().st_size / 1e6
        rows += [
            Row(
                "out of core",
                f"linfit train, whole read ({size:.0f} MB CSV)",
                t_whole,
                quality=f"objective {whole['objective']:.10g}, peak RSS {rss_whole / 1e6:.0f} MB",
            ),
            Row(
                "out of core",
                f"linfit train --chunksize {CHUNK_ROWS} (same file)",
                t_disk,
                "whole read",
                t_disk / t_whole,
                f"objective {gap:.1e} relative from the whole read's, "
                f"peak RSS {rss_disk / 1e6:.0f} MB",
                "objective within 1e-6",
                gap <= 1e-6,
            ),
        ]
        rows += _sgd_rows(path, folder, disk, "--no-cache")
        path.unlink()
        path = folder / "large.csv"
        n, d, k = large
        write_synthetic(path, "classification", n_samples=n, n_features=d, n_classes=k, seed=2)
        size = path.stat().st_size
        result, rss, seconds = _train(path, folder, "--chunksize", str(CHUNK_ROWS))
        rows.append(
            Row(
                "out of core",
                f"linfit train --chunksize {CHUNK_ROWS} on a {size / 1e9:.2f} GB CSV",
                seconds,
                quality=f"peak RSS {rss / 1e6:.0f} MB ({rss / size:.2f}x the file), "
                f"{result['n_iter']} iterations, converged {result['converged']}",
                target="peak RSS < 1 GB",
                holds=rss < RSS_LIMIT,
            )
        )
        rows += _sgd_rows(path, folder, result)  # the cache filled by L-BFGS's run
    return rows


def _sgd_rows(path: Path, folder: Path, lbfgs: dict, *extra: str) -> list[Row]:
    """``--optimizer sgd`` out of core for ``SGD_EPOCHS`` epochs, against the L-BFGS run
    ``lbfgs`` (its JSON result) on the same file. Time and ratio are the optimizers' own
    (the JSON's ``time_s``): L-BFGS's run on the large file also parsed it, sgd's did not."""
    rows = []
    for epochs in SGD_EPOCHS:
        options = ("--optimizer", "sgd", "--max-iter", str(epochs), "--chunksize", str(CHUNK_ROWS))
        result, rss, seconds = _train(path, folder, *options, *extra)
        gap = (result["objective"] - lbfgs["objective"]) / abs(lbfgs["objective"])
        rows.append(
            Row(
                "out of core",
                f"linfit train --chunksize {CHUNK_ROWS} --optimizer sgd --max-iter {epochs} "
                "(same file)",
                result["time_s"],
                "L-BFGS out of core, optimizer time",
                result["time_s"] / lbfgs["time_s"],
                f"objective {gap:.1e} relative above L-BFGS's, peak RSS {rss / 1e6:.0f} MB, "
                f"the process {seconds:.1f} s",
            )
        )
    return rows
