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

import numpy as np

from linfit.storage.atomic import atomic_write


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


def paired_times(
    fn: Callable[[], Any],
    baseline: Callable[[], Any],
    repeat: int = 7,
    warm_up: bool = True,
    settle: float = 0.0,
) -> tuple[float, float, float]:
    """``fn``'s and ``baseline``'s median times over ``repeat`` rounds, and the median of the
    rounds' ratios ``fn / baseline``: the figure to hold to a target. ``warm_up`` runs each
    once first, untimed (first-touch allocations, lazy imports, thread pools).

    Why: on this shared 2-core machine another process can take a core for seconds, and
    the same function then runs 1.5 to 4x slower. Timing ``fn`` and its baseline in separate
    series (the fastest of 3 each) compared runs that saw different loads: the committed
    evaluation ratios swung by +-40% between runs. Here each round runs both back to back
    (in alternating order, so neither always runs on a cache the other warmed), so a round's
    ratio compares two runs under the same load; the median over rounds drops the rounds a
    change of load split. The median rather than the fastest: the fastest of each series
    may come from different rounds, which is the mismatch this avoids.

    ``settle`` seconds of untimed runs (at least one) precede each timed one within a round,
    for functions that set up threads differently: OpenBLAS's worker keeps a core spinning
    for about 0.1 s after a 2-thread call, so an evaluation spread over both cores by
    linfit's own threads right after the floor's product competes with that spin. Measured
    on 120,000 x 60 x 2 softmax: for 0.1 s after the product an evaluation took 9 ms and
    17-21 ms of CPU, from then on 5.5 ms and 10 ms, which is what an optimizer's
    back-to-back evaluations see; one settling run (3-13 ms) was too short to outlast it.
    """
    times = interleaved_times({"fn": fn, "base": baseline}, repeat, warm_up, settle)
    return (
        float(np.median(times["fn"])),
        float(np.median(times["base"])),
        median_ratio(times["fn"], times["base"]),
    )


def interleaved_times(
    runs: dict[str, Callable[[], Any]], rounds: int, warm_up: bool = True, settle: float = 0.0
) -> dict[str, list[float]]:
    """Each function's wall times over ``rounds`` rounds, every round running them all in
    turn, in reverse order every other round (see ``paired_times`` for why, and for
    ``warm_up`` and ``settle``)."""
    if warm_up:
        for run in runs.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            if settle > 0:
                start = time.perf_counter()
                runs[name]()
                while time.perf_counter() - start < settle:
                    runs[name]()
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(times: list[float], baselines: list[float]) -> float:
    """The median of the rounds' ratios ``times[i] / baselines[i]``."""
    return float(np.median([t / b for t, b in zip(times, baselines, strict=True)]))


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs after one warm-up: the least disturbed by the machine.

    For a time shown beside another timed apart from it (the slow baselines of ingest and
    least squares, too slow to pair in many rounds); a ratio held to a target should come
    from ``paired_times``."""
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


def median_timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float]:
    """``fn``'s result and its median wall time over ``repeat`` runs: for a fit of a few
    seconds held against a baseline too slow to repeat, so that one run slowed by another
    process on this shared machine does not decide the row."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    times = []
    for _ in range(repeat):
        result, t = timed(fn)
        times.append(t)
    return result, float(np.median(times))


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
