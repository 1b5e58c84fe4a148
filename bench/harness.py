"""What every benchmark shares: timing, a row per measurement, and the reports.

Machines here are noisy, so every figure is a ratio against a baseline timed in the same
run on the same data, and a row carries the target that ratio is held to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from linfit.atomic import atomic_write


@dataclass(frozen=True)
class Row:
    """One measurement: ``system`` took ``time_s``, ``ratio`` times ``baseline``'s time."""

    workload: str
    system: str
    time_s: float | None  # None: not measured (an optional baseline is not installed)
    baseline: str | None = None
    ratio: float | None = None
    quality: str = ""  # what the run reached: an objective, an accuracy, an error
    target: str = ""  # what the ratio (and quality) must meet, in words
    holds: bool | None = None  # None: no target for this row


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs after one warm-up: the least disturbed by the machine."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """One run of ``fn``: its result and its wall time (for fits too slow to repeat)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def to_markdown(rows: list[Row], settings: dict[str, Any]) -> str:
    lines = [
        "# linfit benchmarks",
        "",
        "Regenerate with `make bench` (`python -m bench`; `--quick` for a smoke run). Every "
        "ratio is against a baseline timed in the same run on the same data; absolute "
        "times vary with the machine and its load.",
        "",
        "Settings: " + ", ".join(f"{k} = {v}" for k, v in settings.items()),
        "",
    ]
    if settings.get("sizes") == "quick":
        lines += [
            "**A smoke run at tiny sizes**: it keeps the code working; fixed costs dominate "
            "every ratio, so the targets (set for the full sizes) say nothing here.",
            "",
        ]
    for workload in dict.fromkeys(r.workload for r in rows):
        lines += [
            f"## {workload}",
            "",
            "| system | time (s) | vs | ratio | reached | target | holds |",
            "|---|---:|---|---:|---|---|---|",
        ]
        for r in (r for r in rows if r.workload == workload):
            holds = {None: "", True: "yes", False: "**no**"}[r.holds]
            ratio = "" if r.ratio is None else f"{r.ratio:.3g}"
            time_s = "" if r.time_s is None else f"{r.time_s:.4g}"
            lines.append(
                f"| {r.system} | {time_s} | {r.baseline or ''} | {ratio} | {r.quality} "
                f"| {r.target} | {holds} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_reports(rows: list[Row], settings: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(rows, settings) + "\n"
    payload = json.dumps({"settings": settings, "rows": [asdict(r) for r in rows]}, indent=1)
    atomic_write(out / "bench.md", lambda fh: fh.write(markdown), binary=False)
    atomic_write(out / "bench.json", lambda fh: fh.write(payload + "\n"), binary=False)
