"""Numba kernels of the two-scalar catapult map (private: called by ``phasecli.catapult_dynamics``).

The map of docs/theory.md section 13 ("The two-scalar model"), for f (the output) and lambda (the NTK
eigenvalue) of a width-n network trained on the loss f^2 / 2,

    f_{t+1} = (1 - eta lambda_t + eta^2 f_t^2 / n) f_t,
    lambda_{t+1} = lambda_t + (eta f_t^2 / n) (eta lambda_t - 4),

is iterated in its scale-free variables u = eta lambda and x = eta^2 f^2 / n:

    x_{t+1} = (1 - u_t + x_t)^2 x_t,      u_{t+1} = u_t + x_t (u_t - 4),

exactly the same map, but u_0 = 2 lr_factor is exact in float64 (so lr_factor = 2 keeps
u = 4 exactly, the bounded chaos of the model).  loss_t = x_t * loss_scale with
loss_scale = n / (2 eta^2), lambda_t = u_t / eta.
"""

import math

import numpy as np

from phasecli.runtime.jit import njit, prange

LAZY = 0
CATAPULT = 1
UNCONVERGED = 2
DIVERGENT = 3


@njit(cache=True)
def _run(u0, x0, eta, loss_scale, tol, n_steps, loss_out, lam_out):
    """One run of the map: (regime code, steps, final_loss, final_lambda, peak_loss, peak_step).

    ``steps`` is the first t <= n_steps with loss_t < tol (converged: lazy or catapult), the
    first t at which x, u, loss or lambda is not finite (divergent; loss_t then counts as
    inf), or n_steps (unconverged).  With non-empty ``loss_out`` / ``lam_out`` (length
    n_steps + 1) loss_t and lambda_t are recorded for t <= steps; the rest stays as it was.
    """
    record = loss_out.size > 0
    u = u0
    x = x0
    peak = -1.0
    peak_step = 0
    loss = 0.0
    lam = 0.0
    for t in range(n_steps + 1):
        if t > 0:
            r = 1.0 - u + x
            x_next = (r * x) * r
            u = u + x * (u - 4.0)
            x = x_next
        loss = x * loss_scale
        lam = u / eta
        if not (math.isfinite(x) and math.isfinite(u) and math.isfinite(loss) and math.isfinite(lam)):
            if record:
                loss_out[t] = np.inf
                lam_out[t] = lam
            return DIVERGENT, t, np.inf, lam, np.inf, t
        if record:
            loss_out[t] = loss
            lam_out[t] = lam
        if loss > peak:
            peak = loss
            peak_step = t
        if loss < tol:
            return (CATAPULT if peak_step > 0 else LAZY), t, loss, lam, peak, peak_step
    return UNCONVERGED, n_steps, loss, lam, peak, peak_step


@njit(parallel=True, cache=True)
def _run_many(u0, x0, eta, loss_scale, tol, n_steps, regime, steps, final_loss, final_lambda, peak_loss,
              peak_step):
    """``_run`` for every lr_factor i (independent; each writes only its own slot i)."""
    empty = np.empty(0)
    for i in prange(u0.size):
        code, s, fl, flam, pl, ps = _run(u0[i], x0[i], eta[i], loss_scale[i], tol, n_steps, empty, empty)
        regime[i] = code
        steps[i] = s
        final_loss[i] = fl
        final_lambda[i] = flam
        peak_loss[i] = pl
        peak_step[i] = ps


@njit(cache=True)
def _run_many_serial(u0, x0, eta, loss_scale, tol, n_steps, regime, steps, final_loss, final_lambda, peak_loss,
                     peak_step):
    """``_run_many`` on one thread: small grids (waking numba's thread pool costs ~20 ms on a busy machine)."""
    empty = np.empty(0)
    for i in range(u0.size):
        code, s, fl, flam, pl, ps = _run(u0[i], x0[i], eta[i], loss_scale[i], tol, n_steps, empty, empty)
        regime[i] = code
        steps[i] = s
        final_loss[i] = fl
        final_lambda[i] = flam
        peak_loss[i] = pl
        peak_step[i] = ps
