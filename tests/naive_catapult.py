"""Oracle for the two-scalar catapult map: the map of seed 001 iterated in mpmath (imports nothing from phasecli).

The physical variables f (output) and lambda (NTK eigenvalue) are iterated at high
precision with eta = lr_factor * 2 / lambda0 exactly as the seed writes the map:

    f_{t+1} = (1 - eta lambda_t + eta^2 f_t^2 / n) f_t,
    lambda_{t+1} = lambda_t + (eta f_t^2 / n)(eta lambda_t - 4),      loss_t = f_t^2 / 2.

mpmath never overflows, so "non-finite in float64" is read as: some quantity of the
run (f^2 / 2, lambda, or the scale-free eta^2 f^2 / n, eta lambda) exceeds the largest
float64.  ``conditioned`` reruns with relative perturbations of lr_factor and f0 and says
whether the outcome is stable (chaotic runs and ties with tol are not: no float64
iteration can be expected to reproduce them).
"""

from __future__ import annotations

import sys

import mpmath

DBL_MAX = mpmath.mpf(sys.float_info.max)


def run(lr_factor, lambda0, f0, n, n_steps, tol, dps=40):
    """dict(regime, steps, peak_step, final_loss, final_lambda, peak_loss, loss) of one run in mpmath."""
    with mpmath.workdps(dps):
        lr = mpmath.mpf(lr_factor)
        lam0 = mpmath.mpf(lambda0)
        eta = lr * 2 / lam0
        f = mpmath.mpf(f0)
        lam = lam0
        n = mpmath.mpf(n)
        tol = mpmath.mpf(tol)
        peak, peak_step = None, 0
        loss = f * f / 2
        for t in range(n_steps + 1):
            if t > 0:
                f2 = f * f
                f, lam = (1 - eta * lam + eta * eta * f2 / n) * f, lam + (eta * f2 / n) * (eta * lam - 4)
            loss = f * f / 2
            scale_free = (eta * eta * f * f / n, abs(eta * lam))
            if max(loss, abs(lam), *scale_free) > DBL_MAX:
                return dict(regime="divergent", steps=t, peak_step=t, final_loss=mpmath.inf, final_lambda=lam,
                            peak_loss=mpmath.inf)
            if peak is None or loss > peak:
                peak, peak_step = loss, t
            if loss < tol:
                return dict(regime="catapult" if peak_step > 0 else "lazy", steps=t, peak_step=peak_step,
                            final_loss=loss, final_lambda=lam, peak_loss=peak)
        return dict(regime="unconverged", steps=n_steps, peak_step=peak_step, final_loss=loss, final_lambda=lam,
                    peak_loss=peak)


def _close(a, b, rel):
    if mpmath.isinf(a) or mpmath.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), mpmath.mpf("1e-300"))


def conditioned(lr_factor, lambda0, f0, n, n_steps, tol, delta=1e-13, rel=1e-10):
    """(reference run, True when relative perturbations delta of lr_factor and f0 change
    neither regime, steps nor peak_step, and final_lambda / peak_loss by less than ``rel``)."""
    ref = run(lr_factor, lambda0, f0, n, n_steps, tol)
    for lr, f in ((lr_factor * (1 + delta), f0), (lr_factor, f0 * (1 + delta)), (lr_factor * (1 - delta), f0)):
        other = run(lr, lambda0, f, n, n_steps, tol)
        if any(other[k] != ref[k] for k in ("regime", "steps", "peak_step")):
            return ref, False
        if not _close(other["peak_loss"], ref["peak_loss"], rel):
            return ref, False
        if ref["regime"] != "divergent" and not _close(other["final_lambda"], ref["final_lambda"], rel):
            return ref, False
    return ref, True


def trajectory_losses(lr_factor, lambda0, f0, n, n_steps):
    """loss_t for t = 0 .. n_steps (mpmath), for choosing tolerances right at a step's loss."""
    with mpmath.workdps(40):
        lr, lam, f, n = mpmath.mpf(lr_factor), mpmath.mpf(lambda0), mpmath.mpf(f0), mpmath.mpf(n)
        eta = lr * 2 / lam
        out = [f * f / 2]
        for _ in range(n_steps):
            f2 = f * f
            f, lam = (1 - eta * lam + eta * eta * f2 / n) * f, lam + (eta * f2 / n) * (eta * lam - 4)
            out.append(f * f / 2)
        return out
