"""The ``linfit`` command: a Typer app whose errors are rendered once, here, at the edge."""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Annotated, Any

import typer
import typer.main
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from linfit import __version__
from linfit.cli.output import stderr
from linfit.errors import LinfitError

# Every command, in the order of a user's work: the module that defines it, imported only
# when the command runs or shows its own help (so that ``linfit --help`` loads no numpy),
# and the line ``linfit --help`` lists for it, the first line of the command's help
# (tests/test_startup.py holds each to its command's).
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "Train a model on DATA, report train/test metrics, and save it."),
    "predict": (
        "scoring",
        "Predict with a saved model; DATA's columns are matched to the model's by name.",
    ),
    "evaluate": (
        "scoring",
        "Score a saved model on labelled DATA: accuracy and confusion matrix, or R^2 and RMSE.",
    ),
    "compare": (
        "compare",
        "Train linfit's model and scikit-learn's closest ones on the same split, side by side.",
    ),
    "solve-ls": (
        "solve_ls",
        "Least squares on raw features, the bias as the coefficient of a column of ones.",
    ),
    "gradcheck": (
        "check",
        "Compare each model's gradient (and Hessian-vector product) with finite differences.",
    ),
    "cv": ("cv", "Cross-validate a path of penalties; refit the best on all rows and save it."),
    "datasets": ("datasets", "The bundled datasets, and synthetic CSVs of any size."),
    "reproduce": (
        "reproduce",
        "Train every model x optimizer on every bundled dataset beside scikit-learn.",
    ),
}


# The library's parameters as the commands' flags: an error names ``reg``, the command line
# shows ``--reg`` (see linfit.errors). A command that calls a parameter otherwise says so.
FLAGS = {
    "reg": "--reg",
    "solver": "--optimizer",
    "gtol": "--tol",
    "max_iter": "--max-iter",
    "standardize": "--standardize",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "test_size": "--test-size",
    "chunk_rows": "--chunksize",
    "engine": "--engine",
    "scheduler": "--scheduler",
    "encode": "--encode",
    "dropna": "--dropna",
    "impute": "--impute",
    "dtype": "--dtype",
    "target": "--target",
    "sep": "--sep",
    "file_format": "--format",
    "features": "--features",
    "drop": "--drop",
    "weights": "--weights",
    "sample_weight": "--weights",
    "class_weight": "--class-weight",
    "weighted_metrics": "--weighted-metrics",
    "init": "--init",
    "metric": "--metric",
    "folds": "--folds",
    "n_samples": "--n-samples",
    "n_features": "--n-features",
    "n_classes": "--n-classes",
    "noise": "--noise",
    "model": "--model",
    "reference": "--reference",
    "poly": "--poly",
}
COMMAND_FLAGS = {"solve-ls": {"solver": "--method"}}


def flags_of(command: str | None) -> dict[str, str]:
    """The parameter-to-flag table of ``command``."""
    return {**FLAGS, **COMMAND_FLAGS.get(command or "", {})}


def as_flags(text: str, command: str) -> str:
    """A library text that names parameters in backquotes (a fit's summary message) as
    ``command`` shows it: each parameter named as its flag, as errors are rendered."""
    return LinfitError(text).render(flags_of(command))


def load_commands(*names: str) -> None:
    """Import the modules that register the commands ``names`` (all when none is named)."""
    for name in names or tuple(COMMANDS):
        importlib.import_module(f"linfit.cli.{COMMANDS[name][0]}")


class LinfitGroup(TyperGroup):
    """Loads each command when it is used, and renders every user error as one line on
    stderr with its exit code, and warnings likewise.

    Domain errors (``LinfitError``) are caught around the command; usage errors (a bad
    flag value, a missing argument) are caught around parsing, where Typer would
    otherwise draw a multi-line box.
    """

    _listing = False  # True while the group's own help lists the commands

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name in self.commands or name not in COMMANDS:
            return self.commands.get(name)
        if self._listing:  # the listing needs a line of help, not the command's imports
            return TyperCommand(name, help=COMMANDS[name][1])
        load_commands(name)
        self.commands.update(typer.main.get_command(app).commands)
        return self.commands.get(name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
        def show(
            message: Warning | str, category: type[Warning], *rest: object, **kw: object
        ) -> None:
            _show_warning(message, category, ctx.invoked_subcommand)

        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            try:
                return super().invoke(ctx)
            except LinfitError as err:
                _error_line(err.render(flags_of(ctx.invoked_subcommand)))
                raise typer.Exit(err.exit_code) from None
            except MemoryError as err:  # an allocation no estimate refused beforehand
                from linfit.memory import MemoryBudgetError, out_of_memory_message

                error = MemoryBudgetError(out_of_memory_message(err))
                _error_line(error.render(flags_of(ctx.invoked_subcommand)))
                raise typer.Exit(error.exit_code) from None
            except KeyboardInterrupt:
                stderr.print("interrupted")
                raise typer.Exit(130) from None


def _error_line(message: str) -> None:
    # escaped: a message is text, and one such as pip install 'linfit[plot]' holds brackets
    stderr.print(
        f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )


def _show_warning(message: Warning | str, category: type[Warning], command: str) -> None:
    """One line on stderr; a warning of linfit's own names its parameters in backquotes,
    shown as ``command``'s flags (another package's is shown as it is)."""
    text = str(message)
    if category.__module__.split(".")[0] == "linfit":
        text = as_flags(text, command)
    stderr.print(
        f"[bold yellow]warning:[/] {escape(text)}",
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


def main() -> None:
    """Console-script entry point."""
    app(prog_name="linfit")
