"""``python -m linfit``."""

from linfit.cli import main

main()
