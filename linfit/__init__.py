"""linfit: train, check and compare linear models from the command line."""

__version__ = "0.1.0"
