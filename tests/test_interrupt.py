"""Ctrl-C during training: the run stops at its last accepted point, which is saved."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from linfit.data.bundled import write_synthetic
from linfit.storage import persist


def test_sigint_saves_the_last_point_marked_not_converged_and_exits_130(tmp_path):
    data = tmp_path / "d.csv"
    write_synthetic(data, "classification", n_samples=20_000, n_features=20, n_classes=3)
    out = tmp_path / "m.linfit"
    # a fixed tiny step: thousands of cheap iterations, far from converging on its own
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "linfit",
            "train",
            str(data),
            "--optimizer",
            "gd",
            "--lr",
            "1e-4",
            "--max-iter",
            "1000000",
            "--out",
            str(out),
            "--no-cache",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        # a suite started in the background (`make test &`) inherits SIGINT ignored, and
        # Python then never raises KeyboardInterrupt: give the child Ctrl-C as a terminal has it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(4.0)  # past start-up and loading, into the iterations
        assert proc.poll() is None, proc.communicate()
        start = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()  # never left running past the test (a no-op once it has exited)
    assert time.perf_counter() - start < 5.0  # stops within an iteration, not at max-iter
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    saved = persist.load(out)
    assert saved.summary["status"] == "stopped" and saved.summary["converged"] is False
    assert 0 < saved.summary["n_iter"] < 1_000_000
