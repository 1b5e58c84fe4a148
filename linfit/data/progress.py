"""How far a long read has got, told to whoever asked, and to no one by default.

A reader opens a :func:`track` for each read it makes and updates it at a coarse grain,
never per row: the compiled scanner after each byte range it has counted or parsed
(:mod:`linfit.data.fastcsv`); pandas, reading from a :func:`counted` file object, after
each read of 256 kB or more (a column read again, standard input, a compressed file, the
out-of-core first pass); Parquet after each batch of rows. A read that cannot be watched
(pandas reading a whole plain file on several cores, pyarrow a whole Parquet file) is
reported at its start and its end only. Each report reaches the sink installed by
:func:`reporting_to` as a :class:`Report`. The sink lives in a ``ContextVar``, so it
follows the code that reads (a thread, a task) rather than being global; with no sink
installed a track is a shared object whose update does nothing, so a reader may report
freely.

This module knows nothing of terminals: ``linfit.cli.progress`` draws the reports as a
line on stderr. It imports nothing heavy, so the CLI may import it at start-up.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import BinaryIO, Literal

Unit = Literal["bytes", "rows"]


@dataclass(frozen=True)
class Report:
    """One update of one read. A read's first report has ``done == 0``: its start.

    Attributes:
        name: what is read, as messages name it (a quoted path, ``standard input``).
        done: bytes (or rows) read so far; never less than the read's previous report.
        total: bytes (or rows) in all; None when unknown beforehand.
        unit: ``"bytes"`` or ``"rows"``.
        final: the read has ended: completed (then ``done == total`` where a total is
            known), failed, or given up for another reader (the scanner for pandas).
    """

    name: str
    done: int
    total: int | None
    unit: Unit
    final: bool = False


Sink = Callable[[Report], None]

_SINK: ContextVar[Sink | None] = ContextVar("linfit_progress_sink", default=None)


@contextlib.contextmanager
def reporting_to(sink: Sink) -> Iterator[None]:
    """Send the reports of every read started inside the block to ``sink``.

    ``sink`` is called on the reading thread, and must be quick and must not raise.
    """
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


class Track:
    """One read's progress, sent to a sink; see :func:`track`."""

    __slots__ = ("_done", "_name", "_sink", "_total", "_unit")

    def __init__(self, sink: Sink, name: str, total: int | None, unit: Unit) -> None:
        self._sink, self._name, self._total, self._unit = sink, name, total, unit
        self._done = 0

    def update(self, done: int) -> None:
        """Report ``done`` bytes (or rows) read so far; a value below the last is not
        reported (a reader that seeks back, as an archive reader does, is not undone)."""
        if done > self._done:
            self._done = done
            self._sink(Report(self._name, done, self._total, self._unit))

    def finish(self) -> None:
        """Report the read's end, with as much as it read."""
        self._sink(Report(self._name, self._done, self._total, self._unit, final=True))


class _Silent(Track):
    """The track of a read no one asked about: updates cost one method call."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def update(self, done: int) -> None:
        pass

    def finish(self) -> None:
        pass


_SILENT = _Silent()


@contextlib.contextmanager
def track(name: str, total: int | None, unit: Unit = "bytes") -> Iterator[Track]:
    """A Track for one read of ``total`` bytes (or rows; None if unknown) of ``name``,
    reported to the sink installed by :func:`reporting_to` when the read starts, and
    finished (a final report) when the block ends, however it ends."""
    sink = _SINK.get()
    if sink is None:
        yield _SILENT
        return
    started = Track(sink, name, total, unit)
    sink(Report(name, 0, total, unit))  # the read's start: a renderer's clock starts here
    try:
        yield started
    finally:
        started.finish()


class _CountedRaw(io.RawIOBase):
    """A binary stream whose position is reported to a Track after each read. The
    position is counted here, not asked of the stream: a pipe has none."""

    def __init__(self, stream: BinaryIO, progress: Track) -> None:
        super().__init__()
        self._stream = stream
        self._progress = progress
        self._position = 0
        self.name = getattr(stream, "name", "")  # archive readers look for it

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def readinto(self, buffer: memoryview) -> int | None:  # type: ignore[override]
        n = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._position += n
            self._progress.update(self._position)
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._position = self._stream.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._position


def counted(
    stream: BinaryIO, progress: Track, buffer_size: int = io.DEFAULT_BUFFER_SIZE
) -> io.BufferedReader:
    """``stream`` (a binary file or BytesIO, left open) as a buffered reader whose reads
    report the position in ``stream`` (bytes) to ``progress``: once per refill of its
    ``buffer_size`` buffer, or once per larger read, which goes straight through (pandas
    asks for 256 kB at a time). A reader of lines wants a buffer of a MB or so."""
    return io.BufferedReader(_CountedRaw(stream, progress), buffer_size)
