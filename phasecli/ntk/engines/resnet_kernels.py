"""Numba kernels of the residual-network recursion: (T, Tdot) on every pair of a covariance block.

Private: called by ``phasecli.ntk.engines.resnet`` only (docs/theory.md, "Residual networks and
LayerNorm").  Each entry is one call of ``phasecli.expectations.kernels.pair_expectations`` (closed forms
for erf, relu, leaky_relu, abs, linear; the piecewise quadrature; the nested quadrature for smooth
activations) on the 2x2 covariance of the pair.
"""

import numpy as np

from phasecli.expectations.kernels import pair_expectations
from phasecli.runtime.jit import njit, prange


def _row_sym(i, code, kind, slope, k, t_out, tdot_out):
    n = k.shape[0]
    for j in range(i, n):
        a, b = pair_expectations(code, k[i, i], k[j, j], k[i, j], slope, kind)
        t_out[i, j] = a
        tdot_out[i, j] = b
        t_out[j, i] = a
        tdot_out[j, i] = b


_row_sym_jit = njit(cache=True)(_row_sym)


@njit(parallel=True, cache=True)
def pairs_sym(code, kind, slope, k, t_out, tdot_out):
    """(T, Tdot) on every pair of the symmetric covariance block k (its own diagonal), rows t and n-1-t
    together so that the triangle's work is balanced across threads."""
    n = k.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _row_sym_jit(i, code, kind, slope, k, t_out, tdot_out)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _row_sym_jit(i2, code, kind, slope, k, t_out, tdot_out)


@njit(cache=True)
def pairs_sym_serial(code, kind, slope, k, t_out, tdot_out):
    """``pairs_sym`` on one thread (small blocks: a parallel launch costs more than the work)."""
    for i in range(k.shape[0]):
        _row_sym_jit(i, code, kind, slope, k, t_out, tdot_out)


def _rect(code, kind, slope, k, diag_rows, diag_cols, t_out, tdot_out):
    n1, n2 = k.shape
    for i in prange(n1):
        for j in range(n2):
            a, b = pair_expectations(code, diag_rows[i], diag_cols[j], k[i, j], slope, kind)
            t_out[i, j] = a
            tdot_out[i, j] = b


# (T, Tdot) on every entry of a rectangular block k (rows' and columns' variances given); serial: small blocks
pairs_rect = njit(parallel=True, cache=True)(_rect)
pairs_rect_serial = njit(cache=True)(_rect)


@njit(cache=True)
def self_pairs(code, kind, slope, s, t_out, tdot_out):
    """(T, Tdot) of each variance with itself: E[phi(u)^2], E[phi'(u)^2] for u ~ N(0, s_i)."""
    for i in range(s.shape[0]):
        a, b = pair_expectations(code, s[i], s[i], s[i], slope, kind)
        t_out[i] = a
        tdot_out[i] = b
