"""LIBSVM/svmlight files: lines ``label index:value index:value ...`` with increasing
indices; features left out are zeros.

A file is read into a CSR matrix by the compiled scanner (:mod:`linfit.data.libsvm_fast`),
or, where it cannot read the file with certainty (a compressed file, a ``qid:``, anything
malformed), by scikit-learn's ``load_svmlight_file``, which gives the same matrix and the
file's usual errors. Features are named by their index in the file: ``f1, f2, ...`` (and
``f0`` where a file counts from zero), so a model trained on one LIBSVM file finds its
features in another whatever the largest index there. Past ``SPARSE_RANGE`` indices (f1 up
to the largest), the features are only the indices the file uses (a feature no line holds
gets weight 0 anyway). Indices go up to ``LIBSVM_MAX_INDEX``. The label is the first field
(``--target`` does not apply), and there are no missing values. The matrix is made dense
when it has at most ``DENSE_CELLS`` cells (BLAS on a dense block is fastest, and every
command takes it); a larger one stays sparse (CSR), which training, prediction and
evaluation take (see :func:`~linfit.data.formats.require_dense` for the commands that do
not).
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from linfit.data import libsvm_fast
from linfit.data.messages import names_list, one_line
from linfit.data.read import Source, tracked_file
from linfit.errors import DataError, OptionError
from linfit.memory import FLOOR_BYTES, budget_bytes, human

if TYPE_CHECKING:
    import scipy.sparse as sp  # annotations only: scikit-learn's reader imports scipy


# A LIBSVM matrix with more cells than this is not made dense (8e8 bytes in float64).
DENSE_CELLS = 10**8
# The read buffer of a LIBSVM file, read a line at a time: one progress report per MB.
LIBSVM_BUFFER_BYTES = 1 << 20
LIBSVM_TARGET = "target"  # the name a LIBSVM file's label gets in a model file
# The largest feature index scikit-learn's LIBSVM parser reads (a C int).
LIBSVM_MAX_INDEX = 2**31 - 1
# Past this many indices (f1 up to the largest), the features of a LIBSVM file are only
# the indices it uses: an index no line holds is a column of zeros, whose weight is 0 at
# every optimum (the penalty, and no data, act on it), so the model predicts the same,
# while a weight, a scale and a name for each of 50 million unused indices would take
# gigabytes (a file of 4 lines with index 50,000,000 did: issue 17).
SPARSE_RANGE = 1_000_000
_INDEX_NAME = re.compile(r"f(0|[1-9][0-9]*)")


def read_libsvm(source: Source, dtype: np.dtype) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(X, y)`` of a LIBSVM file: X (n, max index + 1) CSR in ``dtype``, column j holding
    index j; y (n,) labels, int64 where every label is a whole number, else float64.
    Progress is reported in bytes of the file as stored. A plain file is parsed by the
    compiled scanner (:mod:`linfit.data.libsvm_fast`), any other by scikit-learn's reader,
    which both give the same matrix."""
    scanned = libsvm_fast.read(source, dtype)
    X, y = scanned if scanned is not None else _load_svmlight(source, dtype)
    if X.shape[0] == 0:
        raise DataError(f"{source.name} has no data lines; expected 'label index:value ...'")
    for values, name in ((X.data, "feature values"), (y, "labels")):
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{source.name} has {int(bad.sum())} {name} that are NaN or infinite; fix or "
                "remove them"
            )
    whole = y == np.round(y)
    if whole.all() and np.abs(y).max() < 2.0**53:
        y = y.astype(np.int64)
    return X.tocsr(), y


def _load_svmlight(source: Source, dtype: np.dtype) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(X, y)`` as scikit-learn's ``load_svmlight_file`` reads ``source``, its failures
    worded as one-line DataErrors."""
    from sklearn.datasets import load_svmlight_file

    try:
        with (
            tracked_file(source, LIBSVM_BUFFER_BYTES) as (handle, _),
            _svmlight_stream(source, handle) as stream,
        ):
            return load_svmlight_file(stream, dtype=dtype, zero_based=True)
    except OverflowError:  # scikit-learn's parser keeps an index in a C int
        raise DataError(
            f"{source.name} has a feature index too large to read (the largest a LIBSVM "
            f"file may use is {LIBSVM_MAX_INDEX:,}); renumber the features from 1"
        ) from None
    except (OSError, ValueError) as exc:
        if str(exc).startswith("could not convert string to float"):  # a label or value
            raise DataError(
                f"cannot read {source.name} as LIBSVM ({one_line(str(exc))}): its labels "
                "and values must be numbers; number the classes, or give a table with text "
                "labels as a CSV"
            ) from None
        raise DataError(
            f"cannot read {source.name} as LIBSVM ({one_line(str(exc))}); each line must "
            "be 'label index:value ...' with increasing indices, or name the file's format "
            "with `file_format`"
        ) from None


def _svmlight_stream(source: Source, handle: io.BufferedReader) -> BinaryIO:
    """``handle`` decompressed as scikit-learn decompresses the file it is given by name
    (by its ending, ``.gz`` or ``.bz2`` as spelt, nothing else)."""
    ending = "" if source.path is None else os.path.splitext(str(source.path))[1]
    if ending == ".gz":
        return gzip.GzipFile(fileobj=handle, mode="rb")
    if ending == ".bz2":
        return bz2.BZ2File(handle, "rb")
    return handle


def libsvm_training(
    source: Source, dtype: np.dtype, target: str | int | None = None
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray, tuple[str, ...]]:
    """``(X, y, feature names)`` for training on a LIBSVM file: every index up to the
    largest is a feature (``f1``... or ``f0``... where the file uses index 0)."""
    if target is not None:
        raise OptionError(
            f"`target` does not apply to {source.name}: the label of a LIBSVM line is its "
            "first field"
        )
    X, y = read_libsvm(source, dtype)
    first = 0 if (X.indices == 0).any() else 1
    if X.shape[1] <= first:
        raise DataError(f"{source.name} has labels but no features; expected 'label index:value'")
    if X.shape[1] - first > SPARSE_RANGE:
        used = np.unique(X.indices)  # a mostly empty range: only the indices in the file
        X = _columns(X, used)
        return as_parsed(X), y, tuple(f"f{i}" for i in used.tolist())
    X = X[:, first:]
    names = tuple(f"f{i}" for i in range(first, first + X.shape[1]))
    return as_parsed(X), y, names


def libsvm_features(
    source: Source, feature_names: Sequence[str], dtype: np.dtype
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray]:
    """``(X, y)`` of a LIBSVM file for a model trained on ``feature_names``: X's columns
    are the model's features, in its order (an index the file never uses is zeros;
    indices the model does not know are ignored)."""
    indices, foreign = [], []
    for name in feature_names:
        match = _INDEX_NAME.fullmatch(name)
        if match is None:
            foreign.append(name)
        else:
            indices.append(int(match.group(1)))
    if foreign:
        raise DataError(
            f"the model's features are named {names_list(foreign)}, but a LIBSVM file's "
            f"features are indices (f1, f2, ...); give {source.name} as a table with these "
            "columns (CSV, TSV or Parquet)"
        )
    X, y = read_libsvm(source, dtype)
    return as_parsed(_columns(X, np.asarray(indices, dtype=np.int64))), y


def _columns(X: sp.csr_matrix, indices: np.ndarray) -> sp.csr_matrix:
    """``X``'s columns ``indices`` (unique), in that order: an index no line uses is a
    column of zeros, and a stored index not among them is dropped. Found by a search in
    ``indices`` rather than scipy's column indexing, which allocates as many entries as
    ``X`` has columns (50,000,001 for a file that uses index 50,000,000)."""
    import scipy.sparse as sparse

    order = np.argsort(indices, kind="stable")
    ranked = indices[order]
    at = np.minimum(np.searchsorted(ranked, X.indices), ranked.size - 1)
    data, indptr = X.data, X.indptr
    known = ranked[at] == X.indices
    if not known.all():  # stored indices the model does not know: dropped
        data, at = data[known], at[known]
        indptr = np.concatenate(([0], np.cumsum(known)))[indptr]
    out = sparse.csr_matrix((data, order[at], indptr), shape=(X.shape[0], indices.size))
    out.sort_indices()
    return out


def kept_sparse(shape: tuple[int, int], itemsize: int) -> str | None:
    """Why a LIBSVM matrix of ``shape`` (n, d), values of ``itemsize`` bytes, stays sparse
    (CSR), in words for a message: more than ``DENSE_CELLS`` cells, or a dense copy over a
    quarter of the memory budget; None when it is made dense. The one rule of the parse
    (``as_parsed``), of the cache's entries (``source._libsvm_layout``) and of
    ``formats.require_dense``'s message."""
    n, d = shape
    if n * d > DENSE_CELLS:
        return f"{n * d:.3g} cells, over the {DENSE_CELLS:.0e} made dense"
    dense = n * d * itemsize
    if dense > max(budget_bytes() // 4, FLOOR_BYTES):
        return f"{human(dense)} dense, over a quarter of the memory budget"
    return None


def as_parsed(X: sp.csr_matrix) -> np.ndarray | sp.csr_matrix:
    """The (n, d) CSR ``X`` as a parse gives it: a dense C-contiguous array (``toarray``),
    unless it is ``kept_sparse``, then as it is."""
    if kept_sparse(X.shape, X.dtype.itemsize) is not None:
        return X
    return np.ascontiguousarray(X.toarray())
