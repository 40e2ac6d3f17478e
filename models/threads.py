"""How many threads model fitting may use: one setting for training, backtests and jobs.

On the 2-core machines Larder runs on, the app server, the database and the job worker share
the cores. scikit-learn's histogram gradient boosting spreads every split search over OpenMP
threads; with the other work running, two threads were several times *slower* than one
(threads spin waiting for a core that is busy) and gave the same forecast. So the default is
one thread; ``--threads N`` or ``LARDER_THREADS`` raise it on a machine with idle cores.
Measured figures are in the README (``python -m bench.bench_threads``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

DEFAULT_THREADS = 1
THREADS_ENV = "LARDER_THREADS"
# Libraries that read their pool size once, when loaded; set before numpy/sklearn import.
POOL_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_count(requested: int | None = None) -> int:
    """The thread count to use: ``requested``, else ``LARDER_THREADS``, else the default."""
    if requested is None:
        text = os.environ.get(THREADS_ENV, "").strip()
        requested = int(text) if text else DEFAULT_THREADS
    if requested < 1:
        raise ValueError(f"threads must be at least 1, got {requested}")
    return requested


def set_pool_environment(threads: int) -> None:
    """Export the pool sizes for libraries (and child processes) that read the environment."""
    for name in POOL_ENV_VARS:
        os.environ[name] = str(threads)


@contextmanager
def limited_threads(threads: int | None = None) -> Iterator[int]:
    """Cap the OpenMP and BLAS pools to ``threads`` (see :func:`thread_count`) inside the block."""
    count = thread_count(threads)
    with threadpool_limits(limits=count):
        yield count


def add_threads_option(parser) -> None:
    """The ``--threads`` option shared by the model and job command lines."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"threads for model fitting (default: ${THREADS_ENV} or {DEFAULT_THREADS}, "
        "fastest on a busy 2-core machine)",
    )
