"""Larder's tests.

The test processes (two, side by side) share the machine's cores, so each fits its models with
one thread. OpenMP and BLAS read their pool sizes when first loaded; this package is imported
before any test module or conftest, so the sizes are set before numpy or scikit-learn load.
"""

import os

for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")
