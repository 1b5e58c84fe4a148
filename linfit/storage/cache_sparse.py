"""A CSR matrix in a cache entry: its three arrays as raw files, and their record.

An entry of a sparse read (a large LIBSVM file, a wide one-hot table) holds the CSR
arrays of its ``(n, d)`` matrix as raw native-endian files, no header and no pickle:
``data.bin`` (nnz values), ``indices.bin`` (nnz column indices) and ``indptr.bin`` (n + 1
row offsets). ``meta.json`` records each array's dtype, length and the SHA-256 of its
first and last ``SAMPLE_BYTES`` (``write_csr``); a read (``read_csr``) checks all of
that, then the structure:

- ``indptr`` starts at 0, ends at nnz and never decreases (O(n));
- every index lies in ``[0, d)`` (O(nnz), one reduction: the indices seen as unsigned
  integers, so a negative one is a huge one).

With these, every row ``i`` addresses ``data[indptr[i]:indptr[i+1]]`` inside the arrays
and every index a column of the recorded shape: no consumer of the matrix, compiled
kernel or scipy's own (which does not range-check), can read out of bounds, and the
matrix has the recorded shape (itself under the record's checksum). What is not
detected, as for a dense ``X.bin``: a damaged value, or an index moved to another valid
column, in the middle of an array; hashing every byte would cost most of what the cache
saves. Both checks together cost about a tenth of reading the arrays.

The matrix read back is the one written bit for bit, dtypes included: it is assembled
from the arrays as read, not through scipy's constructor, which may narrow the index
dtype.

A dense matrix that is mostly zeros (a LIBSVM file's, made dense) may be kept the same
way (``compact_csr``; the record then says ``"dense": true``) and is made dense again on
a read (``dense_of``), bit for bit: every cell whose bits are not all zero is stored
(so a -0.0 too), and each is put back by assignment.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from linfit.storage.cache_entry import SAMPLE_BYTES, Damaged

if TYPE_CHECKING:
    import scipy.sparse as sp

ARRAYS = ("data", "indices", "indptr")
# The scipy classes an entry may hold, by the name its record gives.
LAYOUTS = ("csr_matrix", "csr_array")
_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def file_name(array: str) -> str:
    return f"{array}.bin"


def buffer_digest(values: np.ndarray) -> str:
    """SHA-256 of the first and last ``SAMPLE_BYTES`` of ``values``' bytes (all of them when
    they are fewer than twice that), as ``cache_entry.sample_digest`` sums a file."""
    raw = memoryview(values).cast("B")
    digest = hashlib.sha256(raw[:SAMPLE_BYTES])
    if len(raw) > SAMPLE_BYTES:
        digest.update(raw[max(SAMPLE_BYTES, len(raw) - SAMPLE_BYTES) :])
    return digest.hexdigest()


# --------------------------------------------------------------------------- writing


def write_raw(path: Path, values: np.ndarray) -> None:
    """``path`` holding the bytes of the C-contiguous ``values``, no header."""
    # not ndarray.tofile, whose failure on a full disk carries no errno to report
    with open(path, "wb") as stream:
        stream.write(memoryview(values).cast("B"))


def write_csr(staging: Path, X: sp.csr_matrix | sp.csr_array) -> dict[str, Any]:
    """Write ``X``'s arrays into ``staging``; returns the matrix's part of the record:
    its layout, shape, value dtype, and each array's dtype, length and end digest."""
    arrays = {}
    for name in ARRAYS:
        values = np.ascontiguousarray(getattr(X, name))
        write_raw(staging / file_name(name), values)
        arrays[name] = {
            "dtype": values.dtype.str,
            "length": int(values.shape[0]),
            "sample_sha256": buffer_digest(values),
        }
    return {
        "layout": type(X).__name__,
        "shape": [int(s) for s in X.shape],
        "dtype": np.dtype(X.dtype).str,
        "arrays": arrays,
    }


def compact_csr(X: np.ndarray) -> sp.csr_matrix | None:
    """The dense ``X`` (n, d) as CSR holding every cell whose bits are not all zero, when
    that takes fewer bytes than X (by a quarter: else reading it back and making it dense
    saves nothing); None otherwise."""
    import scipy.sparse as sp

    X = np.ascontiguousarray(X)
    n, d = X.shape
    stored = X.view(f"u{X.itemsize}") != 0  # bits: a -0.0 is stored, and comes back
    nnz = int(np.count_nonzero(stored))
    index = np.dtype(np.int32 if max(d, nnz) < 2**31 else np.int64)
    if nnz * (X.itemsize + index.itemsize) + (n + 1) * index.itemsize > 0.75 * X.nbytes:
        return None
    rows, cols = np.nonzero(stored)  # row-major: each row's columns in increasing order
    indptr = np.zeros(n + 1, dtype=index)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    kept = sp.csr_matrix((n, d), dtype=X.dtype)
    kept.data, kept.indices, kept.indptr = X[stored], cols.astype(index), indptr
    return kept


def dense_of(X: sp.csr_matrix | sp.csr_array) -> np.ndarray:
    """``X`` (n, d) dense and C-contiguous, each stored value put in its cell (not added to
    a zero, as ``toarray`` does, which would turn a -0.0 into 0.0)."""
    out = np.zeros(X.shape, dtype=X.dtype)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    out[rows, X.indices] = X.data
    return out


# --------------------------------------------------------------------------- reading


def read_csr(folder: Path, meta: dict[str, Any]) -> sp.csr_matrix | sp.csr_array | np.ndarray:
    """The CSR matrix of the entry in ``folder`` as ``meta`` records it, every check in the
    module docstring passed (made dense where the record says the read's matrix was);
    ``Damaged`` (saying which) if one fails."""
    n, d = meta["shape"]
    record = meta["arrays"]
    value_dtype = np.dtype(meta["dtype"])
    lengths = _check_record(record, value_dtype, n)
    arrays = {}
    for name in ARRAYS:
        dtype, length = np.dtype(record[name]["dtype"]), lengths[name]
        values = _read_array(folder / file_name(name), dtype, length)
        if buffer_digest(values) != record[name]["sample_sha256"]:
            raise Damaged(f"the ends of {file_name(name)} do not match their checksum")
        arrays[name] = values
    _check_structure(arrays["indices"], arrays["indptr"], d)
    X = _assemble(meta["layout"], arrays, (n, d))
    return dense_of(X) if meta.get("dense") is True else X


def _check_record(record: dict[str, Any], value_dtype: np.dtype, n: int) -> dict[str, int]:
    """Each array's length, the record of the three checked against each other."""
    if not (isinstance(record, dict) and set(record) == set(ARRAYS)):
        raise Damaged("meta.json describes no CSR arrays")
    lengths = {}
    for name in ARRAYS:
        length = record[name]["length"]
        if not (isinstance(length, int) and length >= 0):
            raise Damaged(f"meta.json gives {file_name(name)} no length")
        lengths[name] = length
    dtypes = {name: np.dtype(record[name]["dtype"]) for name in ARRAYS}
    if dtypes["data"] != value_dtype or value_dtype.kind != "f":
        raise Damaged(f"meta.json gives data.bin the dtype {dtypes['data']}, not floats")
    if dtypes["indices"] not in _INDEX_DTYPES or dtypes["indptr"] not in _INDEX_DTYPES:
        raise Damaged("meta.json gives the CSR indices a dtype other than int32 or int64")
    if lengths["indptr"] != n + 1 or lengths["indices"] != lengths["data"]:
        raise Damaged(
            f"meta.json gives {lengths['data']} values, {lengths['indices']} indices and "
            f"{lengths['indptr']} row offsets for {n} rows"
        )
    return lengths


def _read_array(path: Path, dtype: np.dtype, length: int) -> np.ndarray:
    """The ``length`` values of ``dtype`` in ``path``, which must hold exactly those."""
    expected = length * dtype.itemsize
    with open(path, "rb") as stream:
        size = stream.seek(0, 2)
        if size != expected:  # before allocating what the record says
            raise Damaged(f"{path.name} holds {size} bytes, its record says {expected}")
        values = np.empty(length, dtype=dtype)
        stream.seek(0)
        got = stream.readinto(memoryview(values).cast("B")) if expected else 0
    if got != expected:  # cut short by another process between the two
        raise Damaged(f"{path.name} held {got} bytes when read, its record says {expected}")
    return values


def _check_structure(indices: np.ndarray, indptr: np.ndarray, n_cols: int) -> None:
    """Row offsets from 0 to nnz, never decreasing; every index a column of the matrix."""
    nnz = indices.shape[0]
    if indptr[0] != 0 or indptr[-1] != nnz:
        raise Damaged(
            f"indptr.bin runs from {int(indptr[0])} to {int(indptr[-1])}, not from 0 to {nnz}"
        )
    if indptr.shape[0] > 1 and (indptr[1:] < indptr[:-1]).any():
        raise Damaged("indptr.bin decreases")
    # as unsigned, a negative index is larger than any column count: one pass for both ends
    unsigned = indices.view(indices.dtype.str.replace("i", "u"))
    if nnz and int(unsigned.max()) >= n_cols:
        raise Damaged(f"indices.bin holds a column index outside 0..{n_cols - 1}")


def _assemble(
    layout: str, arrays: dict[str, np.ndarray], shape: tuple[int, int]
) -> sp.csr_matrix | sp.csr_array:
    """The matrix made of ``arrays`` themselves (dtypes as stored: scipy's constructor
    would narrow int64 indices that fit in int32)."""
    import scipy.sparse as sp

    if layout not in LAYOUTS:
        raise Damaged(f"meta.json gives the unknown layout {layout!r}")
    X = getattr(sp, layout)(shape, dtype=arrays["data"].dtype)
    X.data, X.indices, X.indptr = arrays["data"], arrays["indices"], arrays["indptr"]
    return X
