"""How data errors show what they are about: names listed, a cell's text on one line, and
a guess at the delimiter of a table that came out as one column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a frame comes from a read through pandas

MAX_LISTED = 10  # names a message lists before it says how many more there are


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def names_list(names: Sequence[str]) -> str:
    shown = ", ".join(repr(str(n)) for n in names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


# Delimiters a one-column table may really have, in order of preference on a tie. A space
# is tried only when none of these fits: column names such as 'sepal length (cm)' hold
# spaces, so a space in the header says little about the delimiter.
_LIKELY_DELIMITERS = ("\t", ";", "|", ",")
_HINT_ROWS = 20  # data rows, after the header, that a delimiter must split consistently


def delimiter_hint(frame: pd.DataFrame) -> str:
    """A suggestion for a table that came out as one column: probably the wrong delimiter.

    The suggestion is the delimiter that splits the header and the first rows into the
    same number (at least 2) of fields; "" when no delimiter does.
    """
    if frame.shape[1] != 1:
        return ""
    header = str(frame.columns[0])
    rows = [str(cell) for cell in frame.iloc[:_HINT_ROWS, 0].dropna()]
    best = _consistent_delimiter([header, *rows])
    if best is None:
        return ""
    shown = "tab" if best == "\t" else f"'{best}'"
    return f"; only 1 column found ({header!r}): wrong delimiter? use `sep` {shown}"


def _consistent_delimiter(lines: Sequence[str]) -> str | None:
    """The delimiter splitting every one of ``lines`` into the same number (>= 2) of fields:
    of tab, ';', '|' and ',' the one giving the most fields, else a space if it does, else
    None."""

    def fields(delimiter: str) -> int:
        counts = {line.count(delimiter) for line in lines}
        return counts.pop() + 1 if len(counts) == 1 and 0 not in counts else 0

    found = {d: n for d in _LIKELY_DELIMITERS if (n := fields(d))}
    if found:
        return max(found, key=lambda d: found[d])  # the first listed among equals
    return " " if fields(" ") else None
