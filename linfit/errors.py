"""linfit's domain exceptions.

The library raises these; the CLI renders each once, at the edge, as one line
(``error: <message>``) and exit code 2. A message says what is wrong and how
to fix it, so it can be shown to a user as it is.

A message names the library's parameters in backquotes (```reg` must be ...``): a
Python caller reads them bare (``str(error)``: "reg must be ..."), and the command line
renders each as its own flag ("--reg must be ...") through one table (``render``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from os import PathLike

_PARAMETER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def quote_path(path: str | PathLike[str]) -> str:
    """``path`` as a message shows it: ``'name'``, escaped (``'a\\nb.csv'``) if it holds a
    newline or another control character, so that a message stays one line."""
    text = str(path)
    return f"'{text}'" if text.isprintable() else repr(text)


class LinfitError(Exception):
    """A problem the user can fix: bad input, bad option, bad model file."""

    exit_code: int = 2

    def __str__(self) -> str:
        return self.render({})

    def render(self, names: Mapping[str, str]) -> str:
        """The message with each backquoted parameter named as ``names`` maps it (the
        command line's flags), else by its own name."""
        return _PARAMETER.sub(lambda m: names.get(m[1], m[1]), super().__str__())


class DataError(LinfitError):
    """A data file that cannot be used as it is (missing, empty, malformed, non-numeric, NaN)."""


class ModelFileError(LinfitError):
    """A model file that is truncated, corrupted, foreign, or from a newer linfit."""


class OptionError(LinfitError):
    """An option value that is out of range or unknown."""


class UnknownNameError(OptionError):
    """A name (model, optimizer, method) missing from its registry."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]) -> None:
        choices = ", ".join(sorted(valid))
        super().__init__(f"unknown {kind} {name!r}; choose one of: {choices}")
        self.kind, self.name, self.valid = kind, name, tuple(valid)


class CapabilityError(OptionError):
    """An optimizer asked for something the model cannot give (e.g. Newton on plain hinge)."""


class SolverError(LinfitError):
    """A solver that cannot give a trustworthy answer (e.g. singular normal equations)."""


class DivergenceError(LinfitError):
    """Training diverged and could not continue; ``result`` is the solver's result."""

    result: object = None


class ConvergenceWarning(UserWarning):
    """An optimizer stopped before its convergence test held (e.g. at max_iter)."""


class RankWarning(UserWarning):
    """A least-squares design is rank-deficient (the fit is the minimum-norm one), or a
    method's cut-off dropped a direction the design resolves."""


class TargetWarning(UserWarning):
    """A classifier's target that looks like a regression's (many distinct floats)."""


class CacheWarning(UserWarning):
    """The parsed-data cache held a damaged entry or could not be written: the file is
    parsed instead, since the cache only ever saves time."""


class OutputError(LinfitError):
    """An output file that could not be written (permission denied, disk full, read-only)."""
