"""``nppg.vpg`` as the package exports it: the algorithm's ``vpg``, untouched, with two things around it that
are no part of the lesson. A keyword that is no setting is refused by name (``check_names``), and NumPy's BLAS
computes each product on one thread while it runs (``one_thread``, the count put back after), as
``nppg.train`` does: nppg's products are small, and a second BLAS thread whose core is busy made a run 4 to 8
times slower (docs/performance.md). The numbers are those of ``nppg.algorithm.vpg`` on one BLAS thread.
"""
import functools

from .. import algorithm
from .config import ALGORITHM_SETTINGS, check_names
from .threads import one_thread


@functools.wraps(algorithm.vpg)
def vpg(env="CartPole-v1", *, callback=None, setup=algorithm.start, **hyperparameters):
    check_names(hyperparameters, ALGORITHM_SETTINGS, "nppg.vpg")
    with one_thread():
        return algorithm.vpg(env, callback=callback, setup=setup, **hyperparameters)


vpg.__module__ = __name__
vpg.__doc__ += ("\n\n    As ``nppg`` exports it (``nppg/engine/plain.py``): a keyword that is no setting raises a ValueError "
                "that names\n    the nearest one, and the products run on one BLAS thread.")
