"""linfit's benchmarks (``make bench``): every figure a ratio against a baseline timed in
the same run on the same data. Not part of the installed package."""
