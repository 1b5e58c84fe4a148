"""Session-wide test settings."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    # The parsed-data cache goes to a fresh folder, never the user's ~/.cache; set before
    # any test module captures the environment for its subprocesses.
    os.environ["LINFIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="linfit-test-cache-")
