"""The two-scalar model of training at large learning rates (numeric core of ``phasecli catapult``).

docs/theory.md section 13 (and section 6, "Learning rates and the catapult") (Bahri's lecture "Gradient descent in wide, deep neural networks", after Lewkowycz et al.
2020): a one-hidden-layer network of width n trained by gradient descent on the loss
f^2 / 2 (target 0) is reduced to its output f and its NTK eigenvalue lambda,

    f_{t+1}      = (1 - eta lambda_t + eta^2 f_t^2 / n) f_t,
    lambda_{t+1} = lambda_t + (eta f_t^2 / n) (eta lambda_t - 4),

with eta = lr_factor * 2 / lambda_0 and loss_t = f_t^2 / 2 after t updates.

Outcome of one run (``steps`` <= T = ``n_steps``):

- ``steps``: the first t <= T with loss_t < tol (strict); for a run that never gets
  there, T (unconverged) or the first t at which f, lambda or the loss is not finite in
  float64 (divergent).  final_loss, final_lambda are taken at t = steps; peak_loss is the
  maximum of loss_t over t <= steps, peak_step the first t reaching it (a divergent run
  has final_loss = peak_loss = inf and peak_step = steps).
- ``regime``, decided in this order: ``divergent`` (non-finite within T steps),
  ``unconverged`` (loss never below tol), ``catapult`` (converged and the loss rose above
  loss_0 at some step, i.e. peak_step > 0), ``lazy`` otherwise.  It is an outcome of the
  iteration, never a relabelling of lr_factor.

The iteration runs in the scale-free variables u = eta lambda, x = eta^2 f^2 / n (see
``phasecli.catapult_dynamics.kernels``): the regime depends on lr_factor, x_0 = 4 lr_factor^2
f_0^2 / (n lambda_0^2) and the tolerance alone, and lr_factor = 2 keeps u = 4 exactly.
The loss first rises iff u_0 - x_0 > 2, so the lazy / catapult boundary is the root
lr* = (1 - sqrt(1 - 4a)) / (2a) = 1 + a + 2a^2 + ... of a lr^2 - lr + 1 = 0 with
a = 2 f_0^2 / (n lambda_0^2) (``lazy_catapult_boundary``).  At lr_factor = 2,
x_{t+1} = x_t (x_t - 3)^2 maps [0, 4] onto itself (conjugate to the Chebyshev map
cos 3 theta): bounded chaos with loss_t <= n lambda_0^2 / 8 whenever x_0 <= 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli import validate as V
from phasecli.errors import InputError
from phasecli.results import Rows

REGIMES = ("lazy", "catapult", "unconverged", "divergent")  # codes 0..3 of the kernel
MAX_STEPS = 1_000_000_000
PARALLEL_MIN_STEPS = 20_000_000  # worst-case map steps (lr factors x (T + 1)) from which prange pays
LR_RANGE = (1e-6, 1e6)
LAMBDA0_RANGE = (1e-30, 1e30)
F0_MAX = 1e30
WIDTH_MAX = 10 ** 15
TOL_RANGE = (1e-300, 1e300)


@dataclass
class CatapultRuns(Rows):
    """Outcomes of the two-scalar map, one entry per lr_factor (module docstring for the definitions)."""

    lambda0: float
    f0: float
    width: int
    n_steps: int
    tol: float
    lr_factor: np.ndarray
    eta: np.ndarray
    regime: np.ndarray  # object array of REGIMES names
    final_loss: np.ndarray
    final_lambda: np.ndarray
    peak_loss: np.ndarray
    peak_step: np.ndarray
    steps: np.ndarray

    @property
    def loss0(self) -> float:
        return 0.5 * self.f0 * self.f0

    @property
    def eta_lambda_final(self) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            return self.eta * self.final_lambda

    def row_count(self) -> int:
        return int(self.lr_factor.size)

    def repeat(self, value, n: int):
        return np.full(n, value)  # width: the same on every row


def check_parameters(lambda0, f0, width, n_steps, tol):
    """(lambda0, f0, width, n_steps, tol) validated (InputError naming the parameter)."""
    lambda0 = V.number("lambda0", lambda0, lo=LAMBDA0_RANGE[0], hi=LAMBDA0_RANGE[1])
    f0 = V.number("f0", f0, lo=-F0_MAX, hi=F0_MAX)
    width = V.integer("width", width, lo=1, hi=WIDTH_MAX)
    n_steps = V.integer("steps", n_steps, lo=0, hi=MAX_STEPS)
    tol = V.number("tol", tol, lo=TOL_RANGE[0], hi=TOL_RANGE[1])
    return lambda0, f0, width, n_steps, tol


def lr_factors(values, name: str = "lr_factor") -> np.ndarray:
    """Learning-rate factors as a 1-D float64 array, each in [1e-6, 1e6] (InputError otherwise)."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or a list of numbers", name) from None
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be a number or a non-empty 1-D list of numbers", name)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite", name)
    bad = arr[(arr < LR_RANGE[0]) | (arr > LR_RANGE[1])]
    if bad.size:
        raise InputError(f"{name} must lie in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}] (a multiple of 2/lambda0), "
                         f"got {bad[0]:g}", name)
    return arr


def _scale_free(lr, lambda0, f0, width):
    """(u_0, x_0, eta, loss_scale) for the kernel."""
    eta = lr * (2.0 / lambda0)
    u0 = 2.0 * lr
    x0 = eta * eta * (f0 * f0 / width)
    loss_scale = width / (2.0 * eta * eta)
    return u0, x0, eta, loss_scale


def catapult(lr_factor, *, lambda0=1.0, f0=1.0, width=1000, n_steps=10000, tol=1e-12) -> CatapultRuns:
    """Iterate the two-scalar map once per lr_factor (docs/theory.md section 13)."""
    from phasecli.catapult_dynamics import kernels as K

    lr = lr_factors(lr_factor)
    lambda0, f0, width, n_steps, tol = check_parameters(lambda0, f0, width, n_steps, tol)
    u0, x0, eta, loss_scale = _scale_free(lr, lambda0, f0, width)
    n = lr.size
    regime = np.empty(n, dtype=np.int64)
    steps = np.empty(n, dtype=np.int64)
    peak_step = np.empty(n, dtype=np.int64)
    final_loss, final_lambda, peak_loss = np.empty(n), np.empty(n), np.empty(n)
    kernel = K._run_many if n * (n_steps + 1) >= PARALLEL_MIN_STEPS else K._run_many_serial
    with np.errstate(all="ignore"):
        kernel(u0, x0, eta, loss_scale, tol, n_steps, regime, steps, final_loss, final_lambda, peak_loss, peak_step)
    names = np.array(REGIMES, dtype=object)[regime]
    return CatapultRuns(lambda0=lambda0, f0=f0, width=width, n_steps=n_steps, tol=tol, lr_factor=lr, eta=eta,
                        regime=names, final_loss=final_loss, final_lambda=final_lambda, peak_loss=peak_loss,
                        peak_step=peak_step, steps=steps)


def catapult_trajectory(lr_factor, *, lambda0=1.0, f0=1.0, width=1000, n_steps=10000, tol=1e-12):
    """(loss_t, lambda_t) for t = 0 .. steps of one run (the curves of ``catapult --png``).

    The last entry of a divergent run has loss inf (and lambda as computed)."""
    from phasecli.catapult_dynamics import kernels as K

    lr = lr_factors(lr_factor)
    if lr.size != 1:
        raise InputError("catapult_trajectory takes one lr_factor", "lr_factor")
    lambda0, f0, width, n_steps, tol = check_parameters(lambda0, f0, width, n_steps, tol)
    u0, x0, eta, loss_scale = _scale_free(float(lr[0]), lambda0, f0, width)
    loss = np.empty(n_steps + 1)
    lam = np.empty(n_steps + 1)
    with np.errstate(all="ignore"):
        _, steps, *_ = K._run(u0, x0, eta, loss_scale, tol, n_steps, loss, lam)
    return loss[:steps + 1].copy(), lam[:steps + 1].copy()


def lazy_catapult_boundary(*, lambda0=1.0, f0=1.0, width=1000) -> float:
    """The lr_factor above which the loss rises at step 1 (u_0 - x_0 > 2): the smaller root of
    a lr^2 - lr + 1 = 0, a = 2 f_0^2 / (n lambda_0^2); inf when a >= 1/4 (no root: the
    factor |1 - u_0 + x_0| never exceeds 1 from the u_0 > 2 side)."""
    lambda0 = V.number("lambda0", lambda0, lo=LAMBDA0_RANGE[0], hi=LAMBDA0_RANGE[1])
    f0 = V.number("f0", f0, lo=-F0_MAX, hi=F0_MAX)
    width = V.integer("width", width, lo=1, hi=WIDTH_MAX)
    a = 2.0 * f0 * f0 / (width * lambda0 * lambda0)
    if a == 0.0:
        return 1.0
    disc = 1.0 - 4.0 * a
    if disc < 0.0:
        return math.inf
    return 2.0 / (1.0 + math.sqrt(disc))  # = (1 - sqrt(disc)) / (2a), without cancellation


CHUNK_STEPS = 50_000_000  # worst-case map steps per task (<= ~0.5 s of numba): rows stream, Ctrl-C is prompt


def catapult_sweep(lr_factor, widths, *, lambda0=1.0, f0=1.0, n_steps=10000, tol=1e-12, scheduler=None):
    """``catapult`` for every width (outer) and lr_factor, in blocks of at most ``CHUNK_STEPS`` map steps: a
    ``plans.Sweep`` of CatapultRuns whose progress units are lr factors.  Every parameter is validated here."""
    from phasecli.runtime import plans
    from phasecli.runtime import sweep

    for width in widths:
        check_parameters(lambda0, f0, width, n_steps, tol)
    lrs = lr_factors(lr_factor).tolist()
    blocks = sweep.row_blocks(len(lrs), n_steps + 1, target=CHUNK_STEPS)
    tasks = [{"lr_factor": lrs[a:b], "width": width} for width in widths for a, b in blocks]
    return plans.Sweep(catapult, tasks, dict(lambda0=lambda0, f0=f0, n_steps=n_steps, tol=tol), scheduler,
                       units=[b - a for _ in widths for a, b in blocks], meta={"lr_factor": lrs})
