"""A parsed-binary cache of data files: reading an unchanged file again skips the parse.

An entry is keyed by the file's resolved path, size, modification time and inode, and by
the options that shaped the parse (target, separator, encoding, missing values, dtype),
so any change to the file or the options misses. An entry holds the features as a raw
row-major matrix (``X.bin``, its shape and dtype in ``meta.json``), the target as ``.npy``,
read without pickle. The same entry serves a whole read (``cached``) and an out-of-core
one (``cached_on_disk``, whose matrix stays on disk and is read a block at a time).
The folder is ``$LINFIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/linfit``, else
``~/.cache/linfit``; deleting it clears the cache.
A cache that cannot be written is skipped: it only ever saves time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from linfit.data import Dataset
from linfit.data.rowfile import RowFile

FORMAT = 2  # bump when the entry layout changes: old entries then simply miss


def cache_dir() -> Path:
    if folder := os.environ.get("LINFIT_CACHE_DIR"):
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "linfit"


def entry_key(path: str | Path, options: dict[str, Any]) -> str | None:
    """The entry's name for ``path`` read with ``options``; None for standard input."""
    if str(path) == "-":
        return None
    try:
        stat = Path(path).stat()
        resolved = str(Path(path).resolve())
    except OSError:
        return None  # the loader reports missing files
    identity = [FORMAT, resolved, stat.st_size, stat.st_mtime_ns, stat.st_ino, options]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def cached(path: str | Path, options: dict[str, Any], load: Callable[[], Dataset]) -> Dataset:
    """``load()``'s dataset for ``path``, from the cache when an entry matches."""
    key = entry_key(path, options)
    if key is None:
        return load()
    folder = cache_dir() / key
    hit = _read(folder)
    if hit is not None:
        return dataclasses.replace(hit, X=hit.X[0 : hit.X.shape[0]])  # into memory
    shutil.rmtree(folder, ignore_errors=True)  # a damaged entry is replaced, not kept
    dataset = load()

    def write_X(staging: Path) -> None:
        dataset.X.tofile(staging / "X.bin")

    _write(folder, dataset, write_X)
    return dataset


def cached_on_disk(
    path: str | Path, options: dict[str, Any], stream: Callable[[Path], Dataset]
) -> Dataset | None:
    """The dataset of ``path`` with its matrix left on disk in the cache, as a RowFile.

    ``stream(folder)`` parses the file into ``folder/X.bin`` on a miss. None when the
    cache cannot hold it (standard input, or an unwritable cache folder): the caller then
    streams into a folder of its own.
    """
    key = entry_key(path, options)
    if key is None:
        return None
    folder = cache_dir() / key
    hit = _read(folder)
    if hit is not None:
        return hit
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))
    except OSError:
        return None
    try:
        dataset = stream(staging)
        if not _write(folder, dataset, staging=staging):
            return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _read(folder)


def _read(folder: Path) -> Dataset | None:
    """The entry in ``folder``, its matrix as a RowFile (nothing read yet); None if absent."""
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        y = np.load(folder / "y.npy", allow_pickle=False)
        X = RowFile(folder / "X.bin", tuple(meta["shape"]), np.dtype(meta["dtype"]))
        if (folder / "X.bin").stat().st_size != X.shape[0] * X.shape[1] * X.dtype.itemsize:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if meta.get("labels_as_text"):
        y = y.astype(object)  # as the loader returns text labels
    return Dataset(
        X=X,  # type: ignore[arg-type]
        y=y,
        feature_names=tuple(meta["feature_names"]),
        target_name=meta["target_name"],
    )


def _write(
    folder: Path,
    dataset: Dataset,
    write_X: Callable[[Path], None] | None = None,
    *,
    staging: Path | None = None,
) -> bool:
    """Make ``folder`` the entry of ``dataset``, atomically; False if the disk refused.

    The matrix is written by ``write_X(staging)``, or is already in ``staging``.
    """
    text = dataset.y.dtype == object
    meta = {
        "feature_names": list(dataset.feature_names),
        "target_name": dataset.target_name,
        "labels_as_text": bool(text),
        "shape": list(dataset.X.shape),
        "dtype": np.dtype(dataset.X.dtype).str,
    }
    own = staging is None
    try:
        if staging is None:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))
        try:
            if write_X is not None:
                write_X(staging)
            np.save(
                staging / "y.npy", dataset.y.astype(str) if text else dataset.y, allow_pickle=False
            )
            (staging / "meta.json").write_text(json.dumps(meta), "utf-8")
            os.replace(staging, folder)  # whole entries appear at once, or not at all
        finally:
            if own:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        return False  # a read-only or full disk: the cache only ever saves time
    return True
