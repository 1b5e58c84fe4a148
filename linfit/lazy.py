"""Stand-ins that spare a command the import of a heavy package it may never use.

``linfit predict`` on a small CSV needs numpy and the model file, not scipy: importing
``scipy.sparse`` alone costs about as much as numpy (measured 0.10 s against 0.13 s
here), so the checks that every layer makes on its input go through this module.
"""

from __future__ import annotations

import sys
from typing import Any


def issparse(X: Any) -> bool:
    """``scipy.sparse.issparse(X)`` without importing scipy: a sparse matrix can only exist
    once ``scipy.sparse`` has been imported, by whoever made it."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and bool(module.issparse(X))
