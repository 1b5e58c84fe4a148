"""The progress line of a long read, on a terminal's stderr.

A command wraps its reading in :func:`read_progress`; the readers report how far they
have got (:mod:`linfit.data.progress`), and a read that lasts more than ``DELAY`` seconds
shows one line, redrawn in place::

    reading 'big.csv': 412 MB of 1.53 GB (27%), 210 MB/s, 5 s left

The line is wiped when the read ends, so what the command prints next starts on a clean
line. Nothing is shown when stderr is not a terminal (a log, a pipe), with ``--quiet`` or
with ``--json``. This module imports only the standard library: the CLI imports it at
start-up, and the data package (which imports pandas today) only once a line may be drawn.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from linfit.data.progress import Report

# A read that ends sooner shows nothing: a line that flashes by is noise.
DELAY = 1.0
# The line is redrawn at most this often (s), and this often between reports too (its
# elapsed time and rate move on; pandas' read of a whole plain file reports only its end).
REDRAW_EVERY = 0.1


@contextlib.contextmanager
def read_progress(
    quiet: bool,
    json: bool,
    *,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    tick: float | None = REDRAW_EVERY,
) -> Iterator[None]:
    """Show the progress of the reads made inside the block on ``stream`` (stderr), if it
    is a terminal and neither ``quiet`` nor ``json`` is asked.

    ``clock`` gives seconds; ``tick`` is the seconds between redraws while a read sends
    no report (None: reports alone redraw the line, as a test with its own clock needs).
    """
    out = sys.stderr if stream is None else stream
    if quiet or json or not _is_terminal(out):
        yield
        return
    from linfit.data.progress import reporting_to

    line = ProgressLine(out, clock, tick)
    try:
        with reporting_to(line.show):
            yield
    finally:
        line.close()


class ProgressLine:
    """One line on a terminal, drawn from the reports of one read at a time.

    Reports arrive on the reading thread; while a read lasts, a thread of its own
    redraws the line every ``tick`` seconds. A lock keeps the two from drawing at once.
    """

    def __init__(
        self, stream: TextIO, clock: Callable[[], float], tick: float | None = REDRAW_EVERY
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._tick = tick
        self._lock = threading.Lock()
        self._report: Report | None = None  # the current read's last report; None: no read
        self._started = clock()  # when the current read started
        self._drawn_at = -float("inf")
        self._text = ""  # the line now on screen ("": none)
        self._closed = False
        self._ticking: threading.Event | None = None  # set to stop the current ticker

    def show(self, report: Report) -> None:
        """Take one report (the sink of :func:`linfit.data.progress.reporting_to`)."""
        with self._lock:
            if self._closed:
                return  # a reader finishing after the command's block: its line is gone
            now = self._clock()
            if report.final:
                self._end_read()
                return
            if report.done == 0:  # a read's first report
                self._started = now
                self._start_ticker()
            self._report = report
            self._redraw(now)

    def close(self) -> None:
        """Wipe the line; later reports are ignored."""
        with self._lock:
            self._end_read()
            self._closed = True

    def _redraw(self, now: float) -> None:
        elapsed = now - self._started
        if self._report is None or elapsed < DELAY or now - self._drawn_at < REDRAW_EVERY:
            return
        self._drawn_at = now
        text = describe(self._report, elapsed, _columns(self._stream) - 1)
        if text == self._text:
            return  # the terminal shows it already
        # Padding covers a longer line drawn before; "\r" returns to its start.
        self._write("\r" + text.ljust(len(self._text)))
        self._text = text

    def _end_read(self) -> None:
        self._report = None
        if self._ticking is not None:
            self._ticking.set()
            self._ticking = None
        if self._text:
            self._write("\r" + " " * len(self._text) + "\r")
            self._text = ""

    def _start_ticker(self) -> None:
        if self._tick is None or self._ticking is not None:
            return
        self._ticking = threading.Event()
        ticker = threading.Thread(
            target=self._run_ticker, args=(self._ticking, self._tick), daemon=True
        )
        ticker.start()

    def _run_ticker(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            with self._lock:
                if stop.is_set() or self._closed:
                    return
                self._redraw(self._clock())

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr: draw no more
            self._closed = True


def describe(report: Report, elapsed: float, width: int = 80) -> str:
    """The line for ``report``, ``elapsed`` seconds into its read, at most ``width``
    characters (the name is cut first): amount so far, of how much, rate, time left; or,
    before anything is measured, how long so far and of how much."""
    total, unit = report.total, report.unit
    if report.done == 0:  # nothing measured (yet): how long so far, of how much
        whole = f" ({_bytes(total) if unit == 'bytes' else f'{total:,} rows'} in all)"
        return _named(report.name, f"{_duration(elapsed)} so far" + (whole if total else ""), width)
    rate = report.done / elapsed if elapsed > 0 else 0.0
    if unit == "bytes":
        so_far = f"{_bytes(report.done)} of {_bytes(total)}" if total else _bytes(report.done)
        speed = f"{_bytes(rate)}/s"
    else:
        so_far = f"{report.done:,} of {total:,} rows" if total else f"{report.done:,} rows"
        speed = f"{rate:,.0f} rows/s"
    parts = [f"{so_far} ({min(report.done / total, 1.0):.0%})" if total else so_far, speed]
    if total and rate > 0:
        parts.append(f"{_duration(max(total - report.done, 0) / rate)} left")
    return _named(report.name, ", ".join(parts), width)


def _named(name: str, tail: str, width: int) -> str:
    """``reading NAME: TAIL`` in at most ``width`` characters, the name cut from the left
    (its end, the file's own name, says most)."""
    room = width - len("reading : ") - len(tail)
    if room < 8:
        return f"reading: {tail}"[:width]
    if len(name) > room:
        name = "…" + name[-(room - 1) :]
    return f"reading {name}: {tail}"


def _bytes(n: float) -> str:
    """``n`` bytes in decimal units: 950 B, 12.3 kB, 412 MB, 1.50 GB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            break
        n /= 1000
    if unit == "B":
        return f"{n:.0f} B"
    digits = 2 if n < 10 else 1 if n < 100 else 0  # three significant digits
    return f"{n:.{digits}f} {unit}"


def _duration(seconds: float) -> str:
    """A time: <1 s, 7 s, 2 min 05 s, 1 h 04 min."""
    s = round(seconds)
    if s < 1:
        return "<1 s"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _columns(stream: TextIO) -> int:
    """The width in characters of the terminal ``stream`` writes to: $COLUMNS if set, as
    elsewhere; else asked of ``stream`` itself (stdout may be a file meanwhile); else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # not a real terminal (a test's)
        return 80
