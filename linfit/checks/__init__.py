"""The math, checked: :mod:`~linfit.checks.gradcheck` compares analytic derivatives with
finite differences, :mod:`~linfit.checks.identities` the identities the notes state (rows
from :mod:`~linfit.checks.matrix_identities` and :mod:`~linfit.checks.model_identities`,
derivatives from :mod:`~linfit.checks.calculus`)."""
