"""linfit: train, check and compare linear models.

The library's entry point is ``linfit.fit``; a fitted model saves and loads without
pickle::

    import linfit
    from linfit.models import SoftmaxClassifier

    trained = linfit.fit(SoftmaxClassifier(reg=1e-3), X, y)  # X (n, d), y (n,)
    linfit.save(trained, "model.linfit")
    trained = linfit.load("model.linfit")
    trained.predict(X)  # (n,) labels

The names are imported on first use, so ``import linfit`` (and the command line's
start) does not pay for numpy, scipy or pandas until they are needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "fit": "linfit.fitting",
    "SOLVERS": "linfit.fitting",
    "TrainedModel": "linfit.fitting",
    "load": "linfit.storage.persist",
    "save": "linfit.storage.persist",
}

__all__ = ["SOLVERS", "TrainedModel", "__version__", "fit", "load", "save"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'linfit' has no attribute {name!r}")
