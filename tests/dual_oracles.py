"""What the dcd tests hold the dual solvers' certificates against, written from the
definitions, apart from the solvers' code."""

from __future__ import annotations

from typing import Any

import numpy as np


def box_projection(G: np.ndarray, alpha: np.ndarray, ceiling: Any) -> np.ndarray:
    """The dual's gradient ``G`` projected on its box ``[0, ceiling]`` at ``alpha`` (all of
    one shape, ``ceiling`` broadcast to it): 0 where the gradient points out of the box. Its
    ``sum C u |PG|`` bounds the duality gap term by term: dcd's hinge stopped on it before
    its gap (f37a822, a39a784)."""
    return np.where(
        alpha <= 0.0, np.minimum(G, 0.0), np.where(alpha >= ceiling, np.maximum(G, 0.0), G)
    )
