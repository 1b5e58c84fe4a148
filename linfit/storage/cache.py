"""A parsed-binary cache of data files: reading an unchanged file again skips the parse.

An entry holds the features as a raw row-major matrix (``X.bin``), the target as ``y.npy``
(read without pickle) and ``meta.json``: the shapes, dtypes and byte sizes of both, the
SHA-256 of ``y.npy``, of the first and last ``SAMPLE_BYTES`` of ``X.bin`` and of the
record itself. The same entry serves a whole read (``cached``) and an out-of-core one
(``cached_on_disk``, whose matrix stays on disk and is read a block at a time).

What it guarantees:

- **Never stale.** An entry is keyed by the file's resolved path and by what git's index
  uses to see a change (size, modification and change time in ns, inode, device), and by
  the options that shaped the parse. Writing a file sets its change time to the clock's,
  which no program can set back (``cp -p``, ``rsync -t``, ``tar x`` and ``os.utime``
  restore the modification time only), so any write misses. A file whose stat changes
  while it is parsed is not cached. A file changed less than ``RACY_NS`` before its parse
  started could change again within its timestamps' resolution unseen ("racy", as git
  calls it): its entry also records the SHA-256 of the file, which a read checks before
  serving the entry (and drops once the file is older than that).
- **Never damaged.** An entry is written in a temporary folder and renamed into place,
  so it appears whole or not at all; concurrent writers of the same entry all succeed
  (the first rename wins, the others' copies are dropped). A read checks the entry
  against its record before using it; a damaged entry is a miss, reported in one line
  (a ``CacheWarning``), moved aside and rewritten. Damage in the middle of ``X.bin`` is
  not detected: hashing the matrix would cost most of what the cache saves.
- **Optional.** A cache that cannot be written (read-only, full) is skipped with a
  warning: it only ever saves time.

The folder is ``$LINFIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/linfit``, else
``~/.cache/linfit``; deleting it clears the cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
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
_DIGEST_BLOCK = 1 << 20


class Damaged(Exception):
    """An entry that does not match its record; the message says how."""


class _Stale(Exception):
    """A racy entry whose file no longer holds what was parsed: a plain miss."""


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


def _identity(path: str | Path, options: dict[str, Any]) -> tuple[str, dict[str, int]] | None:
    """``(entry key, file state)``; None for standard input or a file that is not there."""
    if str(path) == "-":
        return None
    state = file_state(path)
    if state is None:
        return None  # the loader reports missing files
    try:
        resolved = str(Path(path).resolve())
    except OSError:
        return None
    identity = [FORMAT, resolved, state, options]
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return key, state


def entry_key(path: str | Path, options: dict[str, Any]) -> str | None:
    """The entry's name for ``path`` read with ``options``; None for standard input."""
    found = _identity(path, options)
    return None if found is None else found[0]


def _racy(state: dict[str, int], now_ns: int) -> bool:
    return now_ns - max(state["mtime_ns"], state["ctime_ns"]) < RACY_NS


def _file_digest(path: str | Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while block := stream.read(_DIGEST_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def cached(path: str | Path, options: dict[str, Any], load: Callable[[], Dataset]) -> Dataset:
    """``load()``'s dataset for ``path``, from the cache when an entry matches."""
    found = _identity(path, options)
    if found is None:
        return load()
    key, state = found
    folder = cache_dir() / key
    hit = _lookup(folder, path)
    if hit is not None:
        try:
            return dataclasses.replace(hit, X=hit.X[0 : hit.X.shape[0]])  # into memory
        except (OSError, ValueError) as exc:  # moved aside by another process meanwhile
            _report(path, folder, f"X.bin could not be read ({_reason(exc)})")
            _discard(folder)
    witness = _Witness(path, state)
    dataset = load()

    def write_X(staging: Path) -> None:
        # not ndarray.tofile, whose failure on a full disk carries no errno to report
        with open(staging / "X.bin", "wb") as stream:
            stream.write(memoryview(np.ascontiguousarray(dataset.X)).cast("B"))

    if witness.unchanged():
        _write(folder, dataset, write_X, source=witness.record(), name=path)
    return dataset


def cached_on_disk(
    path: str | Path, options: dict[str, Any], stream: Callable[[Path], Dataset]
) -> Dataset | None:
    """The dataset of ``path`` with its matrix left on disk in the cache, as a RowFile.

    ``stream(folder)`` parses the file into ``folder/X.bin`` on a miss. None when the
    cache cannot hold it (standard input, or an unwritable or full cache folder, which is
    reported as a warning): the caller then streams into a folder of its own.
    """
    found = _identity(path, options)
    if found is None:
        return None
    key, state = found
    folder = cache_dir() / key
    hit = _lookup(folder, path)
    if hit is not None:
        return hit
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))
    except OSError as exc:
        _unwritable(path, exc)
        return None
    try:
        witness = _Witness(path, state)
        try:
            dataset = stream(staging)
        except OSError as exc:  # the matrix did not fit in the cache's folder
            _unwritable(path, exc)
            return None
        if not witness.unchanged():
            return None  # the caller parses it again, into a folder of its own
        if not _write(folder, dataset, source=witness.record(), staging=staging, name=path):
            return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _lookup(folder, path)


@dataclasses.dataclass
class _Witness:
    """What a parse of ``path`` saw of the file: its state before (the entry's key), and
    for a racy file its SHA-256 before; ``unchanged()`` after the parse says whether the
    entry may be written."""

    path: str | Path
    state: dict[str, int]

    def __post_init__(self) -> None:
        self.racy = _racy(self.state, time.time_ns())
        self.digest = _file_digest(self.path) if self.racy else None

    def unchanged(self) -> bool:
        if file_state(self.path) != self.state:
            return False
        return not self.racy or (self.digest is not None and _file_digest(self.path) == self.digest)

    def record(self) -> dict[str, Any]:
        return {**self.state, "sha256": self.digest}


# --------------------------------------------------------------------------- reading


def _lookup(folder: Path, path: str | Path) -> Dataset | None:
    """The entry in ``folder`` when there is one and it is whole and current; a damaged
    one is reported, moved aside (so that it is rewritten) and missed."""
    if not folder.exists():
        return None
    try:
        return _read(folder, path)
    except Damaged as exc:
        _report(path, folder, str(exc))
    except _Stale:
        pass
    _discard(folder)  # so that the parse that follows rewrites it
    return None


def _read(folder: Path, path: str | Path) -> Dataset | None:
    """The entry in ``folder``, its matrix as a RowFile (nothing of it read but its two
    ends); None if it is gone; ``Damaged`` if it does not match its record."""
    try:
        meta = _read_meta(folder / "meta.json")
        shape = meta["shape"]
        dtype = np.dtype(meta["dtype"])
        names = meta["feature_names"]
        if not (
            isinstance(shape, list)
            and len(shape) == 2
            and all(isinstance(s, int) and s >= 0 for s in shape)
            and dtype.kind == "f"
            and isinstance(names, list)
            and len(names) == shape[1]
            and all(isinstance(n, str) for n in names)
            and isinstance(meta["target_name"], str)
        ):
            raise Damaged("meta.json describes no matrix")
        X = RowFile(folder / "X.bin", (shape[0], shape[1]), dtype)
        expected = shape[0] * shape[1] * dtype.itemsize
        _check_size(folder / "X.bin", expected, "X.bin")
        if _sample_digest(folder / "X.bin", expected) != meta["x_sample_sha256"]:
            raise Damaged("the ends of X.bin do not match their checksum")
        y = _read_y(folder / "y.npy", meta, shape[0])
        source = meta["source"]
        if source.get("sha256") is not None:
            _check_racy_source(folder, path, meta)
    except FileNotFoundError:
        if folder.exists():
            raise Damaged("a file of the entry is missing") from None
        return None  # moved aside by another process: a plain miss
    except OSError as exc:
        raise Damaged(f"it cannot be read ({_reason(exc)})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Damaged(f"its record is malformed ({_reason(exc)})") from None
    if meta["labels_as_text"]:
        y = y.astype(object)  # as the loader returns text labels
    return Dataset(
        X=X,  # type: ignore[arg-type]
        y=y,
        feature_names=tuple(names),
        target_name=meta["target_name"],
    )


def _read_meta(path: Path) -> dict[str, Any]:
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
    if checksum != _meta_checksum(meta):
        raise Damaged("meta.json does not match its checksum")
    if meta.get("format") != FORMAT:
        raise Damaged(f"meta.json is of format {meta.get('format')!r}, not {FORMAT}")
    return meta


def _meta_checksum(meta: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode("utf-8")).hexdigest()


def _check_size(path: Path, expected: int, name: str) -> None:
    size = path.stat().st_size
    if size != expected:
        raise Damaged(f"{name} holds {size} bytes, its record says {expected}")


def _sample_digest(path: Path, size: int) -> str:
    """SHA-256 of the first and last ``SAMPLE_BYTES`` of a file of ``size`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        digest.update(stream.read(min(size, SAMPLE_BYTES)))
        if size > SAMPLE_BYTES:
            stream.seek(max(SAMPLE_BYTES, size - SAMPLE_BYTES))
            digest.update(stream.read(SAMPLE_BYTES))
    return digest.hexdigest()


def _read_y(path: Path, meta: dict[str, Any], n_rows: int) -> np.ndarray:
    _check_size(path, meta["y_bytes"], "y.npy")
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != meta["y_sha256"]:
        raise Damaged("y.npy does not match its checksum")
    y = np.load(io.BytesIO(raw), allow_pickle=False)
    text = meta["labels_as_text"]
    if y.shape != (n_rows,) or y.dtype.kind not in ("U" if text else "iufb"):
        raise Damaged(f"y.npy holds {y.dtype} {y.shape}, not the {n_rows} targets of X")
    return y


def _check_racy_source(folder: Path, path: str | Path, meta: dict[str, Any]) -> None:
    """An entry of a file that was racy when parsed is served only when the file's content
    is still what was parsed (else it is a plain miss, parsed again); once the file is
    older than ``RACY_NS``, its stat alone decides, and the record says so from now on."""
    now = time.time_ns()
    state = file_state(path)
    if _file_digest(path) != meta["source"]["sha256"]:
        raise _Stale  # not damaged: the file changed unseen; parsed again
    if state is not None and not _racy(state, now):
        meta["source"]["sha256"] = None
        with contextlib.suppress(OSError):
            _write_meta(folder, meta)


# --------------------------------------------------------------------------- writing


def _write(
    folder: Path,
    dataset: Dataset,
    write_X: Callable[[Path], None] | None = None,
    *,
    source: dict[str, Any],
    staging: Path | None = None,
    name: str | Path,
) -> bool:
    """Make ``folder`` the entry of ``dataset``, atomically; False if it was not made (the
    disk refused, reported as a warning; or another process made it first).

    The matrix is written by ``write_X(staging)``, or is already in ``staging``.
    """
    text = dataset.y.dtype == object
    own = staging is None
    try:
        if staging is None:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".entry."))
        try:
            if write_X is not None:
                write_X(staging)
            buffer = io.BytesIO()
            np.save(buffer, dataset.y.astype(str) if text else dataset.y, allow_pickle=False)
            y_bytes = buffer.getvalue()
            (staging / "y.npy").write_bytes(y_bytes)
            x_bytes = (staging / "X.bin").stat().st_size
            meta = {
                "format": FORMAT,
                "source": source,
                "feature_names": list(dataset.feature_names),
                "target_name": dataset.target_name,
                "labels_as_text": bool(text),
                "shape": list(dataset.X.shape),
                "dtype": np.dtype(dataset.X.dtype).str,
                "x_bytes": x_bytes,
                "x_sample_sha256": _sample_digest(staging / "X.bin", x_bytes),
                "y_bytes": len(y_bytes),
                "y_sha256": hashlib.sha256(y_bytes).hexdigest(),
            }
            _write_meta(staging, meta)
            _sync(staging)
            try:
                os.replace(staging, folder)  # whole entries appear at once, or not at all
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and folder.is_dir():
                    return False  # another process made it meanwhile: its copy stands
                raise
        finally:
            if own:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        _unwritable(name, exc)
        return False
    return True


def _write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """``folder/meta.json`` with its checksum, replaced atomically."""
    record = {**meta, "checksum": _meta_checksum(meta)}
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


def _sync(folder: Path) -> None:
    """The entry's files on disk before its rename makes it visible (a crash then leaves
    a whole entry or none)."""
    for name in ("X.bin", "y.npy"):
        fd = os.open(folder / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _discard(folder: Path) -> None:
    """Move a damaged entry aside, then delete it: a reader never sees it half deleted."""
    trash = folder.with_name(f".trash.{folder.name}.{os.getpid()}.{time.time_ns()}")
    try:
        os.replace(folder, trash)
    except OSError:
        return  # gone already, or the cache is read-only (then it is never rewritten)
    shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- reporting


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _report(path: str | Path, folder: Path, what: str) -> None:
    warnings.warn(
        f"the cached copy of {quote_path(path)} in {quote_path(folder)} is damaged: {what}; "
        "the file is parsed again and the entry rewritten",
        CacheWarning,
        stacklevel=4,
    )


def _unwritable(path: str | Path, exc: OSError) -> None:
    warnings.warn(
        f"the parsed copy of {quote_path(path)} was not cached in {quote_path(cache_dir())} "
        f"({_reason(exc)}); training goes on without it (see docs/cache.md)",
        CacheWarning,
        stacklevel=4,
    )
