"""Session-wide test settings."""

from __future__ import annotations

import os
import shutil
import tempfile

# scikit-learn's estimator checks include a numpy-only array-API check that skips itself
# unless scipy runs in array-API mode, which is read when scipy is first imported: set it
# here, before any test module imports scipy, so the check runs instead of skipping.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


def pytest_configure(config):
    # The parsed-data cache goes to a fresh folder, never the user's ~/.cache; set before
    # any test module captures the environment for its subprocesses.
    config._linfit_cache = tempfile.mkdtemp(prefix="linfit-test-cache-")
    os.environ["LINFIT_CACHE_DIR"] = config._linfit_cache
    # tables are as wide as $COLUMNS off a terminal; the developer's own must not matter
    os.environ.pop("COLUMNS", None)


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_linfit_cache", ""), ignore_errors=True)
