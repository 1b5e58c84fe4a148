"""Byte ranges of an open file, read with ``pread`` on the threads of the compiled
scanner (:mod:`linfit.data.fastcsv`), each into a buffer of its own; a file changed
meanwhile is refused in one line.
"""

from __future__ import annotations

import os
import threading

from linfit.errors import DataError


def changed(shown: str, how: str) -> DataError:
    return DataError(
        f"{shown} changed while it was being read ({how}); read it again once the program "
        "writing it has finished"
    )


class Ranges:
    """Byte ranges of an open file, read with ``pread`` into a buffer of the thread's own.

    The scanner once mapped the file (``mmap``). A mapped file that another process
    truncates kills the reader: touching a page past the new end raises SIGBUS, which
    Python cannot catch. A handler that jumps out of the scanner (``sigsetjmp``) would
    have to be process-wide, chained with faulthandler's and pytest's, and safe on every
    scanning thread at once; reading each range into memory has no such global state: a
    truncated file gives a short read, which says what happened, and nothing can fault.
    Each range is read twice, to count its lines and then to parse them, into the same
    buffer of its thread (at most ``fastcsv.MAX_RANGE_BYTES``), whose pages are faulted in once:
    a pass copying from the page cache costs about what touching a mapping's pages did
    (100 MB in 8 ranges: 21 ms either way; 67 ms into fresh buffers), and the second pass
    is the price. Measured on a 102 MB file (100,000 x 100), the 2-core machine shared
    with other work: scan() took 1.13x the mapped scan's time (median of 21 interleaved
    rounds, IQR 1.02-1.32).
    """

    def __init__(self, fd: int, size: int, shown: str) -> None:
        self.fd, self.size, self.shown = fd, size, shown
        self._local = threading.local()

    def read(self, start: int, end: int) -> memoryview:
        """``file[start:end]`` in this thread's buffer (valid until its next read), whole;
        a short read is the file truncated meanwhile."""
        buffer = getattr(self._local, "buffer", None)
        if buffer is None or len(buffer) < end - start:
            buffer = self._local.buffer = bytearray(end - start)
        view = memoryview(buffer)[: end - start]
        done = 0
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], start + done)
            if got == 0:
                raise changed(self.shown, f"it ended at byte {start + done} of {self.size}")
            done += got
        return view

    def find_newline(self, start: int) -> int:
        """The offset of the first newline at or after ``start``; -1 if there is none."""
        window = 1 << 16
        while start < self.size:
            block = bytes(self.read(start, min(start + window, self.size)))
            at = block.find(b"\n")
            if at >= 0:
                return start + at
            start += len(block)
        return -1
