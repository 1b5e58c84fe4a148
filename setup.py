"""The one compiled piece: linfit's CSV scanner (everything else is in pyproject.toml).

Optional: where it cannot be built (no C compiler), linfit installs without it and reads
every file through pandas, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("linfit.data._csvscan", ["linfit/data/_csvscan.c"], optional=True),
    ]
)
