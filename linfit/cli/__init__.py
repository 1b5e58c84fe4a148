"""The command-line interface: thin commands over the library."""

from linfit.cli.app import app, main

__all__ = ["app", "main"]
