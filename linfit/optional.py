"""Optional dependencies: imported where they are used, refused in one line where missing.

matplotlib (the ``plot`` extra) draws pictures and pyarrow (the ``parquet`` extra) reads
Parquet files; neither is needed to train on CSV, so neither is a dependency.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from linfit.errors import OptionError


class MissingExtraError(OptionError):
    """An optional package that a requested feature needs is not installed."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise a one-line :class:`MissingExtraError` naming the extra.

    Args:
        module: the importable name, e.g. ``"matplotlib"``.
        extra: linfit's extra that installs it, e.g. ``"plot"``.
        purpose: what needs it, completing "... needs <module>", e.g. ``"--plot"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{purpose} needs {module}, which is not installed; pip install 'linfit[{extra}]'"
        ) from None
