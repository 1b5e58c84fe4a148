"""A parsed-binary cache of data files: reading an unchanged file again skips the parse.

An entry holds the features as a raw row-major matrix (``X.bin``), the target as ``y.npy``
(read without pickle) and ``meta.json``: the shape and dtype of X (which give the size
of ``X.bin``), the byte size of ``y.npy``, the SHA-256 of ``y.npy``, of the first and last
``SAMPLE_BYTES`` of ``X.bin`` and of the record itself. The same entry serves a whole
read (``cached``) and an out-of-core one (``cached_on_disk``, whose matrix stays on disk
and is read a block at a time).

A read whose matrix came out sparse (a large LIBSVM file, a wide one-hot table) is kept
as its CSR arrays instead of ``X.bin`` (``cache_sparse.py``: raw ``data.bin``,
``indices.bin`` and ``indptr.bin``, each array's dtype, length and the SHA-256 of its
ends in the record, which names the layout), read back whole and checked, structure
included. Such an entry serves whole reads only: the out-of-core read takes a dense
matrix on disk, and a sparse entry is a miss there (no sparse read shares its key
anyway, since LIBSVM files and one-hot tables are never read out of core).

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
  not detected (nor a value in the middle of a CSR array, nor an index moved to another
  valid column): hashing the matrix would cost most of what the cache saves.
- **Optional.** A cache that cannot be written (read-only, full) is skipped with a
  warning: it only ever saves time.

The folder is ``$LINFIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/linfit``, else
``~/.cache/linfit``; deleting it clears the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from linfit.data import Dataset
from linfit.data.rowfile import RowFile
from linfit.storage.cache_entry import (
    FORMAT,
    NotDense,
    cache_dir,
    discard,
    file_digest,
    file_state,
    lookup,
    racy,
    reason,
    report,
)
from linfit.storage.cache_writer import staging_folder, unwritable, write_entry, write_matrix


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


def cached(
    path: str | Path,
    options: dict[str, Any],
    load: Callable[[], Dataset],
    settle: Callable[[Dataset], Dataset | None] | None = None,
    *,
    compact: bool = False,
) -> Dataset:
    """``load()``'s dataset for ``path``, from the cache when an entry matches.

    ``settle(hit)``, when given, is the hit as ``load()`` would make it now, or None when
    it cannot be (then the entry is a miss, parsed again and rewritten): for a parse whose
    choice of a dense or a sparse matrix depends on more than the key (the memory budget).
    With ``compact``, a dense matrix that is mostly zeros is kept as CSR and made dense
    again on a hit (``cache_sparse.compact_csr``): for reads never made out of core, which
    takes a dense entry.
    """
    found = _identity(path, options)
    if found is None:
        return load()
    key, state = found
    folder = cache_dir() / key
    hit = _in_memory(folder, path)
    if hit is not None and settle is not None:
        hit = settle(hit)
        if hit is None:
            discard(folder)  # not damaged: of the other layout; the parse rewrites it
    if hit is not None:
        return hit
    witness = _Witness(path, state)
    dataset = load()
    if witness.unchanged():
        write_entry(
            folder,
            dataset,
            partial(write_matrix, X=dataset.X, compact=compact),
            source=witness.record(),
            name=path,
        )
    return dataset


def _in_memory(folder: Path, path: str | Path) -> Dataset | None:
    """The entry in ``folder`` read whole, if it is there and sound."""
    hit = lookup(folder, path)
    if hit is None or not isinstance(hit.X, RowFile):
        return hit  # a sparse entry was read whole and checked
    try:
        return dataclasses.replace(hit, X=hit.X[0 : hit.X.shape[0]])  # into memory
    except (OSError, ValueError) as exc:  # moved aside by another process meanwhile
        report(path, folder, f"X.bin could not be read ({reason(exc)})")
        discard(folder)
    return None


def cached_on_disk(
    path: str | Path, options: dict[str, Any], stream: Callable[[Path], Dataset]
) -> Dataset | None:
    """The dataset of ``path`` with its matrix left on disk in the cache, as a RowFile.

    ``stream(folder)`` parses the file into ``folder/X.bin`` on a miss. None when the
    cache cannot hold it (standard input, or an unwritable or full cache folder, which is
    reported as a warning) or holds a sparse entry under its key (never served here): the
    caller then streams into a folder of its own.
    """
    found = _identity(path, options)
    if found is None:
        return None
    key, state = found
    folder = cache_dir() / key
    try:
        hit = lookup(folder, path, dense_only=True)
    except NotDense:
        return None  # a whole read's CSR entry: the caller parses into a folder of its own
    if hit is not None:
        return hit
    try:
        staging = staging_folder(folder)
    except OSError as exc:
        unwritable(path, exc)
        return None
    try:
        witness = _Witness(path, state)
        try:
            dataset = stream(staging)
        except OSError as exc:  # the matrix did not fit in the cache's folder
            unwritable(path, exc)
            return None
        if not witness.unchanged():
            return None  # the caller parses it again, into a folder of its own
        write_entry(folder, dataset, source=witness.record(), staging=staging, name=path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        return lookup(folder, path, dense_only=True)  # ours, or another process's first
    except NotDense:  # never in practice: no sparse read shares this read's key
        return None


@dataclasses.dataclass
class _Witness:
    """What a parse of ``path`` saw of the file: its state before (the entry's key), and
    for a racy file its SHA-256 before; ``unchanged()`` after the parse says whether the
    entry may be written."""

    path: str | Path
    state: dict[str, int]

    def __post_init__(self) -> None:
        self.racy = racy(self.state, time.time_ns())
        self.digest = file_digest(self.path) if self.racy else None

    def unchanged(self) -> bool:
        """Whether the file is still what the parse began on. A racy file whose window
        has passed by now is recorded without its digest: its stat decides from here on,
        so no read hashes it again (as a read would drop the digest; see
        ``cache_entry.read_entry``)."""
        now = time.time_ns()
        if file_state(self.path) != self.state:
            return False
        if self.racy:
            if self.digest is None or file_digest(self.path) != self.digest:
                return False
            if not racy(self.state, now):
                self.digest = None
        return True

    def record(self) -> dict[str, Any]:
        return {**self.state, "sha256": self.digest}
