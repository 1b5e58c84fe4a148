"""linfit beside others: :mod:`~linfit.evaluation.baselines` fits scikit-learn's matched
models, :mod:`~linfit.evaluation.comparison` runs them side by side on one objective,
:mod:`~linfit.evaluation.reproduce` regenerates every published table and
:mod:`~linfit.evaluation.plots` draws the figures."""
