"""A faithful numpy re-implementation of neural-tangents' per-depth kernel computation.

neural-tangents builds one ``kernel_fn`` per architecture.  To get the NTK spectrum of
a depth-L erf network for every L = 1..Lmax one builds, for each L separately,

    stax.serial(*[stax.Dense(1, W_std=sqrt(sw2), b_std=sqrt(sb2)), stax.Erf()] * L,
                stax.Dense(1, W_std=sqrt(sw2), b_std=sqrt(sb2)))

(NTK parameterization is the default) and calls ``kernel_fn(X, None, 'ntk')``, which
runs the layer recursion from the inputs up to layer L + 1, then ``eigvalsh``.  The
total work over depths is sum_L (L + 1) = O(Lmax^2 / 2) layer updates, against Lmax
for a single pass.

The layer maps below mirror neural_tangents/_src/stax/linear.py (Dense, NTK
parameterization) and elementwise.py (Erf with a=1, b=1, c=0) operation for operation,
float64 (``jax_enable_x64``), with the default ``diagonal_batch=True`` bookkeeping: a
kernel is (cov1, nngp, ntk) with cov1 the length-m vector of K(x, x), nngp and ntk
m x m; the input kernel is cov1 = |x|^2/d, nngp = X X^T / d, ntk = 0.

    Dense:  cov1, nngp <- sw2 * (.) + sb2;   ntk <- nngp + sw2 * ntk
    Erf:    prod  = outer(1 + 2 cov1, 1 + 2 cov1)
            root  = sqrt(prod - 4 nngp^2)
            nngp  <- 2/pi * arctan2(2 nngp, root)
            ntk   <- ntk * (4/pi) / root
            cov1  <- 2/pi * arctan2(cov1, sqrt(cov1 + 1/4))

The only liberty taken is in-place numpy updates (fewer temporaries), which favours the
baseline; XLA's fusion under ``jit`` would do the same.  The eigenvalues are computed
with the same LAPACK driver phasecli uses (``scipy.linalg.eigvalsh(driver='evr')``), so
that the ratio measures the kernel computation, not a choice of eigensolver (numpy's
``eigvalsh`` uses syevd, which is several times slower on a busy machine).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import eigvalsh

TWO_OVER_PI = 2.0 / math.pi


def input_kernel(X):
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    nngp = X @ X.T / d
    cov1 = np.einsum("ij,ij->i", X, X) / d
    ntk = np.zeros_like(nngp)
    return cov1, nngp, ntk


def dense(k, sw2, sb2):
    cov1, nngp, ntk = k
    cov1 = sw2 * cov1 + sb2
    nngp = sw2 * nngp
    nngp += sb2
    ntk *= sw2
    ntk += nngp
    return cov1, nngp, ntk


def erf_layer(k):
    cov1, nngp, ntk = k
    denom = 1.0 + 2.0 * cov1
    root = np.multiply.outer(denom, denom)
    root -= 4.0 * nngp * nngp
    np.sqrt(root, out=root)
    nngp = TWO_OVER_PI * np.arctan2(2.0 * nngp, root)
    ntk *= (2.0 * TWO_OVER_PI) / root
    cov1 = TWO_OVER_PI * np.arctan2(cov1, np.sqrt(cov1 + 0.25))
    return cov1, nngp, ntk


def kernel_fn(X, depth, sw2, sb2):
    """(nngp, ntk) of the depth-``depth`` erf network, recursion from the inputs (one stax.serial)."""
    k = input_kernel(X)
    for _ in range(depth):
        k = dense(k, sw2, sb2)
        k = erf_layer(k)
    k = dense(k, sw2, sb2)  # readout
    return k[1], k[2]


def spectra_per_depth(X, sw2, sb2, depths, nngp=True):
    """For each depth separately: build/run the kernel function, then eigvalsh of the NTK
    (and of the NNGP when ``nngp``, as phasecli's ``ntk_spectra`` reports both spectra).

    Returns (depths, lambda_max, lambda_min, kappa) of the NTK; with ``nngp`` also the
    NNGP's (lambda_max, lambda_min) as a fifth item.
    """
    depths = np.asarray(list(depths), dtype=int)
    lmax = np.empty(len(depths))
    lmin = np.empty(len(depths))
    nmax = np.full(len(depths), np.nan)
    nmin = np.full(len(depths), np.nan)
    for i, L in enumerate(depths):
        k, ntk = kernel_fn(X, int(L), sw2, sb2)
        ev = eigvalsh(ntk, overwrite_a=True, check_finite=False, driver="evr")
        lmax[i], lmin[i] = ev[-1], ev[0]
        if nngp:
            ev = eigvalsh(k, overwrite_a=True, check_finite=False, driver="evr")
            nmax[i], nmin[i] = ev[-1], ev[0]
    out = (depths, lmax, lmin, lmax / lmin)
    return out + ((nmax, nmin),) if nngp else out
