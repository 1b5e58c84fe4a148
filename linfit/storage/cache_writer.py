"""One entry of the parsed-data cache written whole: its files staged in a temporary
folder, flushed to disk, then renamed into place, so that a reader sees the whole entry or
none (``cache_entry.py`` reads one back and checks it; see ``cache.py`` for what the cache
guarantees)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from linfit.data import Dataset
from linfit.errors import CacheWarning, quote_path
from linfit.storage.cache_entry import FORMAT, cache_dir, reason, sample_digest, write_meta


def staging_folder(folder: Path) -> Path:
    """A new empty folder beside the entry ``folder`` (same file system, so that its
    rename into place is atomic); ``OSError`` if the cache cannot be written."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))


def write_entry(
    folder: Path,
    dataset: Dataset,
    write_X: Callable[[Path], None] | None = None,
    *,
    source: dict[str, Any],
    staging: Path | None = None,
    name: str | Path,
) -> None:
    """Make ``folder`` the entry of ``dataset``, atomically, unless another process made it
    first (its copy stands) or the disk refuses (reported as a warning).

    The matrix is written by ``write_X(staging)``, or is already in ``staging``.
    """
    own = staging is None  # a staging folder of our own is removed whatever happens
    try:
        if staging is None:
            staging = staging_folder(folder)
        try:
            if write_X is not None:
                write_X(staging)
            _stage_rest(staging, dataset, source)
            _publish(staging, folder)
        finally:
            if own:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        unwritable(name, exc)


def _stage_rest(staging: Path, dataset: Dataset, source: dict[str, Any]) -> None:
    """Beside the matrix already in ``staging/X.bin`` (``dataset.X``'s n × d values): the
    targets (``y.npy``, n values) and the record that checks both, all flushed to disk."""
    y_bytes = _write_y(staging, dataset.y)
    meta = _record(staging, dataset, source, y_bytes)
    write_meta(staging, meta)
    _sync(staging)


def _write_y(staging: Path, y: np.ndarray) -> bytes:
    """``staging/y.npy`` holding the n targets; returns its bytes, which the record sums.
    Text labels (an object array) are saved as unicode, since an entry is read without
    pickle."""
    text = y.dtype == object
    buffer = io.BytesIO()
    np.save(buffer, y.astype(str) if text else y, allow_pickle=False)
    y_bytes = buffer.getvalue()
    (staging / "y.npy").write_bytes(y_bytes)
    return y_bytes


def _record(
    staging: Path, dataset: Dataset, source: dict[str, Any], y_bytes: bytes
) -> dict[str, Any]:
    """The entry's ``meta.json`` record (without its checksum): the layout of X (shape n × d,
    dtype), the names, the source file's state, and the sums that a read checks."""
    x_bytes = (staging / "X.bin").stat().st_size
    return {
        "format": FORMAT,
        "source": source,
        "feature_names": list(dataset.feature_names),
        "target_name": dataset.target_name,
        "labels_as_text": bool(dataset.y.dtype == object),
        "shape": list(dataset.X.shape),
        "dtype": np.dtype(dataset.X.dtype).str,
        "x_sample_sha256": sample_digest(staging / "X.bin", x_bytes),
        "y_bytes": len(y_bytes),
        "y_sha256": hashlib.sha256(y_bytes).hexdigest(),
    }


def _sync(folder: Path) -> None:
    """The entry's files on disk before its rename makes it visible (a crash then leaves
    a whole entry or none)."""
    for name in ("X.bin", "y.npy"):
        fd = os.open(folder / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _publish(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; an entry another process renamed there first
    stands (both copies hold the same parse)."""
    try:
        os.replace(staging, folder)  # whole entries appear at once, or not at all
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and folder.is_dir():
            return  # another process made it meanwhile: its copy stands
        raise


def unwritable(path: str | Path, exc: OSError) -> None:
    """Warn that ``path``'s parse was not cached, and why; the run goes on without it."""
    warnings.warn(
        f"the parsed copy of {quote_path(path)} was not cached in {quote_path(cache_dir())} "
        f"({reason(exc)}); training goes on without it (see docs/cache.md)",
        CacheWarning,
        stacklevel=4,
    )
