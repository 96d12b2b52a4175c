"""Numba kernels of the convolutional NNGP / NTK recursion (CNN-F, CNN-P), in deviation form.

Private: called by ``phasecli.ntk.engines.cnn`` only (docs/theory.md section 10, "Convolutional networks").
An entry is a pair of (image, position) points: image a at position i and image b at
position j = i + s (s the relative shift; CNN-F needs s = 0 only).  It is carried as its
deviation from the two diagonals,

    dK = (K_aa(i, i) + K_bb(j, j)) / 2 - K_ab(i, j) = E[(u_a(i) - u_b(j))^2] / 2 >= 0,

and dTh likewise for the NTK (divided by the reference scale p^l), while every
(image, position) diagonal is carried as r = K_aa(i, i) - q* and pi = Theta_aa(i, i) / p^l - 1.
One layer needs, per entry, the two-point maps for UNEQUAL variances a = q* + r_a(i),
b = q* + r_b(j):

    D  = (T(a, a) + T(b, b)) / 2 - T(a, b, k)            = E[(phi(u1) - phi(u2))^2] / 2
    E  = (Tdot(a, a) + Tdot(b, b)) / 2 - Tdot(a, b, k)   = E[(phi'(u1) - phi'(u2))^2] / 2
    A - B = Tdot(a, a) - Tdot(b, b),   C = Tdot(a, b, k)

and the NTK deviation obeys (P, Q the two NTK diagonals, R = Theta_ab)

    (A P + B Q) / 2 - C R = E (P + Q) / 2 + (A - B)(P - Q) / 4 + C dTh        (exact).

Closed forms (erf, relu, leaky_relu, abs, linear) evaluate D and E without cancellation: they
split into a variance part (a - b enters only through r_a - r_b) and a correlation part at
eps = 1 - c = (dK - (sqrt a - sqrt b)^2 / 2) / sqrt(a b), both sums of non-negative
terms.  Other activations take T and Tdot from the piecewise / nested quadrature of
``phasecli.expectations.kernels`` and D, E by subtraction (an absolute error of a few ulp of T).
The layer is a circular K x K box mean over positions (``nb``: the K^2 neighbours of
each position; ``shift``: j for each (i, s)).
"""

import math

import numpy as np

from phasecli.activations.functions import negative_slope as _negative_slope
from phasecli.expectations.kernels import gauss_moments, pair_expectations
from phasecli.activations import CLOSED_FORM, F_ARCSINE, F_LEAKY, F_LINEAR, F_RELU
from phasecli.runtime.jit import njit, prange
from phasecli.maps.equal_kernels import sin_minus_tcos, theta_of_eps

TWO_OVER_PI = 2.0 / math.pi
FOUR_OVER_PI = 4.0 / math.pi
INV_TWO_PI = 0.5 / math.pi


# ----------------------------------------------------------------------------- diagonal maps
@njit(cache=True)
def _asin_diff(x, y, sx, sy):
    """asin(x) - asin(y) given x - y accurately folded in: sx = sqrt(1 - x^2), sy = sqrt(1 - y^2)."""
    num = (x - y) * (x + y) / (x * sy + y * sx) if x * sy + y * sx != 0.0 else 0.0
    return math.atan2(num, sx * sy + x * y)


@njit(cache=True)
def _diag_closed(code, slope, q, r):
    """(Tq(q + r) - Tq(q), Tdotq(q + r) - Tdotq(q), Tq(q + r), Tdotq(q + r)), Tq(v) = E[phi(sqrt(v) z)^2]."""
    v = q + r
    family = CLOSED_FORM[code]
    if family == F_ARCSINE:
        a1v = 1.0 + 2.0 * v
        a1q = 1.0 + 2.0 * q
        x = 2.0 * v / a1v
        y = 2.0 * q / a1q
        sx = math.sqrt(1.0 + 4.0 * v) / a1v
        sy = math.sqrt(1.0 + 4.0 * q) / a1q
        dxy = 2.0 * r / (a1v * a1q)
        num = dxy * (x + y) / (x * sy + y * sx) if x * sy + y * sx != 0.0 else 0.0
        dt = TWO_OVER_PI * math.atan2(num, sx * sy + x * y)
        rv = math.sqrt(1.0 + 4.0 * v)
        rq = math.sqrt(1.0 + 4.0 * q)
        ddt = FOUR_OVER_PI * (-4.0 * r) / (rv * rq * (rv + rq))
        return dt, ddt, TWO_OVER_PI * math.asin(x), FOUR_OVER_PI / rv
    if family == F_RELU:
        return 0.5 * r, 0.0, 0.5 * v, 0.5
    if family == F_LEAKY:
        a = _negative_slope(code, slope)
        k = 0.5 * (1.0 + a * a)
        return k * r, 0.0, k * v, k
    return r, 0.0, v, 1.0  # linear


@njit(cache=True)
def _diag_maps(method, code, slope, q, r, dq, ddq, tq, tdq):
    """Per (image, position): Tq(v) - Tq(q*), Tdotq(v) - Tdotq(q*), Tq(v), Tdotq(v) at v = q* + r.

    method 0: closed forms (no cancellation); 1: ``gauss_moments`` and subtraction.  Serial: O(images x positions),
    small next to the entries."""
    n, d = r.shape
    t0 = 0.0
    td0 = 0.0
    if method != 0:
        t0, td0, _ = gauss_moments(code, q, slope)
    for a in range(n):
        for i in range(d):
            if method == 0:
                x1, x2, x3, x4 = _diag_closed(code, slope, q, r[a, i])
            else:
                x3, x4, _ = gauss_moments(code, max(q + r[a, i], 0.0), slope)
                x1 = x3 - t0
                x2 = x4 - td0
            dq[a, i] = x1
            ddq[a, i] = x2
            tq[a, i] = x3
            tdq[a, i] = x4


@njit(cache=True)
def _diag_step(nb, sw2_k, sw2, res0, kfac, lp_ratio, r, pi, dq, ddq, tdq):
    """The diagonals one layer on: r' = sw2_k box(Dq) + res0, pi' = r' kfac + (p^l / p^{l+1}) box(sw2 Ddq + sw2 Tdq pi).

    Variances are in units u_l (1, or the moving reference of a homogeneous activation): sw2_k = sw2 u_l / u_{l+1},
    kfac = u_{l+1} / p^{l+1}, lp_ratio = p^l / p^{l+1}; in place."""
    n, d = r.shape
    kk = nb.shape[1]
    wr = np.empty(d)
    wp = np.empty(d)
    for a in range(n):
        for i in range(d):
            wr[i] = dq[a, i]
            wp[i] = sw2 * (ddq[a, i] + tdq[a, i] * pi[a, i])
        for i in range(d):
            s1 = 0.0
            s2 = 0.0
            for t in range(kk):
                s1 += wr[nb[i, t]]
                s2 += wp[nb[i, t]]
            rn = sw2_k * s1 / kk + res0
            r[a, i] = rn
            pi[a, i] = rn * kfac + lp_ratio * s2 / kk


# ----------------------------------------------------------------------------- entry maps
@njit(cache=True)
def _entry_closed(code, slope, a, b, ra, rb, dk):
    """(D, A - B, C, E) for variances a, b (deviations ra, rb from q*) and deviation dk, closed forms."""
    sa = math.sqrt(max(a, 0.0))
    sb = math.sqrt(max(b, 0.0))
    sab = sa * sb
    dsq = (ra - rb) / (sa + sb) if sa + sb > 0.0 else 0.0  # sqrt(a) - sqrt(b)
    if sab > 0.0:
        eps = (dk - 0.5 * dsq * dsq) / sab
        eps = min(max(eps, 0.0), 2.0)
    else:
        eps = 1.0
    omc2 = eps * (2.0 - eps)  # 1 - c^2
    family = CLOSED_FORM[code]
    if family == F_ARCSINE:
        a1a = 1.0 + 2.0 * a
        a1b = 1.0 + 2.0 * b
        # variance part: ((asin x_a - asin g) + (asin x_b - asin g)) / pi, g = sqrt(x_a x_b)
        xa = 2.0 * a / a1a
        xb = 2.0 * b / a1b
        g = math.sqrt(xa * xb)
        sxa = math.sqrt(1.0 + 4.0 * a) / a1a
        sxb = math.sqrt(1.0 + 4.0 * b) / a1b
        om = (1.0 + 2.0 * a + 2.0 * b) / (a1a * a1b)  # 1 - g^2
        sg = math.sqrt(om)
        dx = 2.0 * (ra - rb) / (a1a * a1b)  # x_a - x_b
        den_a = xa * sg + g * sxa
        den_b = xb * sg + g * sxb
        na = xa * dx / den_a if den_a != 0.0 else 0.0  # x_a^2 - g^2 = x_a (x_a - x_b), over den
        nbb = -xb * dx / den_b if den_b != 0.0 else 0.0
        dvar = (math.atan2(na, sxa * sg + xa * g) + math.atan2(nbb, sxb * sg + xb * g)) / math.pi
        # correlation part: (2/pi) (asin g - asin(g c))
        y = g * (1.0 - eps)
        sqy = math.sqrt(om + g * g * omc2)
        num = g * (g * g * omc2 / (sqy + sg) + eps * sg)
        dcor = TWO_OVER_PI * math.atan2(num, sg * sqy + g * y)
        dd = dvar + dcor
        # Tdot: A = (4/pi)/sqrt(1 + 4a), C = (4/pi)/sqrt(A1 + 4ab(1 - c^2)), A1 = 1 + 2a + 2b
        rta = math.sqrt(1.0 + 4.0 * a)
        rtb = math.sqrt(1.0 + 4.0 * b)
        amb = FOUR_OVER_PI * 4.0 * (rb - ra) / (rta * rtb * (rta + rtb))
        a1 = 1.0 + 2.0 * a + 2.0 * b
        ak = a1 + 4.0 * a * b * omc2
        r1 = math.sqrt(a1)
        rk = math.sqrt(ak)
        cc = FOUR_OVER_PI / rk
        ecor = FOUR_OVER_PI * 4.0 * a * b * omc2 / (r1 * rk * (r1 + rk))
        # variance part of E: ((g(a) - g(m)) + (g(b) - g(m))) / 2, m = (a + b)/2, sqrt(1 + 4m) = r1
        ga = FOUR_OVER_PI * 2.0 * (rb - ra) / (rta * r1 * (rta + r1))
        gb = FOUR_OVER_PI * 2.0 * (ra - rb) / (rtb * r1 * (rtb + r1))
        return dd, amb, cc, 0.5 * (ga + gb) + ecor
    if family == F_LINEAR:
        return dk, 0.0, 1.0, 0.0
    th = theta_of_eps(eps)
    drelu = 0.25 * dsq * dsq + sab * INV_TWO_PI * (math.pi * eps - sin_minus_tcos(th))
    if family == F_RELU:
        return drelu, 0.0, (math.pi - th) * INV_TWO_PI, th * INV_TWO_PI
    s = _negative_slope(code, slope)  # leaky_relu, abs: phi = s x + (1 - s) relu(x)
    w = (1.0 - s) * (1.0 - s)
    return s * dk + w * drelu, 0.0, s + w * (math.pi - th) * INV_TWO_PI, w * th * INV_TWO_PI


@njit(cache=True)
def _entry_maps(method, code, kind, slope, q, ra, rb, tqa, tqb, tda, tdb, dk):
    """(D, A - B, C, E, T) of one entry; T = T(a, b, k) itself (used for the test x train block)."""
    a = q + ra
    b = q + rb
    if method == 0:
        dd, amb, cc, ee = _entry_closed(code, slope, a, b, ra, rb, dk)
        return dd, amb, cc, ee, 0.5 * (tqa + tqb) - dd
    k = 0.5 * (a + b) - dk
    t, cc = pair_expectations(code, max(a, 0.0), max(b, 0.0), k, slope, kind)
    dd = max(0.5 * (tqa + tqb) - t, 0.0)
    ee = 0.5 * (tda + tdb) - cc
    return dd, tda - tdb, cc, ee, t


# ----------------------------------------------------------------------------- one layer of entries
@njit(cache=True)
def _pair_layer(p, method, code, kind, slope, q, sw2_k, sw2, kfac, lp_ratio, pa, pb, shift, nb, r, pi, tq, tdq,
                dk, dth, acc, wk, wt):
    """All entries of input pair p one layer on (in place), and its readout sums in acc[p]:
    sum D, sum w_Theta (scaled), sum T, sum C Theta (scaled), over the (shift, position) entries (variances
    in units u_l; see ``_diag_step`` for sw2_k, kfac, lp_ratio)."""
    a = pa[p]
    b = pb[p]
    ns = dk.shape[1]
    d = dk.shape[2]
    kk = nb.shape[1]
    s_d = 0.0
    s_w = 0.0
    s_t = 0.0
    s_ct = 0.0
    for s in range(ns):
        for i in range(d):
            j = shift[i, s]
            if a == b and i == j:
                # same image, same position: the diagonal itself (c = 1 exactly)
                wk[i] = 0.0
                wt[i] = 0.0
                s_t += tq[a, i]
                s_ct += tdq[a, i] * (1.0 + pi[a, i])
                continue
            dd, amb, cc, ee, t = _entry_maps(method, code, kind, slope, q, r[a, i], r[b, j], tq[a, i], tq[b, j],
                                             tdq[a, i], tdq[b, j], dk[p, s, i])
            pp = 1.0 + pi[a, i]
            qq = 1.0 + pi[b, j]
            w = ee * 0.5 * (pp + qq) + 0.25 * amb * (pi[a, i] - pi[b, j]) + cc * dth[p, s, i]
            wk[i] = dd
            wt[i] = w
            s_d += dd
            s_w += w
            s_t += t
            s_ct += cc * (0.5 * (pp + qq) - dth[p, s, i])
        for i in range(d):
            s1 = 0.0
            s2 = 0.0
            for t in range(kk):
                s1 += wk[nb[i, t]]
                s2 += wt[nb[i, t]]
            kn = sw2_k * s1 / kk
            dk[p, s, i] = kn
            dth[p, s, i] = kn * kfac + lp_ratio * sw2 * s2 / kk
    acc[p, 0] = s_d
    acc[p, 1] = s_w
    acc[p, 2] = s_t
    acc[p, 3] = s_ct


@njit(parallel=True, cache=True)
def _entries_layer(method, code, kind, slope, q, sw2_k, sw2, kfac, lp_ratio, pa, pb, shift, nb, r, pi, tq, tdq,
                   dk, dth, acc):
    """One layer on every pair (prange over pairs: each writes its own rows only)."""
    d = dk.shape[2]
    for p in prange(pa.shape[0]):
        wk = np.empty(d)
        wt = np.empty(d)
        _pair_layer(p, method, code, kind, slope, q, sw2_k, sw2, kfac, lp_ratio, pa, pb, shift, nb, r, pi, tq, tdq,
                    dk, dth, acc, wk, wt)


@njit(cache=True)
def _entries_layer_serial(method, code, kind, slope, q, sw2_k, sw2, kfac, lp_ratio, pa, pb, shift, nb, r, pi, tq,
                          tdq, dk, dth, acc):
    """``_entries_layer`` on one thread (small problems: thread launches would dominate)."""
    d = dk.shape[2]
    wk = np.empty(d)
    wt = np.empty(d)
    for p in range(pa.shape[0]):
        _pair_layer(p, method, code, kind, slope, q, sw2_k, sw2, kfac, lp_ratio, pa, pb, shift, nb, r, pi, tq, tdq,
                    dk, dth, acc, wk, wt)


# ----------------------------------------------------------------------------- first layer
@njit(parallel=True, cache=True)
def _first_layer(x, channels, sw2, pa, pb, shift, nb, dk):
    """dK^1 = sw2 box( |x_a(i) - x_b(i + s)|^2 / (2 C) ): the first conv layer's deviations, no cancellation.

    x: (images, positions, channels)."""
    ns = dk.shape[1]
    d = dk.shape[2]
    kk = nb.shape[1]
    for p in prange(pa.shape[0]):
        a = pa[p]
        b = pb[p]
        sq = np.empty(d)
        for s in range(ns):
            for i in range(d):
                j = shift[i, s]
                acc = 0.0
                for c in range(channels):
                    diff = x[a, i, c] - x[b, j, c]
                    acc += diff * diff
                sq[i] = acc / (2.0 * channels)
            for i in range(d):
                tot = 0.0
                for t in range(kk):
                    tot += sq[nb[i, t]]
                dk[p, s, i] = sw2 * tot / kk
