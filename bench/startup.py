"""How long a command takes to start: whole processes against ``python -c "import numpy"``.

A user runs linfit many times a day; on small files its time is the start (the imports)
and nothing else. Each row is the median over rounds of a command's time divided by the
baseline's, both timed back to back in each round (``paired_times``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import Row, paired_times

ROUNDS = 7  # medians of at least 5, as the targets ask
IRIS = Path(__file__).resolve().parent.parent / "datasets" / "iris.csv"


def _process(*args: str) -> None:
    subprocess.run([sys.executable, *args], check=True, capture_output=True)


def _linfit(*args: str) -> None:
    _process("-m", "linfit", *args)


def startup() -> list[Row]:
    """``linfit --help``, ``predict`` on a 10-row CSV and ``train`` on iris, each against
    ``python -c "import numpy"``."""
    with tempfile.TemporaryDirectory(prefix="linfit-bench-") as tmp:
        folder = Path(tmp)
        model, rows10 = folder / "iris.linfit", folder / "ten.csv"
        _linfit("train", str(IRIS), "--out", str(model), "--quiet", "--no-cache")
        lines = IRIS.read_text().splitlines()
        rows10.write_text("\n".join(lines[:11]) + "\n")
        cases = [
            ("linfit --help", ("--help",), 2.0),
            ("linfit predict, 10-row CSV", ("predict", str(model), str(rows10)), 4.0),
            # as a user's second run: the parsed copy is in the cache (filled by the warm-up)
            ("linfit train on iris", ("train", str(IRIS), "--out", str(folder / "m.linfit"),
                                      "--quiet"), 6.0),
        ]  # fmt: skip
        result = []
        for name, args, target in cases:
            t, t_numpy, ratio = paired_times(
                lambda a=args: _linfit(*a), lambda: _process("-c", "import numpy"), ROUNDS
            )
            result.append(
                Row(
                    "startup",
                    name,
                    t,
                    'python -c "import numpy"',
                    ratio,
                    f"import numpy {t_numpy:.3f} s",
                    f"<= {target:g}x",
                    ratio <= target,
                )
            )
    return result
