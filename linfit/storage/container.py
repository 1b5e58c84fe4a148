"""A safe, pickle-free container for a model: one zip of ``meta.json`` plus ``.npy`` arrays.

This module knows nothing about models; it defines the format and moves ``(meta, arrays)``
to disk. :mod:`~linfit.storage.container_reader` reads them back, treating the file as
hostile: model files may come from anywhere.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from linfit.storage.atomic import atomic_write

__all__ = ["FORMAT", "FORMAT_VERSION", "write_model_file"]

FORMAT = "linfit-model"
FORMAT_VERSION = 1

META_NAME = "meta.json"
MAX_ARRAY_BYTES = 2 << 30  # 2 GiB per array

ARRAY_NAME = re.compile(r"[A-Za-z0-9_]+")
NUMERIC_KINDS = frozenset("biufc")  # bool, signed, unsigned, float, complex


def _array_name(name: str) -> str:
    if not isinstance(name, str) or not ARRAY_NAME.fullmatch(name):
        raise ValueError(f"array name must match [A-Za-z0-9_]+, got {name!r}")
    return name


def _json_default(obj: object) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"meta value of type {type(obj).__name__} is not JSON serializable")


def write_model_file(path: str | Path, meta: dict, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``meta`` and ``arrays`` to ``path`` atomically (see :mod:`linfit.storage.atomic`).

    Args:
        path: destination; replaced only once the new file is complete and synced. An
            existing file keeps its permissions; a new one gets ``0o666 & ~umask``.
        meta: JSON-serializable dict (numpy scalars are converted). The keys ``format``,
            ``format_version`` and ``arrays`` are set by the writer.
        arrays: name -> numeric or bool array of any shape; names match ``[A-Za-z0-9_]+``.

    Raises:
        ValueError: a bad array name, a non-numeric dtype, or an array over the size cap
            (programming errors).
        TypeError: ``meta`` is not JSON-serializable.
        OptionError: the folder does not exist, or ``path`` is a directory, a symbolic link
            or another non-regular file.
        OutputError: the file could not be written (permission denied, disk full, ...).

    Nothing touches the disk until ``meta`` and ``arrays`` have been checked and serialized.
    """
    prepared: dict[str, np.ndarray] = {}
    table: dict[str, dict[str, Any]] = {}
    for name, value in arrays.items():
        array = np.asarray(value, order="C")
        if array.dtype.kind not in NUMERIC_KINDS or array.dtype.hasobject:
            raise ValueError(f"array {name!r} has dtype {array.dtype}; only numbers can be saved")
        if array.nbytes > MAX_ARRAY_BYTES:
            raise ValueError(
                f"array {name!r} is {array.nbytes} bytes; the cap is {MAX_ARRAY_BYTES}"
            )
        prepared[_array_name(name)] = array
        table[name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
    full_meta = {**meta, "format": FORMAT, "format_version": FORMAT_VERSION, "arrays": table}
    # Serialize before touching the disk so a bad meta fails without side effects.
    meta_bytes = json.dumps(full_meta, default=_json_default, indent=1).encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(META_NAME, meta_bytes)
            for name, array in prepared.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.save(member, array, allow_pickle=False)

    atomic_write(path, write, binary=True, what="model file")


def looks_like_model_file(path: str | Path) -> bool:
    """Whether ``path`` is a zip archive holding ``meta.json`` (a cheap check, no validation)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return META_NAME in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
