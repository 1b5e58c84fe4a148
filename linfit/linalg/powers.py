"""Polynomial columns known exactly: ``x, x^2, ..., x^k`` from one column ``x``.

A design of powers is famously ill-conditioned (NIST's Filip: degree 10, condition 1.8e15
in raw powers, 5e9 with its columns equilibrated), and rounding each power to float64
perturbs it by far more than rounding ``x`` does: the exact solution of the rounded
design agrees with NIST's certified one to 7.6 digits, that of the exact powers of the
float64 ``x`` to 13. So least squares is told which columns are powers (``Powers``) and
computes its refinement residuals on them recomputed in extended precision from ``x``
(``linalg.design.RowDesign.exact``), where the float64 columns only precondition: 11
digits on Filip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linfit.errors import OptionError
from linfit.linalg.design import EXTENDED

MAX_DEGREE = 20


@dataclass(frozen=True)
class Powers:
    """Which columns of X (n, d) are powers of another: ``(column, base, power)`` triples,
    column ``column`` holding ``X[:, base] ** power`` rounded to float64."""

    columns: tuple[tuple[int, int, int], ...]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Rows ``X`` (m, d), float64, in ``EXTENDED``, the power columns recomputed from
        their base (each power by repeated products in ``EXTENDED``: ``power - 1``
        roundings of 2^-64 each, where float64 left one of 2^-53)."""
        out = X.astype(EXTENDED)
        for column, base, power in self.columns:
            x = out[:, base]
            value = x.copy()
            for _ in range(power - 1):
                value *= x
            out[:, column] = value
        return out


def parse_powers(entries: list[str]) -> dict[str, int]:
    """``["x:10", "z:2"]`` (``COLUMN:DEGREE`` each) as ``{"x": 10, "z": 2}``; anything else
    an ``OptionError`` naming the entry."""
    spec: dict[str, int] = {}
    for entry in entries:
        name, _, degree = entry.rpartition(":")
        if not name or not degree.strip().isdigit():
            raise OptionError(f"`poly` takes COLUMN:DEGREE, e.g. x:3, got {entry!r}")
        spec[name] = int(degree)
    return spec


def expand(
    X: np.ndarray, names: list[str], spec: dict[str, int]
) -> tuple[np.ndarray, list[str], Powers]:
    """``X`` (n, d) with each column named in ``spec`` followed by its powers 2..degree
    (named ``x^2``, ...), the new names, and the ``Powers`` saying which columns they are.
    A name not among ``names`` or a degree outside 1..``MAX_DEGREE`` is an ``OptionError``."""
    for name, degree in spec.items():
        if name not in names:
            raise OptionError(
                f"`poly` names no column {name!r} of the data; its columns: {', '.join(names)}"
            )
        if not 1 <= degree <= MAX_DEGREE:
            raise OptionError(
                f"`poly`'s degree of {name!r} must be 1 to {MAX_DEGREE}, got {degree}"
            )
    columns, out_names, triples = [], [], []
    for j, name in enumerate(names):
        base = len(columns)
        columns.append(X[:, j])
        out_names.append(name)
        for power in range(2, spec.get(name, 1) + 1):
            triples.append((len(columns), base, power))
            columns.append(X[:, j] ** power)
            out_names.append(f"{name}^{power}")
    return np.column_stack(columns) if columns else X, out_names, Powers(tuple(triples))
