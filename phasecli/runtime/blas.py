"""BLAS / LAPACK limited to one thread around the numerical work that suffers from threading.

LAPACK's factorizations and symmetric eigensolvers synchronise their threads at every panel.
On two cores with any other busy process (or numba's worker threads still spinning) that
costs far more than the second thread gains on the matrices phasecli uses, measured as:

- ``eigvalsh`` of order 600 (the NTK spectra): 0.5-1 s with two threads, 15 ms with one;
- a 300 x 300 QR (the finite networks' orthogonal draws): 0.3 s against 5 ms; 64 products
  of order 300: 1.8 s against 0.33 s;
- a training step of ``phasecli train`` (m rows): 5-12x slower with two threads.
"""

from __future__ import annotations

import functools

_CONTROLLER = None


def single_threaded():
    """A context manager that limits BLAS to one thread (threadpoolctl; the controller is made once).

    The limit is process-wide: a thread that works inside another thread's context (``phasecli.ntk``'s
    NNGP summary beside the NTK's) runs limited, and its own nested context leaves the limit to the
    enclosing one (threadpoolctl >= 3.6 lets only the controlling thread change OpenBLAS's threads;
    older versions restore the value they saw, 1)."""
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def one_thread(fn):
    """``fn`` run under ``single_threaded()``: its results then do not depend on how many BLAS threads the
    process has (a Dask worker has one, the command line two), to the last bit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded():
            return fn(*args, **kwargs)

    return wrapper
