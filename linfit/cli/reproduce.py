"""``linfit reproduce``: every published result, regenerated (``make reproduce``)."""

from __future__ import annotations

import json as json_module
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from linfit.cli.app import app
from linfit.cli.options import JsonOpt, QuietOpt
from linfit.cli.output import console, emit_json
from linfit.errors import OptionError, OutputError
from linfit.optional import MissingExtraError
from linfit.storage.atomic import atomic_write


@app.command("reproduce", epilog="Example: linfit reproduce --out results")
def reproduce_command(
    out: Annotated[Path, typer.Option(help="Folder for reproduce.md, .json and plots/.")] = Path(
        "results"
    ),
    dataset: Annotated[
        list[str] | None, typer.Option(help="Only these bundled datasets (repeatable).")
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write convergence plots (needs matplotlib).")] = True,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Train every model x optimizer on every bundled dataset beside scikit-learn.

    Writes OUT/reproduce.md and OUT/reproduce.json (and OUT/plots/*.png); exits 1 when
    a linfit model trails its best baseline by more than the stated tolerance.
    """
    from linfit.data.bundled import BUNDLED
    from linfit.evaluation.reproduce import plot_convergence, reproduce, to_json, to_markdown

    unknown = sorted(set(dataset or ()) - set(BUNDLED))
    if unknown:
        raise OptionError(f"unknown dataset {unknown[0]!r}; choose from: {', '.join(BUNDLED)}")
    err = console(quiet)
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} is a file; reproduce writes a folder of reports")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err_os:
        raise OutputError(f"cannot create folder {out}: {err_os.strerror}") from None
    results = reproduce(tuple(dataset) if dataset else None, progress=lambda m: err.print(m))
    report = to_json(results)
    markdown, report_text = to_markdown(results) + "\n", json_module.dumps(report, indent=1) + "\n"
    atomic_write(out / "reproduce.md", lambda fh: fh.write(markdown), binary=False)
    atomic_write(out / "reproduce.json", lambda fh: fh.write(report_text), binary=False)
    written = [out / "reproduce.md", out / "reproduce.json"]
    if plots:
        try:
            written += plot_convergence(results, out / "plots")
        except MissingExtraError:
            err.print(escape("matplotlib is not installed: no plots (pip install 'linfit[plot]')"))
    failures = [v for r in results for v in r.verdicts if not v.passed]
    for v in failures:
        err.print(f"[red]FAILS:[/] {v.dataset} {v.model}: test {v.linfit:.4f} vs {v.baseline:.4f}")
    err.print(f"wrote {len(written)} files to {out}")
    if json:
        emit_json(report)
    if failures:
        raise typer.Exit(1)
