"""The ``linfit`` command: a Typer app whose errors are rendered once, here, at the edge."""

from __future__ import annotations

import sys
import warnings
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from linfit import __version__
from linfit.cli.output import stderr
from linfit.errors import LinfitError


class LinfitGroup(TyperGroup):
    """Renders every user error as one line on stderr with its exit code, and warnings likewise.

    Domain errors (``LinfitError``) are caught around the command; usage errors (a bad
    flag value, a missing argument) are caught around parsing, where Typer would
    otherwise draw a multi-line box.
    """

    # --help lists commands in the order of a user's work, not alphabetically
    ORDER = (
        "train",
        "predict",
        "evaluate",
        "compare",
        "solve-ls",
        "gradcheck",
        "datasets",
        "reproduce",
    )

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(self.ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except Exception as err:
            # click's UsageError and friends, whether Typer vendors click or not
            message = getattr(err, "format_message", None)
            if message is None:
                raise
            if type(err).__name__ == "NoArgsIsHelpError":  # the help is shown already
                sys.exit(getattr(err, "exit_code", 2))
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _error_line(f"{message()}{hint}")
            sys.exit(getattr(err, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except LinfitError as err:
                _error_line(str(err))
                raise typer.Exit(err.exit_code) from None
            except KeyboardInterrupt:
                stderr.print("interrupted")
                raise typer.Exit(130) from None


def _error_line(message: str) -> None:
    # escaped: a message is text, and one such as pip install 'linfit[plot]' holds brackets
    stderr.print(
        f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    stderr.print(
        f"[bold yellow]warning:[/] {escape(str(message))}",
        markup=True,
        highlight=False,
        soft_wrap=True,
    )


app = typer.Typer(
    cls=LinfitGroup,
    help="Train, check and compare linear models on CSV files.",
    epilog="Example: linfit train --model softmax datasets/iris.csv --out iris.linfit",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"linfit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Train, check and compare linear models on CSV files."""


# Importing the command modules registers their commands on ``app``.
from linfit.cli import check, datasets, modeling, reproduce  # noqa: E402, F401


def main() -> None:
    """Console-script entry point."""
    app(prog_name="linfit")
