"""Numba kernels of the fully connected NNGP / NTK depth recursion over all input pairs.

Private: called by ``phasecli.ntk.engines.fc`` only (docs/theory.md, "NNGP and NTK on a data
set").  Normalized inputs: one layer updates, per pair, eps = 1 - K_ab / q*, the NTK
ratio Theta_ab / p and its deviation Delta_ab = (p - Theta_ab) / p from the two-point
maps of ``phasecli.maps.equal_kernels``.  Data as given: (T, Tdot) per pair for a general
2x2 covariance (closed forms, or the piecewise quadrature of ``phasecli.expectations.kernels``).
"""

import numpy as np

from phasecli.expectations.kernels import pair_expectations
from phasecli.runtime.jit import njit, prange
from phasecli.maps import unequal_kernels as RK
from phasecli.maps.equal_kernels import M_CLOSED, closed_norm, table_norm

# ----------------------------------------------------------------------------- normalized layer
@njit(cache=True)
def _norm_update(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, e, th, dl):
    if method == M_CLOSED:
        t, tdot, d, ee = closed_norm(code, q, slope, e)
    else:
        t, tdot, d, ee = table_norm(bps, cd, c2, mode2, t1, td1, e)
    en = sw2 * d / q
    if en > 2.0:
        en = 2.0
    kn = q - q * en
    th_new = (kn * inv_p + sw2 * tdot * th) / rho
    dl_new = (q * en * inv_p + sw2 * (ee + tdot * dl)) / rho
    return en, th_new, dl_new


@njit(cache=True)
def _norm_row_sym(i, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl):
    n = eps.shape[0]
    for j in range(i + 1, n):
        en, tn, dn = _norm_update(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho,
                                  eps[i, j], th[i, j], dl[i, j])
        eps[i, j] = en
        th[i, j] = tn
        dl[i, j] = dn


@njit(parallel=True, cache=True)
def _mirror_upper(a, b, c):
    """Copy the strict upper triangles of three square arrays to their lower triangles (blocked)."""
    n = a.shape[0]
    bs = 64
    nb = (n + bs - 1) // bs
    for bi in prange(nb):
        i0 = bi * bs
        i1 = min(n, i0 + bs)
        for bj in range(bi, nb):
            j0 = bj * bs
            j1 = min(n, j0 + bs)
            for i in range(i0, i1):
                for j in range(max(j0, i + 1), j1):
                    a[j, i] = a[i, j]
                    b[j, i] = b[i, j]
                    c[j, i] = c[i, j]


@njit(cache=True)
def _mirror_upper_serial(a, b, c):
    """``_mirror_upper`` on one thread (small matrices: a parallel launch would cost more than the copy)."""
    n = a.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            a[j, i] = a[i, j]
            b[j, i] = b[i, j]
            c[j, i] = c[i, j]


@njit(parallel=True, cache=True)
def _norm_layer_sym(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl):
    """One layer on the symmetric train block: the strict upper triangle only (the lower
    one is stale until ``_mirror_upper``; the update of a pair reads that pair alone).

    Rows t and n-1-t are handled by the same iteration so that the triangular work is
    balanced across threads.
    """
    n = eps.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _norm_row_sym(i, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _norm_row_sym(i2, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl)


@njit(cache=True)
def _norm_layer_sym_serial(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl):
    """``_norm_layer_sym`` on one thread: small problems (thread launches would dominate)."""
    n = eps.shape[0]
    for i in range(n):
        _norm_row_sym(i, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl)


@njit(cache=True)
def _norm_row_rect(i, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl):
    """One layer update of row i of a rectangular (test x train) block."""
    for j in range(eps.shape[1]):
        en, tn, dn = _norm_update(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho,
                                  eps[i, j], th[i, j], dl[i, j])
        eps[i, j] = en
        th[i, j] = tn
        dl[i, j] = dn


@njit(cache=True)
def _norm_layer_rect_serial(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl):
    for i in range(eps.shape[0]):
        _norm_row_rect(i, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl)


@njit(parallel=True, cache=True)
def _norm_layer_rect(method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl):
    """One layer on a rectangular (test x train) block."""
    for i in prange(eps.shape[0]):
        _norm_row_rect(i, method, code, q, slope, t1, td1, bps, cd, c2, mode2, sw2, inv_p, rho, eps, th, dl)



# ----------------------------------------------------------------------------- data as given
@njit(cache=True)
def _raw_row_sym(i, code, kind, slope, k, diag, t_out, tdot_out):
    n = k.shape[0]
    for j in range(i, n):
        a, b = pair_expectations(code, diag[i], diag[j], k[i, j], slope, kind)
        t_out[i, j] = a
        tdot_out[i, j] = b
        t_out[j, i] = a
        tdot_out[j, i] = b


@njit(parallel=True, cache=True)
def _raw_pairs_sym(code, kind, slope, k, diag, t_out, tdot_out):
    """(T, Tdot) on every pair of a symmetric covariance block (diag: its diagonal)."""
    n = k.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _raw_row_sym(i, code, kind, slope, k, diag, t_out, tdot_out)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _raw_row_sym(i2, code, kind, slope, k, diag, t_out, tdot_out)


@njit(cache=True)
def _raw_pairs_sym_serial(code, kind, slope, k, diag, t_out, tdot_out):
    for i in range(k.shape[0]):
        _raw_row_sym(i, code, kind, slope, k, diag, t_out, tdot_out)


@njit(parallel=True, cache=True)
def _raw_pairs_rect(code, kind, slope, k, diag_rows, diag_cols, t_out, tdot_out):
    n1, n2 = k.shape
    for i in prange(n1):
        for j in range(n2):
            a, b = pair_expectations(code, diag_rows[i], diag_cols[j], k[i, j], slope, kind)
            t_out[i, j] = a
            tdot_out[i, j] = b


# ----------------------------------------------------------------------------- data as given, erf
TILE = 64  # the pairs of a 64 x 64 tile are updated, then mirrored while they are in cache


@njit(cache=True)
def _erf_dev_tile(i0, i1, j0, j1, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm):
    """The upper-triangle pairs (i, j > i) of one tile: ``unequal_kernels``'s erf maps and layer update (the same
    functions and operations as its general ``dev_layer_sym``, so the same numbers), then their mirrors."""
    for i in range(i0, i1):
        ra = rows[i]
        for j in range(max(j0, i + 1), j1):
            rb = rows[j]
            ds = dsm[i, j]
            e = eps[i, j]
            dt, et, td, edt, eet, dv, dw = RK.dev_erf_rows(ra, rb, ds, e)
            en, dn, een, edn, ds1, dp1 = RK.dev_update(dt, et, td, edt, eet, e, dl[i, j], ee[i, j], ed[i, j], dv,
                                                        dw, ds, dpm[i, j], True, ra, rb, sw2, sb2e, g, rel)
            dsm[i, j] = ds1
            dpm[i, j] = dp1
            eps[i, j] = en
            dl[i, j] = dn
            ee[i, j] = een
            ed[i, j] = edn
    RK.mirror_tile(i0, i1, j0, j1, eps, dl, ee, ed, dsm, dpm)


@njit(parallel=True, cache=True)
def erf_dev_layer_sym(sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm):
    """``unequal_kernels.dev_layer_sym`` + ``mirror_dev`` for erf (closed form): no per-pair dispatch on the
    mode and activation, and each tile mirrored as soon as it is done (no second pass over the six arrays).

    Tile rows b and nb-1-b share an iteration so that the triangular work is balanced across threads.
    """
    n = eps.shape[0]
    nb = (n + TILE - 1) // TILE
    half = (nb + 1) // 2
    for t in prange(half):
        b = np.int64(t)
        for k in range(2):
            bi = b if k == 0 else np.int64(nb - 1) - b
            if k == 1 and bi == b:
                continue
            i0 = bi * TILE
            i1 = min(n, i0 + TILE)
            for bj in range(bi, nb):
                _erf_dev_tile(i0, i1, bj * TILE, min(n, bj * TILE + TILE), sw2, sb2e, g, rel, rows, eps, dl, ee, ed,
                              dsm, dpm)


@njit(parallel=True, cache=True)
def _squared_distances(a, b, out):
    for i in prange(a.shape[0]):
        for j in range(b.shape[0]):
            s = 0.0
            for k in range(a.shape[1]):
                t = a[i, k] - b[j, k]
                s += t * t
            out[i, j] = s


def squared_distances(a, b):
    """|a_i - b_j|^2 for every row pair, from the exact differences (no cancellation for nearby rows; the
    same value for (i, j) and (j, i), 0 for equal rows): scipy's cdist 'sqeuclidean' without importing
    scipy.spatial (0.1-0.3 s of every command's start)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = a if b is None else np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty((a.shape[0], b.shape[0]))
    _squared_distances(a, b, out)
    return out
