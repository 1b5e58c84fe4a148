"""Reading a model file back (see :mod:`linfit.storage.container` for the format).

Model files may come from anywhere, so reading treats the file as hostile: nothing is
unpickled or extracted, member names, counts and sizes are checked before any data is
decompressed, and every array's dtype and shape must match what ``meta.json`` declares.
Every problem with a file is raised as :class:`~linfit.errors.ModelFileError` naming the
path.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from linfit.errors import ModelFileError, quote_path
from linfit.storage.container import (
    ARRAY_NAME,
    FORMAT,
    FORMAT_VERSION,
    MAX_ARRAY_BYTES,
    META_NAME,
    NUMERIC_KINDS,
)

__all__ = ["read_model_file"]

MAX_MEMBERS = 64
MAX_META_BYTES = 32 << 20  # 32 MiB: feature names of ~2 million features (LIBSVM)
MAX_TOTAL_BYTES = 2 << 30  # 2 GiB for the whole archive, uncompressed
# Deflate tops out near 1032:1, reached only by long runs of one byte; a big member that
# close to the limit is a decompression bomb, not coefficients.
MAX_RATIO = 1000
RATIO_CHECK_BYTES = 1 << 20

_CHUNK = 1 << 24

# Failures that a damaged or hostile archive can provoke from zipfile, zlib and numpy's
# .npy header parser; all of them mean "this file is not a sound model file".
_CORRUPT = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    SyntaxError,  # numpy's header parser uses ast.literal_eval
)


class _Reader:
    """Validation and decoding of one model file; every failure names the path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, what: str) -> ModelFileError:
        return ModelFileError(f"model file {quote_path(self.path)} {what}")

    def corrupted(self, what: str) -> ModelFileError:
        return self.error(f"{what}; the file is corrupted")

    def check_members(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        if len(infos) > MAX_MEMBERS:
            raise self.error(
                f"has {len(infos)} members (at most {MAX_MEMBERS}); it is not a linfit model file"
            )
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            is_array = name.endswith(".npy") and ARRAY_NAME.fullmatch(name[: -len(".npy")])
            if name != META_NAME and not is_array:
                raise self.error(f"has an unexpected member {name!r}; it is not a safe model file")
            if name in members:
                raise self.corrupted(f"has member {name!r} twice")
            if info.flag_bits & 0x1:
                raise self.error(f"has an encrypted member {name!r}; it is not a linfit model file")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(f"member {name!r} uses an unsupported compression method")
            cap = MAX_META_BYTES if name == META_NAME else MAX_ARRAY_BYTES
            if info.file_size > cap:
                raise self.error(
                    f"member {name!r} declares {info.file_size} bytes (cap {cap}); refusing to "
                    "read it"
                )
            if info.file_size > RATIO_CHECK_BYTES and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise self.error(
                    f"member {name!r} has a compression ratio over {MAX_RATIO}:1 (a zip bomb); "
                    "refusing to read it"
                )
            total += info.file_size
            members[name] = info
        if total > MAX_TOTAL_BYTES:
            raise self.error(f"declares {total} bytes in all (cap {MAX_TOTAL_BYTES}); refusing it")
        if META_NAME not in members:
            raise self.error(f"has no {META_NAME}; it is not a linfit model file")
        return members

    def read_meta(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict:
        with zf.open(info) as fh:
            raw = fh.read(MAX_META_BYTES + 1)
        if len(raw) != info.file_size:
            raise self.corrupted(f"has a {META_NAME} of the wrong size")
        try:
            meta = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise self.corrupted(f"has an unreadable {META_NAME}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise self.error(f"is not a linfit model file ({META_NAME} lacks format {FORMAT!r})")
        version = meta.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.corrupted(f"has an invalid format_version {version!r}")
        if version > FORMAT_VERSION:
            raise self.error(
                f"was written by a newer linfit (format {version}; this linfit reads up to "
                f"{FORMAT_VERSION}); upgrade linfit"
            )
        return meta

    def declared_arrays(self, meta: dict) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        table = meta.get("arrays")
        if not isinstance(table, dict):
            raise self.corrupted(f"has no arrays table in {META_NAME}")
        declared = {}
        for name, spec in table.items():
            if not ARRAY_NAME.fullmatch(name) or not isinstance(spec, dict):
                raise self.corrupted(f"declares a bad array entry {name!r}")
            dtype_str, shape = spec.get("dtype"), spec.get("shape")
            try:
                dtype = np.dtype(dtype_str) if isinstance(dtype_str, str) else None
            except TypeError:
                dtype = None
            if dtype is None or dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
                raise self.corrupted(f"declares array {name!r} with a bad dtype {dtype_str!r}")
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
            ):
                raise self.corrupted(f"declares array {name!r} with a bad shape {shape!r}")
            declared[name] = (dtype, tuple(shape))
        return declared

    def read_array(
        self,
        zf: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        name: str,
        dtype: np.dtype,
        shape: tuple[int, ...],
    ) -> np.ndarray:
        with zf.open(info) as fh:
            version = npy_format.read_magic(fh)
            if version == (1, 0):
                header = npy_format.read_array_header_1_0(fh)
            elif version == (2, 0):
                header = npy_format.read_array_header_2_0(fh)
            else:
                raise self.corrupted(f"has array {name!r} in an unknown .npy version {version}")
            file_shape, fortran, file_dtype = header
            if file_dtype.hasobject:
                raise self.error(
                    f"array {name!r} holds Python objects; refusing to load it (not a safe file)"
                )
            if tuple(file_shape) != shape:
                raise self.corrupted(
                    f"array {name!r} has shape {tuple(file_shape)} but the file declares {shape}"
                )
            if file_dtype.str != dtype.str:
                raise self.corrupted(
                    f"array {name!r} has dtype {file_dtype.str} but the file declares {dtype.str}"
                )
            nbytes = math.prod(shape) * dtype.itemsize
            # The data must fill the member exactly: checked before allocating anything.
            header_size = fh.tell()
            if header_size + nbytes != info.file_size:
                raise self.corrupted(f"has array {name!r} whose data size does not match")
            array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
            # Fill the array in place, chunk by chunk: no second copy of the data in memory.
            view = memoryview(array.reshape(-1, order="A").view(np.uint8))
            filled = 0
            while filled < nbytes:
                got = fh.readinto(view[filled : filled + _CHUNK])
                if not got:
                    raise self.corrupted(f"has array {name!r} cut short")
                filled += got
            # Reading past the end makes zipfile verify the member's CRC.
            if fh.read(1):
                raise self.corrupted(f"has array {name!r} with trailing data")
        return np.asarray(array, order="C")

    def read(self) -> tuple[dict, dict[str, np.ndarray]]:
        with zipfile.ZipFile(self.path) as zf:
            members = self.check_members(zf.infolist())
            meta = self.read_meta(zf, members[META_NAME])
            declared = self.declared_arrays(meta)
            present = {name[: -len(".npy")] for name in members if name != META_NAME}
            for name in declared:
                if name not in present:
                    raise self.corrupted(f"lacks array {name!r} listed in {META_NAME}")
            unlisted = sorted(present - set(declared))
            if unlisted:
                raise self.error(
                    f"has an unexpected member '{unlisted[0]}.npy' not listed in {META_NAME}"
                )
            arrays = {
                name: self.read_array(zf, members[f"{name}.npy"], name, dtype, shape)
                for name, (dtype, shape) in declared.items()
            }
        return meta, arrays


def read_model_file(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and validate a model file written by
    :func:`~linfit.storage.container.write_model_file`.

    Args:
        path: the model file.

    Returns:
        ``(meta, arrays)``: meta as stored (including ``format``, ``format_version`` and the
        ``arrays`` table) and name -> array, each with exactly the declared dtype and shape.

    Raises:
        ModelFileError: missing, unreadable, not a zip, foreign, from a newer linfit,
            truncated, corrupted, tampered with, or hostile (path traversal, zip bomb,
            pickled objects). The message names the path.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {quote_path(path)} not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"model file {quote_path(path)} is a directory, not a model file")
    reader = _Reader(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if not zipfile.is_zipfile(path):
            if head == b"PK\x03\x04":
                raise reader.error("is truncated or corrupted; write it again")
            raise reader.error("is not a linfit model file (not a zip archive)")
        return reader.read()
    except ModelFileError:
        raise
    except PermissionError:
        raise reader.error("cannot be read: permission denied") from None
    except MemoryError:
        raise reader.error("is too large to load into memory") from None
    except _CORRUPT:
        raise reader.error("is truncated or corrupted; write it again") from None
