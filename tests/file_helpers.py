"""Shared helpers for tests that need files and folders of their own: a file holding given
bytes for one hypothesis example (which cannot take pytest's function-scoped tmp_path),
and a small tmpfs to fill up or make read-only."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def mount_tmpfs(where: Path, options: str) -> bool:
    """A tmpfs mounted at ``where`` (made if missing) with mount ``options`` (``size=16k``,
    ``ro``); False where it cannot be (not root, or no ``mount``). The caller unmounts it."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0
