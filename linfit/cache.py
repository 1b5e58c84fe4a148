"""A parsed-binary cache of data files: reading an unchanged file again skips the parse.

An entry is keyed by the file's resolved path, size, modification time and inode, and by
the options that shaped the parse (target, separator, encoding, missing values, dtype),
so any change to the file or the options misses. Entries are plain ``.npy`` arrays and
JSON, read without pickle. The folder is ``$LINFIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/linfit``, else ``~/.cache/linfit``; deleting it clears the cache.
A cache that cannot be written is skipped: it only ever saves time.
"""

from __future__ import annotations

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

FORMAT = 1  # bump when the entry layout changes: old entries then simply miss


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
        return hit
    shutil.rmtree(folder, ignore_errors=True)  # a damaged entry is replaced, not kept
    dataset = load()
    _write(folder, dataset)
    return dataset


def _read(folder: Path) -> Dataset | None:
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        X = np.load(folder / "X.npy", allow_pickle=False)
        y = np.load(folder / "y.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if meta.get("labels_as_text"):
        y = y.astype(object)  # as the loader returns text labels
    return Dataset(
        X=np.ascontiguousarray(X),
        y=y,
        feature_names=tuple(meta["feature_names"]),
        target_name=meta["target_name"],
    )


def _write(folder: Path, dataset: Dataset) -> None:
    text = dataset.y.dtype == object
    meta = {
        "feature_names": list(dataset.feature_names),
        "target_name": dataset.target_name,
        "labels_as_text": bool(text),
    }
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))
        try:
            np.save(staging / "X.npy", dataset.X, allow_pickle=False)
            np.save(
                staging / "y.npy", dataset.y.astype(str) if text else dataset.y, allow_pickle=False
            )
            (staging / "meta.json").write_text(json.dumps(meta), "utf-8")
            os.replace(staging, folder)  # whole entries appear at once, or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        return  # a read-only or full disk: the cache only ever saves time
