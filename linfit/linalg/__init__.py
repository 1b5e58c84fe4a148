"""Dense linear algebra for least squares, wherever the rows live.

- ``gram``: the normal equations' sums in one pass (``normal_equations``), solved by
  Cholesky with a condition estimate (``solve_gram``).
- ``qr``: the triangle of a tall matrix's QR a block of rows at a time (``tsqr``), the
  pseudo-inverse solve (``pinv_solve``) and the column-equilibrated, column-pivoted QR that
  decides numerical rank and finds dependent columns (``pivoted_qr``).
- ``design``: the rows of ``[X, 1]`` and ``Y`` seen by the solvers (``Design``): the sums,
  the triangle, and residual correlations in extended precision, by blocks.
- ``refine``: iterative refinement with extended-precision residuals.
- ``lsq``: every closed-form method by name (``solve``), ``auto`` choosing among them,
  each reporting its rank, condition and an estimate of its correct digits.
"""
