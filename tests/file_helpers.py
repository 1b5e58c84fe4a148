"""Shared helpers for tests that need files of their own: a file holding given bytes for
one hypothesis example (which cannot take pytest's function-scoped tmp_path)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_holding(content: bytes, suffix: str = "") -> Iterator[Path]:
    """A fresh file ``fuzz<suffix>`` holding exactly ``content``, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="linfit-fuzz-") as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(content)
        yield path
