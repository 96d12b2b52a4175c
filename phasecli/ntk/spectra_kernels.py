"""Numba kernels of the eigen-summaries (``phasecli.ntk.spectra``): O(m^2) and O(m) work around one
tridiagonalization.

``spectra`` tridiagonalizes the deflated matrix S0 = Q T Q^T once (LAPACK ``dsytrd``, lower
storage) and then needs only the border vector in the same basis, w = Q^T b
(``householder_apply_lower``), and quadratic forms of shifted tridiagonal inverses,
w^T (+-(T - x))^{-1} w and its derivative (``tridiagonal_quadratic``), to find the smallest
eigenvalue of the bordered matrix and the exact lambda_max correction (docs/theory.md,
"Trainability and generalization metrics").  ``nogil``: the NTK and NNGP summaries of a layer run in two
threads (``phasecli.ntk.ntk_spectra``).
"""

import numpy as np

from phasecli.runtime.jit import njit


@njit(cache=True, nogil=True)
def householder_apply_lower(c, tau, b):
    """w = Q^T b for Q = H(1) ... H(n-1) of ``dsytrd`` with lower storage (H(i) = I - tau_i v v^T,
    v(0:i+1) = 0, v(i+1) = 1, v(i+2:n) = c[i+2:n, i], zero-based)."""
    n = b.shape[0]
    w = b.copy()
    for i in range(n - 1):
        t = tau[i]
        if t == 0.0:
            continue
        s = w[i + 1]
        for k in range(i + 2, n):
            s += c[k, i] * w[k]
        s *= t
        w[i + 1] -= s
        for k in range(i + 2, n):
            w[k] -= s * c[k, i]
    return w


@njit(cache=True, nogil=True)
def tridiagonal_quadratic(d, e, x, sign, w):
    """(ok, w^T y, y^T y) with y = (sign (T - x I))^{-1} w, T = tridiag(e, d, e), sign = +1 or -1.

    LDL^T without pivoting; ok is False when a pivot is not positive, i.e. sign (T - x I) is
    not (numerically) positive definite -- the callers shift below (sign +1) or above (sign -1)
    the spectrum, where it is.
    """
    n = d.shape[0]
    piv = np.empty(n)
    z = np.empty(n)
    p = sign * (d[0] - x)
    if not p > 0.0:
        return False, 0.0, 0.0
    piv[0] = p
    z[0] = w[0]
    for k in range(1, n):
        off = sign * e[k - 1]
        lk = off / piv[k - 1]
        p = sign * (d[k] - x) - lk * off
        if not p > 0.0:
            return False, 0.0, 0.0
        piv[k] = p
        z[k] = w[k] - lk * z[k - 1]
    # back substitution: L^T y = D^{-1} z
    y = np.empty(n)
    y[n - 1] = z[n - 1] / piv[n - 1]
    for k in range(n - 2, -1, -1):
        y[k] = z[k] / piv[k] - (sign * e[k] / piv[k]) * y[k + 1]
    q = 0.0
    yy = 0.0
    for k in range(n):
        q += w[k] * y[k]
        yy += y[k] * y[k]
    return True, q, yy
