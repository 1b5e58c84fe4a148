"""The compiled pieces: linfit's CSV scanner and the dual coordinate descent loop
(everything else is in pyproject.toml).

Optional: where they cannot be built (no C compiler), linfit installs without them, reads
every file through pandas and runs dual coordinate descent's loop in Python, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("linfit.data._csvscan", ["linfit/data/_csvscan.c"], optional=True),
        Extension("linfit.fitting._dualcd", ["linfit/fitting/_dualcd.c"], optional=True),
    ]
)
