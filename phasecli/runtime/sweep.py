"""Sweeps: independent pieces of work, computed in order and handed back as each one finishes.

Every sweep command (``phase``, ``depth-scale``, ``kappa``, ``lr``, ``generalize``, the
Monte Carlo commands) is a list of *tasks* (keyword dicts: a block of grid rows, one
(sw2, sb2) point, ...) and one module-level function ``fn(**task, **shared)``.
``run`` yields the results in task order, as soon as each is ready, so the command line
writes every chunk at once (``| head`` returns after the first) and memory stays
bounded by a chunk; between two tasks Python is back in control, so Ctrl-C is answered
within one task.  ``shared`` holds what every task needs (the data set): sent once.

This module has the local path only; ``phasecli.runtime.distributed`` runs the same tasks on a
Dask cluster when a scheduler address is given.  Nothing here prints.
"""

from __future__ import annotations

import math

TARGET_CELLS = 5_000  # grid cells per chunk: ~0.5-1 s of numba work on 2 cores for a smooth activation
MIN_CHUNKS = 40  # a large grid is cut into at least this many chunks (first rows after <= 1/40 of the run)


def row_blocks(n_rows: int, row_cells: int, target: int = TARGET_CELLS, min_chunks: int = MIN_CHUNKS):
    """Split ``n_rows`` grid rows of ``row_cells`` cells each into consecutive (start, stop) blocks of
    about ``min(target, total / min_chunks)`` cells (at least one row each)."""
    total = n_rows * max(row_cells, 1)
    per_chunk = max(1, min(target, math.ceil(total / min_chunks)))
    rows = max(1, per_chunk // max(row_cells, 1))
    return [(start, min(n_rows, start + rows)) for start in range(0, n_rows, rows)]


def run(fn, tasks, *, shared=None, scheduler=None):
    """Yield ``fn(**task, **shared)`` for every task, in order (a generator).

    ``scheduler``: a Dask scheduler address; None (the default) computes here (an empty
    address is an error, not a silent local run).
    """
    shared = dict(shared or {})
    tasks = list(tasks)
    if scheduler is not None:
        from phasecli.runtime import distributed

        yield from distributed.run(fn, tasks, shared=shared, scheduler=scheduler)
        return
    for task in tasks:
        yield fn(**task, **shared)
