"""One entry of the parsed-data cache on disk: what identifies a version of a file, an
entry's record (``meta.json``, read and written with its checksum), and an entry read back
and checked against it (``cache_writer.py`` writes an entry whole; see ``cache.py`` for
what the cache guarantees)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from linfit.data import Dataset
from linfit.data.rowfile import RowFile
from linfit.errors import CacheWarning, quote_path

FORMAT = 3  # bump when the entry layout changes: old entries then simply miss
# A file whose modification or change time is this close to the start of its parse may
# be written again within its timestamps' resolution (2 s on FAT, a few ms on ext4)
# without them changing: its entry is checked against the file's SHA-256.
RACY_NS = 2_000_000_000
# The bytes of X.bin hashed at each end: a torn or overwritten start or end is caught
# for ~0.1 ms a read; hashing all of it would cost ~0.2 s per 300 MB.
SAMPLE_BYTES = 1 << 16
# The largest meta.json read: names of a million columns fit.
MAX_META_BYTES = 1 << 28
DIGEST_BLOCK = 1 << 20


class Damaged(Exception):
    """An entry that does not match its record; the message says how."""


class Stale(Exception):
    """A racy entry whose file no longer holds what was parsed: a plain miss."""


class NotDense(Exception):
    """A sparse entry, asked for by a read that takes a dense matrix on disk only (the
    out-of-core one): a miss, the entry left in place for the whole reads it serves."""


def cache_dir() -> Path:
    if folder := os.environ.get("LINFIT_CACHE_DIR"):
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "linfit"


def file_state(path: str | Path) -> dict[str, int] | None:
    """What identifies a version of ``path``: size, times in ns, inode and device (the
    fields git's index compares); None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
    }


def racy(state: dict[str, int], now_ns: int) -> bool:
    return now_ns - max(state["mtime_ns"], state["ctime_ns"]) < RACY_NS


def file_digest(path: str | Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while block := stream.read(DIGEST_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


# --------------------------------------------------------------------------- the record


def meta_checksum(meta: dict[str, Any]) -> str:
    """SHA-256 of the record without its checksum, keys sorted (so a reader recomputes it)."""
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode("utf-8")).hexdigest()


def sample_digest(path: Path, size: int) -> str:
    """SHA-256 of the first and last ``SAMPLE_BYTES`` of a file of ``size`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        digest.update(stream.read(min(size, SAMPLE_BYTES)))
        if size > SAMPLE_BYTES:
            stream.seek(max(SAMPLE_BYTES, size - SAMPLE_BYTES))
            digest.update(stream.read(SAMPLE_BYTES))
    return digest.hexdigest()


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """``folder/meta.json`` with its checksum, replaced atomically."""
    record = {**meta, "checksum": meta_checksum(meta)}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".meta.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(record, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, folder / "meta.json")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_meta(path: Path) -> dict[str, Any]:
    """The record in ``path``, its checksum and format checked; ``Damaged`` if not."""
    with open(path, "rb") as stream:
        raw = stream.read(MAX_META_BYTES + 1)
    if len(raw) > MAX_META_BYTES:
        raise Damaged("meta.json is too large")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Damaged("meta.json is not JSON") from None
    if not isinstance(meta, dict):
        raise Damaged("meta.json is not a record")
    checksum = meta.pop("checksum", None)
    if checksum != meta_checksum(meta):
        raise Damaged("meta.json does not match its checksum")
    if meta.get("format") != FORMAT:
        raise Damaged(f"meta.json is of format {meta.get('format')!r}, not {FORMAT}")
    return meta


# --------------------------------------------------------------------------- reading


def lookup(folder: Path, path: str | Path, *, dense_only: bool = False) -> Dataset | None:
    """The entry in ``folder`` when there is one and it is whole and current; a damaged
    one is reported, moved aside (so that it is rewritten) and missed. With
    ``dense_only``, a sparse entry (whole and current or not) raises ``NotDense``."""
    if not folder.exists():
        return None
    try:
        return read_entry(folder, path, dense_only=dense_only)
    except Damaged as exc:
        report(path, folder, str(exc))
    except Stale:
        pass
    discard(folder)  # so that the parse that follows rewrites it
    return None


def read_entry(folder: Path, path: str | Path, *, dense_only: bool = False) -> Dataset | None:
    """The entry in ``folder``: a dense matrix as a RowFile (nothing of it read but its two
    ends), a sparse one as the CSR matrix read whole and checked
    (``cache_sparse.read_csr``); None if it is gone; ``Damaged`` if it does not match its
    record; ``NotDense`` for a sparse one with ``dense_only``."""
    try:
        meta = _read_meta(folder / "meta.json")
        shape, names = meta["shape"], meta["feature_names"]
        if not (
            isinstance(shape, list)
            and len(shape) == 2
            and all(isinstance(s, int) and s >= 0 for s in shape)
            and np.dtype(meta["dtype"]).kind == "f"
            and isinstance(names, list)
            and len(names) == shape[1]
            and all(map(isinstance, names, itertools.repeat(str)))  # a loop in C
            and isinstance(meta["target_name"], str)
        ):
            raise Damaged("meta.json describes no matrix")
        if "layout" in meta:  # a sparse entry; a dense one (the first kind) names none
            if dense_only:
                raise NotDense
            from linfit.storage.cache_sparse import read_csr  # scipy only for sparse entries

            X = read_csr(folder, meta)
        else:
            X = _dense_matrix(folder, meta)
        y = _read_y(folder / "y.npy", meta, shape[0])
        weights = _read_weights(folder / "w.npy", meta, shape[0]) if "w_bytes" in meta else None
        source = meta["source"]
        if source.get("sha256") is not None:
            _check_racy_source(folder, path, meta)
    except FileNotFoundError:
        if folder.exists():
            raise Damaged("a file of the entry is missing") from None
        return None  # moved aside by another process: a plain miss
    except OSError as exc:
        raise Damaged(f"it cannot be read ({reason(exc)})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Damaged(f"its record is malformed ({reason(exc)})") from None
    if meta["labels_as_text"]:
        y = y.astype(object)  # as the loader returns text labels
    return Dataset(
        X=X,  # type: ignore[arg-type]
        y=y,
        feature_names=tuple(names),
        target_name=meta["target_name"],
        weights=weights,
    )


def _dense_matrix(folder: Path, meta: dict[str, Any]) -> RowFile:
    """The entry's ``X.bin`` as a RowFile, its size and the digest of its ends checked."""
    shape, dtype = meta["shape"], np.dtype(meta["dtype"])
    expected = shape[0] * shape[1] * dtype.itemsize
    _check_size(folder / "X.bin", expected, "X.bin")
    if sample_digest(folder / "X.bin", expected) != meta["x_sample_sha256"]:
        raise Damaged("the ends of X.bin do not match their checksum")
    return RowFile(folder / "X.bin", (shape[0], shape[1]), dtype)


def _check_size(path: Path, expected: int, name: str) -> None:
    size = path.stat().st_size
    if size != expected:
        raise Damaged(f"{name} holds {size} bytes, its record says {expected}")


def _read_y(path: Path, meta: dict[str, Any], n_rows: int) -> np.ndarray:
    kinds = "U" if meta["labels_as_text"] else "iufb"
    return _read_npy(path, meta, n_rows, "targets", lambda dtype: dtype.kind in kinds)


def _read_weights(path: Path, meta: dict[str, Any], n_rows: int) -> np.ndarray:
    """The entry's sample weights (n,), float64; the reader's own checks (finite, >= 0,
    some positive) held when they were written."""
    return _read_npy(path, meta, n_rows, "weights", lambda dtype: dtype == np.float64)


def _read_npy(
    path: Path,
    meta: dict[str, Any],
    n_rows: int,
    what: str,
    accepts: Callable[[np.dtype], bool],
) -> np.ndarray:
    """The (n_rows,) array in ``path`` (``y.npy``, ``w.npy``), whose size and SHA-256 the
    record gives under the file's stem (``y_bytes``, ``y_sha256``), of a dtype it
    ``accepts``; ``Damaged`` otherwise."""
    stem = path.stem
    _check_size(path, meta[f"{stem}_bytes"], path.name)
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != meta[f"{stem}_sha256"]:
        raise Damaged(f"{path.name} does not match its checksum")
    values = np.load(io.BytesIO(raw), allow_pickle=False)
    if values.shape != (n_rows,) or not accepts(values.dtype):
        raise Damaged(
            f"{path.name} holds {values.dtype} {values.shape}, not the {n_rows} {what} of X"
        )
    return values


def _check_racy_source(folder: Path, path: str | Path, meta: dict[str, Any]) -> None:
    """An entry of a file that was racy when parsed is served only when the file's content
    is still what was parsed (else it is a plain miss, parsed again); once the file is
    older than ``RACY_NS``, its stat alone decides, and the record says so from now on."""
    now = time.time_ns()
    if file_digest(path) != meta["source"]["sha256"]:
        raise Stale  # not damaged: the file changed unseen; parsed again
    if not racy(meta["source"], now):  # the state the entry's key was made of
        meta["source"]["sha256"] = None
        with contextlib.suppress(OSError):
            write_meta(folder, meta)


def discard(folder: Path) -> None:
    """Move a damaged entry aside, then delete it: a reader never sees it half deleted."""
    trash = folder.with_name(f".trash.{folder.name}.{os.getpid()}.{time.time_ns()}")
    try:
        os.replace(folder, trash)
    except OSError:
        return  # gone already, or the cache is read-only (then it is never rewritten)
    shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- reporting


def reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def report(path: str | Path, folder: Path, what: str) -> None:
    warnings.warn(
        f"the cached copy of {quote_path(path)} in {quote_path(folder)} is damaged: {what}; "
        "the file is parsed again and the entry rewritten",
        CacheWarning,
        stacklevel=4,
    )
