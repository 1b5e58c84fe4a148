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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from linfit.data import Dataset
from linfit.errors import CacheWarning, quote_path
from linfit.lazy import issparse
from linfit.storage.cache_entry import FORMAT, cache_dir, reason, sample_digest, write_meta
from linfit.storage.cache_sparse import compact_csr, write_csr, write_raw


def staging_folder(folder: Path) -> Path:
    """A new empty folder beside the entry ``folder`` (same file system, so that its
    rename into place is atomic); ``OSError`` if the cache cannot be written."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))


def write_entry(
    folder: Path,
    dataset: Dataset,
    write_X: Callable[[Path], dict[str, Any]] | None = None,
    *,
    source: dict[str, Any],
    staging: Path | None = None,
    name: str | Path,
) -> None:
    """Make ``folder`` the entry of ``dataset``, atomically, unless another process made it
    first (its copy stands) or the disk refuses (reported as a warning).

    The matrix is written by ``write_X(staging)`` (``write_matrix``), which returns its
    part of the record, or is already in ``staging/X.bin`` (a dense one).
    """
    own = staging is None  # a staging folder of our own is removed whatever happens
    try:
        if staging is None:
            staging = staging_folder(folder)
        try:
            write = write_X or partial(dense_record, X=dataset.X)  # or staged already
            matrix = write(staging)
            _stage_rest(staging, dataset, matrix, source)
            _publish(staging, folder)
        finally:
            if own:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        unwritable(name, exc)


def write_matrix(staging: Path, X: Any, compact: bool = False) -> dict[str, Any]:
    """``X`` (n × d) written into ``staging``: dense, as ``X.bin``, its n × d values
    row-major; CSR, as its three arrays (``cache_sparse``); with ``compact``, a dense one
    as CSR too where that is smaller (``cache_sparse.compact_csr``). Returns the matrix's
    part of the record."""
    if issparse(X):
        return write_csr(staging, X)
    if compact and (kept := compact_csr(X)) is not None:
        return {**write_csr(staging, kept), "dense": True}
    write_raw(staging / "X.bin", np.ascontiguousarray(X))
    return dense_record(staging, X)


def dense_record(staging: Path, X: Any) -> dict[str, Any]:
    """The record of the dense matrix ``X`` (n × d) in ``staging/X.bin``: its shape, dtype
    and the digest of the file's ends. An entry of this kind names no layout."""
    x_bytes = (staging / "X.bin").stat().st_size
    return {
        "shape": [int(s) for s in X.shape],
        "dtype": np.dtype(X.dtype).str,
        "x_sample_sha256": sample_digest(staging / "X.bin", x_bytes),
    }


def _stage_rest(
    staging: Path, dataset: Dataset, matrix: dict[str, Any], source: dict[str, Any]
) -> None:
    """Beside the matrix already in ``staging`` (``dataset.X``'s, ``matrix`` its record):
    the targets (``y.npy``, n values), the sample weights when read (``w.npy``, n
    float64) and the record that checks them, all flushed to disk."""
    # text labels (an object array) are saved as unicode: an entry is read without pickle
    y = dataset.y.astype(str) if dataset.y.dtype == object else dataset.y
    meta = {**_record(dataset, matrix, source), **_write_npy(staging / "y.npy", y)}
    if dataset.weights is not None:
        weights = np.asarray(dataset.weights, dtype=np.float64)
        meta.update(_write_npy(staging / "w.npy", weights))
    write_meta(staging, meta)
    _sync(staging)


def _write_npy(path: Path, array: np.ndarray) -> dict[str, Any]:
    """``path`` (``y.npy``, ``w.npy``) holding ``array`` in numpy's file format, without
    pickle; returns the record of it a read checks (``cache_entry._read_npy``): its size
    and SHA-256 under the file's stem (``y_bytes``, ``y_sha256``)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    raw = buffer.getvalue()
    path.write_bytes(raw)
    return {f"{path.stem}_bytes": len(raw), f"{path.stem}_sha256": hashlib.sha256(raw).hexdigest()}


def _record(dataset: Dataset, matrix: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The entry's ``meta.json`` record but its checksum and the sums of ``y.npy`` and
    ``w.npy`` (``_write_npy``): the matrix's (its shape n × d, dtype, layout and sums), the
    names and the source file's state."""
    return {
        "format": FORMAT,
        "source": source,
        "feature_names": list(dataset.feature_names),
        "target_name": dataset.target_name,
        "labels_as_text": bool(dataset.y.dtype == object),
        **matrix,
    }


def _sync(folder: Path) -> None:
    """The entry's files on disk before its rename makes it visible (a crash then leaves
    a whole entry or none)."""
    for name in sorted(p.name for p in folder.iterdir() if p.name != "meta.json"):
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
