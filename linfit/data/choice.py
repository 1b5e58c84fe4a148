"""Which columns of a table are read: the features kept (``features``) or left out
(``drop``), and the column of sample weights (``weights``).

The choice is applied to the file's columns before anything else looks at them:
encoding, the missing-value policy and the parsed-data cache see only the chosen
columns, so a text or gappy column that is dropped can neither be refused nor drop a
row. Features keep the file's order whatever order ``features`` names them in: a read
with some columns left out gives what the same file with those columns cut out gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linfit.data.labels import resolve_target, training_target
from linfit.data.messages import names_list
from linfit.errors import DataError, OptionError

if TYPE_CHECKING:
    import pandas as pd  # annotations only: a frame comes from a read through pandas

    from linfit.data.formats import Format
    from linfit.data.read import Source


@dataclass(frozen=True)
class ColumnChoice:
    """The columns a read takes: ``features`` (only these, None: every column but the
    target) or ``drop`` (every column but these), not both; ``weights`` the column of
    sample weights (None: no weights), which is never a feature."""

    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.features is not None and self.drop:
            raise OptionError("use either `features` or `drop`, not both")
        if self.features is not None and not self.features:
            raise OptionError(
                "`features` names no column; give a comma-separated list of column names, "
                "such as a,b,c, or leave it out to use every column"
            )

    @classmethod
    def of(
        cls,
        features: Sequence[str] | None = None,
        drop: Sequence[str] = (),
        weights: str | None = None,
    ) -> ColumnChoice:
        """The choice of the loaders' ``features``, ``drop`` and ``weights`` arguments."""
        return cls(None if features is None else tuple(features), tuple(drop), weights)

    @property
    def everything(self) -> bool:
        """Whether the read takes every column, as it does when nothing is chosen."""
        return self.features is None and not self.drop and self.weights is None

    def refuse_libsvm(self, source_name: str) -> None:
        """A LIBSVM file names no column: a choice of columns is refused in one line."""
        if not self.everything:
            given = [
                name
                for name, on in (
                    ("features", self.features is not None),
                    ("drop", bool(self.drop)),
                    ("weights", self.weights is not None),
                )
                if on
            ]
            raise OptionError(
                f"`{given[0]}` names columns of a table, and the LIBSVM file {source_name} has "
                "no column names; drop it, or convert the file to CSV or Parquet"
            )

    def feature_columns(
        self, columns: Sequence[str], target_name: str, source_name: str
    ) -> list[str]:
        """The feature columns of a table with ``columns`` (its header), in file order;
        every name the choice holds checked against them, in one line each. Empty only
        when nothing is chosen, for a table of the target alone."""
        columns = list(columns)
        self._check_names(columns, target_name, source_name)
        if self.features is not None:
            kept = set(self.features)
            features = [c for c in columns if c in kept]
        else:
            left_out = {*self.drop, target_name, self.weights}
            features = [c for c in columns if c not in left_out]
        if not features and not self.everything:  # else the reader words a one-column table
            besides = " and the weights" if self.weights is not None else ""
            raise DataError(
                f"{source_name}: `drop` leaves no feature column besides the target "
                f"{target_name!r}{besides}; keep at least one"
            )
        return features

    def needed(self, columns: Sequence[str], target_name: str, source_name: str) -> list[str]:
        """The columns a read keeps, in file order: the features, the target, the weights."""
        wanted = {*self.feature_columns(columns, target_name, source_name), target_name}
        if self.weights is not None:
            wanted.add(self.weights)
        return [c for c in columns if c in wanted]

    def narrowing(
        self, columns: Sequence[str], target_name: str, source_name: str
    ) -> list[str] | None:
        """The columns a read of a table with ``columns`` keeps (:meth:`needed`); None when
        it keeps them all, so that a frame is not copied for nothing."""
        if self.everything:
            return None
        needed = self.needed(columns, target_name, source_name)
        return None if len(needed) == len(columns) else needed

    def _check_names(self, columns: list[str], target_name: str, source_name: str) -> None:
        if self.everything:
            return  # nothing named: a header of a million columns is not even hashed
        present = set(columns)
        for option, names in (("features", self.features or ()), ("drop", self.drop)):
            unknown = [n for n in dict.fromkeys(names) if n not in present]
            if unknown:
                raise DataError(
                    f"`{option}` names {names_list(unknown)}, not "
                    f"{'a column' if len(unknown) == 1 else 'columns'} of {source_name}; "
                    f"its columns are: {names_list(columns)}"
                )
            if target_name in names:
                raise OptionError(
                    f"`{option}` names the target {target_name!r}, which is never a feature; "
                    f"take it out of `{option}`, or choose another `target`"
                )
        weights = self.weights
        if weights is None:
            return
        if weights not in present:
            raise DataError(
                f"`weights` column {weights!r} not found in {source_name}; its columns are: "
                f"{names_list(columns)}"
            )
        if weights == target_name:
            raise OptionError(
                f"`weights` names the target {target_name!r}; name another column of sample "
                "weights, or choose another `target`"
            )
        if weights in (self.features or ()):
            raise OptionError(
                f"`weights` column {weights!r} is also in `features`; sample weights are not a "
                "feature: take it out of `features`"
            )


def parquet_choice(
    source: Source, target: str | int | None, choice: ColumnChoice
) -> tuple[list[str] | None, str | None]:
    """The columns a read of a Parquet file decodes and its target's name, both from the
    file's footer, so that the other columns are never decoded; ``(None, None)`` when
    the read takes every column (the target is then named on the frame read)."""
    if choice.everything:
        return None, None
    from linfit.data.parquet import parquet_names

    names = parquet_names(source)
    target_name = resolve_target(names, target, source.name)
    return choice.needed(names, target_name, source.name), target_name


def read_chosen(
    source: Source,
    file_format: Format,
    sep: str | None,
    target: str | int | None,
    choice: ColumnChoice,
) -> tuple[pd.DataFrame, str]:
    """The table of a CSV, TSV or Parquet file narrowed to the chosen columns (file
    order), and its target's name. A Parquet file's other columns are never decoded."""
    from linfit.data.formats import read_frame
    from linfit.data.parquet import read_parquet

    if file_format == "parquet":
        columns, target_name = parquet_choice(source, target, choice)
        if target_name is not None:
            return read_parquet(source, columns), target_name
    frame = read_frame(source, file_format, sep)
    target_name = training_target(frame, target, source.name)
    kept = choice.narrowing(list(frame.columns), target_name, source.name)
    return (frame if kept is None else frame[kept]), target_name
