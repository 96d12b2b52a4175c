"""Planned sweeps: what a command computes, checked and budgeted before any work (pure Python).

A ``Sweep`` holds the tasks of one library function (``fn(**task, **shared)`` each) and runs them
lazily, in order, here or on a Dask cluster (``phasecli.runtime.sweep.run``); iterating it yields the
results as they finish.  The planners beside each numeric API build one (``meanfield.phase_sweep``,
``ntk.spectra_sweep``, ``predictor.generalize_sweep``, ``isometry.jacobian_sweep``,
``dynamics.catapult_sweep``, ``finite.train.train_sweep``, ``gate.check_sweep``); a caller only
iterates, and reports progress with ``progress(n)`` as each result arrives.

Budgets: a run estimated beyond ``MAX_BYTES`` of memory, or beyond ``MAX_LOCAL_SECONDS`` computed here
(not with a scheduler), is refused before any work with ``BudgetError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phasecli.errors import InputError

MAX_LOCAL_SECONDS = 3600.0  # a run estimated beyond this (computed here, not with a scheduler) is refused
MAX_BYTES = 4 << 30  # a run estimated beyond this memory (one point) is refused (docs: cnn.md)
FC_BYTES_PER_PAIR = 48  # measured peak: ~6 doubles per entry of the m x m kernels (m = 1000 and 3000, relu)


class BudgetError(InputError):
    """A request too large to run here: the estimate and the limit it exceeds (a usage error, exit 2)."""


def size_text(n: float) -> str:
    """'1.5 GiB', '12 MiB'."""
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def duration_text(seconds: float) -> str:
    """'40 s', '12 min', '3.5 h', '1.1e+11 h'."""
    if seconds >= 5400:
        hours = seconds / 3600
        return f"{hours:.1f} h" if hours < 1000 else f"{hours:.2g} h"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def check_seconds(seconds: float, what: str, scheduler=None) -> None:
    """BudgetError when a run computed here needs more than MAX_LOCAL_SECONDS."""
    if scheduler is None and seconds > MAX_LOCAL_SECONDS:
        raise BudgetError(f"this run needs an estimated ~{duration_text(seconds)} on 2 cores ({what}; limit "
                          f"{duration_text(MAX_LOCAL_SECONDS)})")


def check_fc_memory(m: int, param: str) -> None:
    """InputError naming ``param`` when the m x m kernels of m inputs would exceed MAX_BYTES."""
    need = FC_BYTES_PER_PAIR * float(m) * m
    if need > MAX_BYTES:
        raise InputError(f"{m:,} inputs need an estimated {size_text(need)} of memory (m x m kernels, "
                         f"~{FC_BYTES_PER_PAIR} bytes per pair; limit {size_text(MAX_BYTES)}): use fewer "
                         "inputs", param)


def cnn_works(activation, runs, scheduler=None) -> list:
    """Entry-layers of each CNN run [(architecture, m, m_test, depths, image_shape), ...]
    (``ntk.engines.cnn.workload``), estimated together; BudgetError when a run's estimated memory exceeds
    MAX_BYTES or, computed here, the runs' estimated time MAX_LOCAL_SECONDS (the message names the
    activation's cost per entry-layer and, for a quadrature activation, the closed forms)."""
    from phasecli.activations import ACTIVATIONS
    from phasecli.ntk.engines import cnn

    works, peak = [], 0
    for architecture, m, m_test, depths, shape in runs:
        work, mem = cnn.workload(m, m_test, shape, architecture, depths)
        works.append(work)
        peak = max(peak, mem)
    secs = cnn.seconds(activation, sum(works))
    if peak > MAX_BYTES or (scheduler is None and secs > MAX_LOCAL_SECONDS):
        faster = ""
        if ACTIVATIONS[activation].kind != "closed":
            closed = ", ".join(name for name, act in ACTIVATIONS.items() if act.kind == "closed")
            faster = f"; a closed-form activation ({closed}) is ~1e5x faster"
        raise BudgetError(f"this convolutional run needs an estimated {size_text(peak)} of memory and "
                          f"~{duration_text(secs)} on 2 cores ({sum(works):.2g} entry-layers, "
                          f"{cnn.cost_text(activation)}; limits {size_text(MAX_BYTES)}, "
                          f"{duration_text(MAX_LOCAL_SECONDS)}{faster})")
    return works


def check_images(image_shape, filter_size, arrays, normalize=None) -> None:
    """Every (label, rows) holds images of ``image_shape`` that a ``filter_size`` filter fits
    (``ntk.engines.cnn.check_image``; ``label`` names the rows in the message), and, with
    ``normalize='position'``, no all-zero pixel (``ntk.engines.check_position_scalable``): refused before
    any estimate or work."""
    from phasecli.ntk.engines import check_position_scalable, cnn

    for label, rows in arrays:
        cnn.check_image(image_shape, filter_size, rows.shape[1], what=label)
        if normalize == "position":
            check_position_scalable(rows, image_shape, label)


@dataclass
class Sweep:
    """Tasks of one function, run lazily in order (module docstring).

    ``units``: the progress units of each task (default one); ``works``: the CNN entry-layers of each
    task (None when it runs no CNN), for a finer progress bar; ``meta``: what the planner resolved
    (depths, ...) for the caller's report."""

    fn: object
    tasks: list
    shared: dict = field(default_factory=dict)
    scheduler: str | None = None
    units: list | None = None
    works: list | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def total(self) -> int:
        """Progress units of the whole sweep."""
        return len(self.tasks) if self.units is None else sum(self.units)

    def __iter__(self):
        from phasecli.runtime import sweep

        yield from sweep.run(self.fn, self.tasks, shared=self.shared, scheduler=self.scheduler)


def chain(sweeps):
    """Results of several sweeps, one after the other."""
    for s in sweeps:
        yield from s
