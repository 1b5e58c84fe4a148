"""The math, checked: :mod:`~linfit.checks.gradcheck` compares analytic derivatives with
finite differences, :mod:`~linfit.checks.identities` the identities the notes state."""
