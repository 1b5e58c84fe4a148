"""Reading delimited text tables into numeric matrices for training and prediction.

Everything a user can get wrong about a data file (path, encoding, delimiter, header,
non-numeric or missing or infinite values) is raised as :class:`~linfit.errors.DataError`
with a one-line message that names the offending file, line or column and says how to fix it.

The package is split by job: :mod:`~linfit.data.read` reads the table,
:mod:`~linfit.data.columns` turns columns into numeric features (one-hot encoding, matching
a model's names), :mod:`~linfit.data.features` applies the missing-value policy and builds
the matrix, :mod:`~linfit.data.labels` handles the target, :mod:`~linfit.data.messages`
words what their errors list, and :mod:`~linfit.data.load` puts them together as
:func:`load_dataset`, :func:`load_features` and :func:`load_labeled`.
A plain numeric CSV skips pandas: :mod:`~linfit.data.fastcsv` has the compiled scanner
(``_csvscan.c``) parse it straight into the matrix, and leaves every other file to pandas;
:mod:`~linfit.data.fast_paths` takes a table with nothing to repair past the per-column
work. :mod:`~linfit.data.formats` says which format a file is: Parquet is read by
:mod:`~linfit.data.parquet`, LIBSVM by :mod:`~linfit.data.libsvm`. :mod:`~linfit.data.choice`
says which columns a read takes (``features``, ``drop``), :mod:`~linfit.data.weights`
reads and checks the column of sample weights (``weights``), and
:mod:`~linfit.data.dataset` holds the :class:`Dataset` they make.

The names below are loaded on first use (PEP 562), so that importing one submodule, say
:mod:`~linfit.data.progress` at start-up, does not import all the others; and no module
here imports pandas or scipy until a read needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linfit.data.columns import MAX_CATEGORIES, REMEDIES, Encode, Remedy
    from linfit.data.dataset import Dataset
    from linfit.data.features import Missing, feature_matrix
    from linfit.data.labels import align_labels
    from linfit.data.load import load_dataset, load_features, load_labeled
    from linfit.data.read import read_table

# Each exported name -> the submodule that defines it.
_EXPORTS = {
    "MAX_CATEGORIES": "columns",
    "REMEDIES": "columns",
    "Encode": "columns",
    "Remedy": "columns",
    "Missing": "features",
    "feature_matrix": "features",
    "align_labels": "labels",
    "Dataset": "dataset",
    "load_dataset": "load",
    "load_features": "load",
    "load_labeled": "load",
    "read_table": "read",
}

__all__ = [
    "MAX_CATEGORIES",
    "REMEDIES",
    "Dataset",
    "Encode",
    "Missing",
    "Remedy",
    "align_labels",
    "feature_matrix",
    "load_dataset",
    "load_features",
    "load_labeled",
    "read_table",
]


def __getattr__(name: str) -> Any:
    """``linfit.data.<name>``: an export, imported from its submodule on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
