"""Where output goes: tables and progress to stderr (rich), results to stdout (JSON, CSV)."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from linfit.errors import OptionError, quote_path
from linfit.storage.atomic import check_target

if TYPE_CHECKING:
    import numpy as np

    from linfit.optim import IterationRecord


def console(quiet: bool = False) -> Console:
    """The stderr console, silenced by --quiet.

    rich honours NO_COLOR and drops colour and live redraws when stderr is not a
    terminal; there it would also wrap at 80 columns, so it gets $COLUMNS or 120.
    """
    width = None if sys.stderr.isatty() else int(os.environ.get("COLUMNS", "120"))
    return Console(stderr=True, quiet=quiet, highlight=False, width=width)


stderr = console()


def emit_json(payload: dict[str, Any]) -> None:
    """One JSON object on stdout, and nothing else there.

    Strict JSON: a non-finite number (e.g. the condition number of a rank-deficient
    matrix) is written as null, not as the NaN/Infinity that JSON parsers reject.
    """
    sys.stdout.write(json.dumps(_finite(payload), default=_jsonable, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    """A copy with numpy values made plain and NaN/inf replaced by None, recursively."""
    import numpy as np  # loaded by then: a result is being written

    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    import numpy as np  # loaded by then: a result is being written

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_csv(fh: IO[str], header: list[str], columns: list[np.ndarray]) -> None:
    """Columns (n,) each under its name, as CSV, byte for byte as pandas' ``to_csv(index=
    False)`` writes them (the format predictions have always had), without importing pandas
    (a third of a second, more than the rest of ``linfit predict``'s start): numbers as
    numpy prints them (the shortest text that reads back the same value, in the column's
    own precision), NaN as an empty field, text quoted only where it must be."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*(_csv_cells(column) for column in columns), strict=True))


def _csv_cells(column: np.ndarray) -> list[str]:
    if column.dtype.kind == "f":
        return ["" if value != value else str(value) for value in column]  # NaN: ""
    return [str(value) for value in column]


def fmt(value: Any) -> str:
    """A value as a table cell shows it; text is escaped so rich never reads it as markup."""
    import numpy as np  # loaded by then: a result is being written

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return escape(str(value))


def kv_table(title: str, rows: dict[str, Any]) -> Table:
    """A two-column table of names and values."""
    table = Table(title=escape(title), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(escape(key), fmt(value))
    return table


def check_output(path: Path, *inputs: str | Path, what: str = "file") -> Path:
    """Refuse, before any work, an output path that cannot be written safely (a folder, a
    device, a symlink, a missing folder) or that is one of the inputs."""
    check_target(path, what=what)
    for source in inputs:
        same = str(source) != "-" and Path(source).exists() and path.exists()
        if same and os.path.samefile(source, path):
            raise OptionError(
                f"output path {quote_path(path)} is the input file; choose another name"
            )
    return path


def check_side_outputs(outputs: dict[str, Path | None], *inputs: Path) -> None:
    """Refuse, before any work, a --plot or --history that --out's checks would refuse (a
    missing folder, a directory, an input file), that another option of ``outputs``
    also writes, or a --plot of another ending than .png/.svg/.pdf or without matplotlib."""
    given = {option: path for option, path in outputs.items() if path is not None}
    where = {option: os.path.realpath(path) for option, path in given.items()}
    for option, what in (("--plot", "plot"), ("--history", "history file")):
        if option not in given:
            continue
        check_output(given[option], *inputs, what=what)
        for other in given:
            if other != option and where[other] == where[option]:
                raise OptionError(
                    f"{option} and {other} name the same file {given[option]}; give each its own"
                )
    if "--plot" in given:
        from linfit.evaluation import plots  # matplotlib's checks: only when a plot is asked

        plots.plot_format(given["--plot"])
        plots.require_matplotlib("--plot")


def data_name(data: Path) -> str:
    """DATA as a title names it."""
    return "standard input" if str(data) == "-" else data.name


def _keep_row(nit: int) -> bool:
    """Rows 0-10, then 20, 30, ..., 100, then 200, 300, ...: a long run stays readable."""
    if nit <= 10:
        return True
    return nit % 10 ** int(math.log10(nit)) == 0


class Progress:
    """Optimizer callback showing iteration, objective, max |grad|, step and time.

    On a terminal the table redraws live; elsewhere it is printed once, at the end.
    Rows are thinned by ``_keep_row``; the last iteration is always shown.
    """

    def __init__(self, out: Console, title: str) -> None:
        self.out, self.title = out, title
        self.rows: list[IterationRecord] = []
        self.last: IterationRecord | None = None
        self.live = (
            Live(console=out, auto_refresh=False, transient=False) if out.is_terminal else None
        )

    def __call__(self, record: IterationRecord) -> None:
        self.last = record
        if _keep_row(record.nit):
            self.rows.append(record)
        if self.live is not None:
            self.live.update(self.table(), refresh=True)

    def __enter__(self) -> Progress:
        if self.live is not None and not self.out.quiet:
            self.live.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.live is not None and self.live.is_started:
            self.live.update(self.table(), refresh=True)
            self.live.stop()
        elif self.rows and exc_type is None:
            # on an error the one-line message is all stderr gets
            self.out.print(self.table())

    def table(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        for name in ("iter", "objective", "max |grad|", "step", "elapsed s"):
            table.add_column(name, justify="right")
        rows = list(self.rows)
        if self.last is not None and (not rows or rows[-1] is not self.last):
            rows.append(self.last)
        for r in rows:
            table.add_row(
                str(r.nit),
                f"{r.fun:.10g}",
                f"{r.grad_norm:.3e}",
                f"{r.step:.3g}",
                f"{r.elapsed:.3f}",
            )
        return table
