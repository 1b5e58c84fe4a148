"""Atomic file writing: the one way linfit writes a file (model, predictions, dataset, report).

A file is written to a unique temporary file in the destination folder, flushed and fsynced,
given its final permissions and then renamed over the target with ``os.replace``, so a reader
sees either the old file or the complete new one, never a half-written file. On any failure
(including Ctrl-C) the temporary file is removed and an existing target is left untouched.

What the user can fix is raised as a one-line :mod:`linfit.errors` exception naming the path:
:class:`~linfit.errors.OptionError` for a target that cannot be a file (a missing folder, a
directory, a device, a FIFO, a symbolic link) and :class:`~linfit.errors.OutputError` for an
``OSError`` while writing (permission denied, disk full, read-only file system).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from linfit.errors import OptionError, OutputError, quote_path

__all__ = ["atomic_open", "atomic_write", "check_target"]

_PERMISSIONS = "check the permissions of the file and its folder, or choose another path"
_HINTS = {
    errno.ENOSPC: "free some disk space or choose another folder",
    getattr(errno, "EDQUOT", errno.ENOSPC): "free some disk space or choose another folder",
    errno.EROFS: "the file system is read-only; choose another folder",
    errno.EACCES: _PERMISSIONS,
    errno.EPERM: _PERMISSIONS,
}


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (threads may race)."""
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/self/status", encoding="ascii", errors="replace") as status,
    ):
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _output_error(what: str, path: Path, err: OSError) -> OutputError:
    reason = err.strerror or str(err) or type(err).__name__
    hint = _HINTS.get(err.errno or 0, "check the path, or choose another one")
    shown = quote_path(path)
    return OutputError(f"cannot write {what} {shown}: {' '.join(reason.split())}; {hint}")


def _check_target(what: str, path: Path) -> tuple[Path, int | None]:
    """The folder to write in and the mode of the existing regular file (None if absent)."""
    folder = path.parent
    shown = quote_path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        st = None  # a parent is not a folder: reported below
    except OSError as err:
        raise _output_error(what, path, err) from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OptionError(
                f"cannot write {what} {shown}: it is a symbolic link, which linfit does not "
                "write through; give the path of a regular file"
            )
        if stat.S_ISDIR(st.st_mode):
            raise OptionError(f"cannot write {what} {shown}: it is a directory; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise OptionError(
                f"cannot write {what} {shown}: it is not a regular file (a device, FIFO or "
                "socket); give the path of a regular file"
            )
        return folder, stat.S_IMODE(st.st_mode) & 0o777
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise OptionError(
            f"cannot write {what} {shown}: folder {quote_path(folder)} {problem}; create it "
            "or choose another path"
        )
    return folder, None


def check_target(path: str | Path, *, what: str = "file") -> None:
    """Refuse, before any work, a target that :func:`atomic_write` would refuse.

    For callers that do something slow (training) before writing. It cannot promise the
    write will succeed (the disk may fill up meanwhile), only that the path is usable.

    Raises:
        OptionError, OutputError: as :func:`atomic_open`, for the path alone.
    """
    _check_target(what, Path(path))


def _set_mode(fd: int, tmp: Path, mode: int) -> None:
    """Give the temporary file its final permissions; best effort.

    Where permissions cannot be set (e.g. a FAT file system), the file keeps mkstemp's
    0o600, which is never more open than asked for, so the write goes ahead.
    """
    with contextlib.suppress(OSError):
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:
            os.chmod(tmp, mode)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; best effort (impossible on some systems)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(
    path: str | Path,
    *,
    binary: bool,
    what: str = "file",
    encoding: str = "utf-8",
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without error.

    Args:
        path: the file to create or replace.
        binary: True for a binary handle; False for text in ``encoding`` with ``newline=""``
            (no newline translation: what is written is what ends up in the file, as the
            ``csv`` module and ``DataFrame.to_csv`` expect).
        what: how messages name the file, e.g. ``"model file"``.
        encoding: the text encoding (text mode only).

    Yields:
        A writable file object for the temporary file.

    The new file gets the permissions of the file it replaces, or ``0o666 & ~umask`` when
    there was none. If the block raises, nothing is renamed, the temporary file is removed and
    the exception propagates (an ``OSError`` as :class:`~linfit.errors.OutputError`).

    Raises:
        OptionError: the target is a symbolic link, a directory or not a regular file, or its
            folder does not exist.
        OutputError: an ``OSError`` while creating, writing, syncing or renaming the file.
    """
    path = Path(path)
    folder, mode = _check_target(what, path)
    if mode is None:
        mode = 0o666 & ~_umask()
    try:
        # The name is cut so that a target near the file-name limit still gets a temporary.
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name[:64]}.", suffix=".tmp")
    except OSError as err:
        raise _output_error(what, path, err) from None
    tmp = Path(tmp_name)
    try:
        try:
            handle = (
                os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline="")
            )
        except BaseException:
            os.close(fd)
            raise
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            _set_mode(handle.fileno(), tmp, mode)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError):
            raise _output_error(what, path, err) from None
        raise
    _sync_folder(folder)


def atomic_write(
    path: str | Path,
    write: Callable[[IO[Any]], None],
    *,
    binary: bool,
    what: str = "file",
    encoding: str = "utf-8",
) -> None:
    """Write ``path`` atomically: ``write(handle)`` fills a temporary file that then replaces it.

    Args:
        path: the file to create or replace.
        write: called once with the open temporary file (binary, or text with ``newline=""``).
        binary, what, encoding: as in :func:`atomic_open`.

    An exception from ``write`` leaves an existing ``path`` untouched and no temporary file
    behind; it propagates as it is, except an ``OSError``, which becomes ``OutputError``.

    Raises:
        OptionError: the target is a symbolic link, a directory or not a regular file, or its
            folder does not exist.
        OutputError: an ``OSError`` while creating, writing, syncing or renaming the file.
    """
    with atomic_open(path, binary=binary, what=what, encoding=encoding) as handle:
        write(handle)
