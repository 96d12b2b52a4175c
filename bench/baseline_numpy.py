"""A plain, vectorized numpy mean-field solver: the baseline for bench/bench_phase.py.

This is the kind of code people write in a notebook (see /work/shared/THEORY.md for
the formulas):

- Gaussian expectations by Gauss-Hermite quadrature
  (``numpy.polynomial.hermite_e.hermegauss``, probabilists' weight exp(-z^2/2)):
  100 nodes in 1-D, a 60 x 60 tensor grid in 2-D;
- q* by plain fixed-point iteration of the length map from q^1 = q0 (default 1),
  stopped when |dq| <= rtol * |q| (rtol = 1e-10) or after 5000 iterations;
- c* by plain fixed-point iteration of the correlation map from c = 0.5,
  stopped when |dc| <= 1e-10 or after 5000 iterations;
- chi_1, chi_c, xi_q, xi_c, xi_grad, xi_1, xi_star from the converged q*, c*.

Vectorized over the grid cells: arrays have shape (cells, nodes).  Cells that
have converged are *masked out* (only still-active cells are iterated), which is
the cheaper of the two plain choices; without masking every cell would iterate
as long as the slowest one (5000 times near the critical line).  The 2-D (c-map)
part is done in blocks of cells so that a (cells, 3600) array stays small
(``block`` cells at a time, default 512: about 15 MB per array).

No acceleration tricks beyond that: no series, no Newton steps, no closed forms,
no JIT.  numpy (and scipy.special.erf for the erf activation) only.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss


# phi, phi', phi'' for the activations the baseline knows
def _tanh(x):
    return np.tanh(x)


def _dtanh(x):
    t = np.tanh(x)
    return 1.0 - t * t


def _d2tanh(x):
    t = np.tanh(x)
    return -2.0 * t * (1.0 - t * t)


def _erf(x):
    from scipy.special import erf

    return erf(x)


def _derf(x):
    return (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)


def _d2erf(x):
    return (-4.0 / math.sqrt(math.pi)) * x * np.exp(-x * x)


ACTIVATIONS = {
    "tanh": (_tanh, _dtanh, _d2tanh),
    "erf": (_erf, _derf, _d2erf),
    "sin": (np.sin, np.cos, lambda x: -np.sin(x)),
}


def gauss_hermite(n: int):
    """Nodes z and weights w with sum(w * f(z)) ~= E[f(Z)], Z ~ N(0, 1)."""
    z, w = hermegauss(n)
    return z, w / math.sqrt(2.0 * math.pi)


def _neg_inv_log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -1.0 / np.log(x)


def solve_grid(
    sw2_1d,
    sb2_1d,
    activation: str = "tanh",
    q0: float = 1.0,
    n1: int = 100,
    n2: int = 60,
    q_rtol: float = 1e-10,
    q_maxiter: int = 5000,
    c_tol: float = 1e-10,
    c_maxiter: int = 5000,
    c_start: float = 0.5,
    block: int = 512,
    with_c: bool = True,
) -> dict:
    """Mean-field quantities on the grid sw2_1d x sb2_1d.

    Returns a dict of 2-D arrays of shape (len(sw2_1d), len(sb2_1d)) (rows: sw2,
    columns: sb2): q_star, c_star, chi_1, chi_c, xi_q, xi_c, xi_grad, xi_1,
    xi_star, plus the iteration counts q_iter, c_iter and the booleans
    q_converged, c_converged.  Where q* = 0 (the signal dies, sb2 = 0 in the
    ordered phase of an odd activation) c*, chi_c, xi_c and xi_star are NaN.
    ``with_c=False`` skips the c-map (c*, chi_c, xi_c, xi_star all NaN).
    """
    phi, dphi, d2phi = ACTIVATIONS[activation]
    sw2_1d = np.asarray(sw2_1d, dtype=float).ravel()
    sb2_1d = np.asarray(sb2_1d, dtype=float).ravel()
    shape = (sw2_1d.size, sb2_1d.size)
    SW, SB = np.meshgrid(sw2_1d, sb2_1d, indexing="ij")
    sw2 = SW.ravel()
    sb2 = SB.ravel()
    ncell = sw2.size

    # ---- 1-D quadrature: q* by fixed-point iteration (all cells at once, masked)
    z, w = gauss_hermite(n1)
    q = np.full(ncell, float(q0))
    q_iter = np.zeros(ncell, dtype=np.int64)
    q_conv = np.zeros(ncell, dtype=bool)
    active = np.arange(ncell)
    for it in range(1, q_maxiter + 1):
        u = np.sqrt(q[active])[:, None] * z[None, :]
        q_new = sw2[active] * (phi(u) ** 2 @ w) + sb2[active]
        dq = np.abs(q_new - q[active])
        q[active] = q_new
        q_iter[active] = it
        done = dq <= q_rtol * np.abs(q_new)
        q_conv[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break

    # chi_1 and the q-map slope term at q*
    u = np.sqrt(q)[:, None] * z[None, :]
    chi_1 = sw2 * (dphi(u) ** 2 @ w)
    q_slope = chi_1 + sw2 * ((d2phi(u) * phi(u)) @ w)

    # ---- 2-D tensor quadrature: c* by fixed-point iteration, in blocks of cells
    z1d, w1d = gauss_hermite(n2)
    Z1, Z2 = np.meshgrid(z1d, z1d, indexing="ij")
    z1 = Z1.ravel()
    z2 = Z2.ravel()
    w2 = np.outer(w1d, w1d).ravel()

    c = np.full(ncell, np.nan)
    chi_c = np.full(ncell, np.nan)
    c_iter = np.zeros(ncell, dtype=np.int64)
    c_conv = np.zeros(ncell, dtype=bool)
    alive = np.flatnonzero(q > 0.0) if with_c else np.arange(0)  # q* = 0: c* undefined
    for start in range(0, alive.size, block):
        idx = alive[start:start + block]
        sq = np.sqrt(q[idx])
        u1 = sq[:, None] * z1[None, :]
        phi1w = phi(u1) * w2[None, :]  # phi(u1) * weight: fixed during the iteration
        cb = np.full(idx.size, float(c_start))
        act = np.arange(idx.size)
        for it in range(1, c_maxiter + 1):
            ca = cb[act][:, None]
            u2 = sq[act][:, None] * (ca * z1[None, :] + np.sqrt(1.0 - ca * ca) * z2[None, :])
            e = np.sum(phi1w[act] * phi(u2), axis=1)
            c_new = (sw2[idx[act]] * e + sb2[idx[act]]) / q[idx[act]]
            c_new = np.clip(c_new, -1.0, 1.0)
            dc = np.abs(c_new - cb[act])
            cb[act] = c_new
            c_iter[idx[act]] = it
            done = dc <= c_tol
            c_conv[idx[act[done]]] = True
            act = act[~done]
            if act.size == 0:
                break
        c[idx] = cb
        # chi_c at c*
        u2 = sq[:, None] * (cb[:, None] * z1[None, :] + np.sqrt(1.0 - cb * cb)[:, None] * z2[None, :])
        chi_c[idx] = sw2[idx] * np.sum(dphi(u1) * dphi(u2) * w2[None, :], axis=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        xi_star = -1.0 / (np.log(chi_c) - np.log(chi_1))
    out = {
        "q_star": q,
        "c_star": c,
        "chi_1": chi_1,
        "chi_c": chi_c,
        "xi_q": _neg_inv_log(q_slope),
        "xi_c": _neg_inv_log(chi_c),
        "xi_grad": _neg_inv_log(chi_1),
        "xi_1": _neg_inv_log(chi_1),
        "xi_star": xi_star,
        "q_iter": q_iter,
        "c_iter": c_iter,
        "q_converged": q_conv,
        "c_converged": c_conv,
    }
    return {k: v.reshape(shape) for k, v in out.items()}


if __name__ == "__main__":  # tiny smoke run
    import time

    t = time.perf_counter()
    r = solve_grid(np.linspace(0.5, 4.0, 20), np.linspace(0.0, 1.0, 20))
    print(f"20 x 20 tanh grid: {time.perf_counter() - t:.2f} s")
    i = np.argmin(np.abs(np.linspace(0.0, 1.0, 20) - 0.05))
    print("q* column sb2~0.05:", np.round(r["q_star"][:, i], 4))
    print("chi_1 column:", np.round(r["chi_1"][:, i], 4))
