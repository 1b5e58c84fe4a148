"""The compiled pieces: linfit's CSV and LIBSVM scanners, the dual coordinate descent loops,
the products with CSR rows and adagrad's batches on them, and the losses' per-row passes
over a block's scores (everything else is in pyproject.toml).

Optional: where they cannot be built (no C compiler), linfit installs without them, reads
every table through pandas and every LIBSVM file through scikit-learn, runs dual
coordinate descent's loops in Python, takes scipy's products with sparse rows,
adagrad's numpy steps and numpy's passes over the scores, only slower.
"""

from setuptools import Extension, setup

# The decimal parser both scanners include: a change to it rebuilds them.
DECIMAL_H = "linfit/data/_decimal.h"
# What both dual coordinate descent loops share.
DUAL_H = "linfit/fitting/_dual.h"

setup(
    ext_modules=[
        Extension(
            "linfit.data._csvscan",
            ["linfit/data/_csvscan.c"],
            depends=[DECIMAL_H],
            optional=True,
        ),
        Extension(
            "linfit.data._libsvmscan",
            ["linfit/data/_libsvmscan.c"],
            depends=[DECIMAL_H],
            optional=True,
        ),
        Extension(
            "linfit.fitting._dualcd", ["linfit/fitting/_dualcd.c"], depends=[DUAL_H], optional=True
        ),
        Extension(
            "linfit.fitting._wwdual", ["linfit/fitting/_wwdual.c"], depends=[DUAL_H], optional=True
        ),
        Extension("linfit.linalg._sparse", ["linfit/linalg/_sparse.c"], optional=True),
        Extension("linfit.models._rowpass", ["linfit/models/_rowpass.c"], optional=True),
        Extension("linfit.optim._adagrad", ["linfit/optim/_adagrad.c"], optional=True),
    ]
)
