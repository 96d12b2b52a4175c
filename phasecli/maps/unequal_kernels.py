"""Numba kernels: two-point deviation maps at UNEQUAL variances, and the data-as-given layer update.

docs/theory.md section 11 derives every formula; section 4, "NNGP and NTK on a
data set", defines T and Tdot.  Reusable read-only by other recursions (e.g. kernels on
images as given, whose per-position variances differ).  Conventions: (u1, u2) ~
N(0, [[s1, c sqrt(s1 s2)], [c sqrt(s1 s2), s2]]), eps = 1 - c in [0, 2], and

    V(s) = E[phi(sqrt(s) z)^2],   W(s) = E[phi'(sqrt(s) z)^2]              (one row)
    dt   = sqrt(V(s1) V(s2)) - T(s1, s2, c)     >= 0  (Cauchy-Schwarz)     (one pair)
    et   = sqrt(W(s1) W(s2)) - Tdot(s1, s2, c)  >= 0

dt and et are the numerators of the pair's deviations from the diagonal after one layer;
they are evaluated without forming the difference of two O(1) numbers: exactly zero at
s1 = s2, eps = 0, with full relative accuracy in eps, and an absolute error of order
ulp * |s1 - s2| in the part that comes from the variance mismatch.  Every map returns
absolute error bounds next to its values.

API (all ``@njit``; scalars unless said otherwise)
--------------------------------------------------
``_diag_closed(code, slope, s) -> (V, W)``, ``_diag_piecewise(code, slope, s) -> (V, W)``
``_dev_closed(code, slope, s1, s2, eps) -> (dt, et, tdot, err_dt, err_et)``: erf, relu,
    leaky_relu, linear in closed form (full relative accuracy); ``_dev_closed_ds`` takes s1 - s2 too.
``_diag_diff_closed(code, slope, s1, s2, ds) -> (V1 - V2, W1 - W2)``: divided differences.
``_dev_piecewise(code, slope, s1, s2, eps, V1, V2, W1, W2) -> (same)``: elu, selu,
    hard_tanh from the piecewise quadrature of ``phasecli.expectations.kernels`` (V, W from
    ``_diag_piecewise``); a plain difference, so err_dt carries an absolute floor
    PIECEWISE_ERR * sqrt(V1 V2) (likewise err_et).
``dev_update(...)``: one layer of (eps, Delta) for one pair from (dt, et, tdot), see there.
``diag_rows[_serial]``, ``dev_pairs``, ``dev_layer_sym[_serial]``, ``dev_layer_rect``: loops over rows / pairs;
``mismatch_sym``, ``mismatch_rect``: sums of squared coefficient differences for the
    angular expansion of smooth activations (``phasecli.ntk.engines.fc.RawEngine``).
"""

import math

import numpy as np

from phasecli.activations.functions import activation_kind as _activation_kind, dphi as _dphi, phi as _phi
from phasecli.expectations.kernels import means, quadrature_pair
from phasecli.activations import CLOSED_FORM, F_ARCSINE, F_LINEAR
from phasecli.runtime.jit import njit, prange
from phasecli.maps.equal_kernels import closed_norm

EPS = 2.220446049250313e-16
TWO_OVER_PI = 2.0 / math.pi
FOUR_OVER_PI = 4.0 / math.pi
PIECEWISE_ERR = 1e-13  # absolute error of the piecewise quadrature, relative to sqrt(V1 V2)
NESTED_ERR = 1e-12  # the same for the nested quadrature of a kinked expression

MODE_CLOSED = 0  # (dt, et, tdot) in closed form inside the layer loop
MODE_PIECEWISE = 1  # from the piecewise quadrature inside the layer loop
MODE_ARRAYS = 2  # precomputed per pair (smooth activations: angular expansion)

# columns of the per-row table the layer kernels read
R_S = 0  # variance s (K units of the layer)
R_V = 1  # V(s)
R_W = 2  # W(s)
R_SQV = 3  # sqrt(V)
R_SQS1 = 4  # sqrt of the next variance sw2 V + sb2
R_X = 5  # sqrt(g (sw2 V + sb2)): the NNGP part of the next NTK diagonal, NTK units
R_Y = 6  # sqrt(sw2 W P): the propagated part of the next NTK diagonal
R_SQP = 7  # sqrt(P), P the NTK diagonal
R_SQP1 = 8  # sqrt of the next NTK diagonal
R_S1 = 9  # the next variance sw2 V + sb2 (K units of the layer)
R_P = 10  # P
# erf only (``erf_row_columns``): the per-row parts of the pair maps, so that a pair costs one asin
R_A = 11  # 1 + 2 s
R_AL = 12  # alpha = 2 s / (1 + 2 s)
R_ASIN = 13  # asin(alpha)
R_SQOMA = 14  # sqrt(1 - alpha^2) = sqrt(1 + 4 s) / (1 + 2 s), as sqrt((1 + 4 s) / (1 + 2 s)^2)
R_SQ4 = 15  # sqrt(1 + 4 s)
N_COLS = 16


# ----------------------------------------------------------------------------- one row
@njit(cache=True)
def _diag_closed(code, slope, s):
    """(V, W) at variance s >= 0 for erf, relu, leaky_relu, abs, linear."""
    if CLOSED_FORM[code] == F_ARCSINE:
        return TWO_OVER_PI * math.asin(2.0 * s / (1.0 + 2.0 * s)), FOUR_OVER_PI / math.sqrt(1.0 + 4.0 * s)
    if CLOSED_FORM[code] == F_LINEAR:
        return s, 1.0
    t, tdot, d, e = closed_norm(code, 1.0, slope, 0.0)
    return s * t, tdot


@njit(cache=True)
def _diag_diff_closed(code, slope, s1, s2, ds):
    """(V(s1) - V(s2), W(s1) - W(s2)) as divided differences from ds = s1 - s2 (closed forms: no cancellation)."""
    if CLOSED_FORM[code] == F_ARCSINE:
        a1 = 1.0 + 2.0 * s1
        a2 = 1.0 + 2.0 * s2
        al1 = 2.0 * s1 / a1
        al2 = 2.0 * s2 / a2
        dal = 2.0 * ds / (a1 * a2)
        dv = _asin_diff(al1, al2, (1.0 + 4.0 * s1) / (a1 * a1), (1.0 + 4.0 * s2) / (a2 * a2), (al1 + al2) * dal)
        q1 = math.sqrt(1.0 + 4.0 * s1)
        q2 = math.sqrt(1.0 + 4.0 * s2)
        return TWO_OVER_PI * dv, -FOUR_OVER_PI * 4.0 * ds / (q1 * q2 * (q1 + q2))
    if CLOSED_FORM[code] == F_LINEAR:
        return ds, 0.0
    t, tdot, d, e = closed_norm(code, 1.0, slope, 0.0)
    return t * ds, 0.0


@njit(cache=True)
def _diag_piecewise(code, slope, s):
    """(V, W) at variance s >= 0 for elu, selu, hard_tanh and kinked expressions: the quadrature ``_dev_piecewise``
    uses at eps = 0."""
    if s <= 0.0:
        p0 = _phi(code, 0.0, slope)
        d0 = _dphi(code, 0.0, slope)
        return p0 * p0, d0 * d0
    n = math.sqrt(s)
    return quadrature_pair(code, n, n, 0.0, slope)


# ----------------------------------------------------------------------------- one pair
@njit(cache=True)
def _asin_diff(u, v, om_u, om_v, u2_minus_v2):
    """asin(u) - asin(v) for u, v in [0, 1], given 1 - u^2, 1 - v^2 and u^2 - v^2 accurately."""
    su = math.sqrt(om_u)
    sv = math.sqrt(om_v)
    den_num = u * sv + v * su
    if den_num <= 0.0:
        return 0.0
    return math.atan2(u2_minus_v2 / den_num, su * sv + u * v)


@njit(cache=True)
def _dev_erf(s1, s2, ds, eps):
    """Unequal-variance deviation maps of erf (arcsine kernel), see the module docstring.

    alpha_i = 2 s_i / (1 + 2 s_i), V_i = (2/pi) asin(alpha_i), g = sqrt(alpha_1 alpha_2),
    T = (2/pi) asin(c g):  dt = (2/pi) [(sqrt(y1 y2) - y_g) + (asin(g) - asin(c g))], y = asin(.),
    the first bracket from y1 y2 - y_g^2 = d1 d2 + y_g (d1 + d2), d_i = y_i - y_g.
    Tdot = (4/pi) / sqrt(Q), Q = 1 + 2 s1 + 2 s2 + 4 s1 s2 (1 - c^2), W_i = (4/pi) / sqrt(1 + 4 s_i):
    et = (4/pi) (Q - sqrt(Q1 Q2)) / ((sqrt(Q) + (Q1 Q2)^(1/4)) (Q1 Q2)^(1/4) sqrt(Q)) with
    Q - sqrt(Q1 Q2) = 4 (s1 - s2)^2 / (1 + 2 s1 + 2 s2 + sqrt(Q1 Q2)) + 4 s1 s2 (1 - c^2) (all terms >= 0);
    ds = s1 - s2 given (tracked accurately by the caller).
    """
    a1 = 1.0 + 2.0 * s1
    a2 = 1.0 + 2.0 * s2
    al1 = 2.0 * s1 / a1
    al2 = 2.0 * s2 / a2
    g = math.sqrt(al1 * al2)
    p12 = a1 * a2
    om_g = (1.0 + 2.0 * s1 + 2.0 * s2) / p12  # 1 - g^2
    dal = 2.0 * ds / p12  # al1 - al2
    y1 = math.asin(al1)
    y2 = math.asin(al2)
    yg = math.asin(g)
    d1 = _asin_diff(al1, g, (1.0 + 4.0 * s1) / (a1 * a1), om_g, al1 * dal)
    d2 = _asin_diff(al2, g, (1.0 + 4.0 * s2) / (a2 * a2), om_g, -al2 * dal)
    sq12 = math.sqrt(y1 * y2)
    mis = 0.0
    err_mis = 0.0
    if sq12 + yg > 0.0:
        num = d1 * d2 + yg * (d1 + d2)
        if num < 0.0:
            num = 0.0
        mis = num / (sq12 + yg)
        err_mis = 4.0 * EPS * yg * (abs(d1) + abs(d2)) / (sq12 + yg)
    one_m_c2 = eps * (2.0 - eps)
    y = g * (1.0 - eps)
    sq1 = math.sqrt(om_g)
    sqy = math.sqrt(om_g + g * g * one_m_c2)
    ang = math.atan2(g * (g * g * one_m_c2 / (sqy + sq1) + eps * sq1), sq1 * sqy + g * y)
    dt = TWO_OVER_PI * (mis + ang)
    q = 1.0 + 2.0 * s1 + 2.0 * s2 + 4.0 * s1 * s2 * one_m_c2
    r = math.sqrt((1.0 + 4.0 * s1) * (1.0 + 4.0 * s2))
    qm = 4.0 * ds * ds / (1.0 + 2.0 * s1 + 2.0 * s2 + r) + 4.0 * s1 * s2 * one_m_c2
    sq = math.sqrt(q)
    q4 = math.sqrt(r)
    et = FOUR_OVER_PI * qm / ((sq + q4) * q4 * sq)
    return dt, et, FOUR_OVER_PI / sq, TWO_OVER_PI * err_mis + 16.0 * EPS * dt, 16.0 * EPS * et


@njit(cache=True)
def _asin_diff_sq(u, v, su, sv, u2_minus_v2):
    """``_asin_diff`` given su = sqrt(1 - u^2), sv = sqrt(1 - v^2)."""
    den_num = u * sv + v * su
    if den_num <= 0.0:
        return 0.0
    return math.atan2(u2_minus_v2 / den_num, su * sv + u * v)


@njit(cache=True)
def erf_row_columns(rows):
    """Fill the erf columns R_A ... R_SQ4 of the row table from R_S (see ``dev_erf_rows``)."""
    for i in range(rows.shape[0]):
        s = rows[i, R_S]
        a = 1.0 + 2.0 * s
        al = 2.0 * s / a
        rows[i, R_A] = a
        rows[i, R_AL] = al
        rows[i, R_ASIN] = math.asin(al)
        rows[i, R_SQOMA] = math.sqrt((1.0 + 4.0 * s) / (a * a))
        rows[i, R_SQ4] = math.sqrt(1.0 + 4.0 * s)


@njit(cache=True)
def dev_erf_rows(ra, rb, ds, eps):
    """``_dev_erf`` (same operations, same rounding) with the per-row parts read from the row table,
    plus the divided differences of ``_diag_diff_closed``:
    (dt, et, tdot, err_dt, err_et, V_a - V_b, W_a - W_b).

    V_a - V_b = (2/pi) (asin(alpha_a) - asin(alpha_b)) = (2/pi) (d1 - d2) with d_i = asin(alpha_i) - asin(g):
    alpha_a and alpha_b lie on either side of their geometric mean g, so d1 and d2 have opposite
    signs and the difference has full relative accuracy (no extra arcsine).
    """
    if eps < 0.0:
        eps = 0.0
    if eps > 2.0:
        eps = 2.0
    s1 = ra[R_S]
    s2 = rb[R_S]
    a1 = ra[R_A]
    a2 = rb[R_A]
    al1 = ra[R_AL]
    al2 = rb[R_AL]
    g = math.sqrt(al1 * al2)
    p12 = a1 * a2
    om_g = (1.0 + 2.0 * s1 + 2.0 * s2) / p12  # 1 - g^2
    dal = 2.0 * ds / p12  # al1 - al2
    y1 = ra[R_ASIN]
    y2 = rb[R_ASIN]
    yg = math.asin(g)
    sq1 = math.sqrt(om_g)
    d1 = _asin_diff_sq(al1, g, ra[R_SQOMA], sq1, al1 * dal)
    d2 = _asin_diff_sq(al2, g, rb[R_SQOMA], sq1, -al2 * dal)
    sq12 = math.sqrt(y1 * y2)
    mis = 0.0
    err_mis = 0.0
    if sq12 + yg > 0.0:
        num = d1 * d2 + yg * (d1 + d2)
        if num < 0.0:
            num = 0.0
        mis = num / (sq12 + yg)
        err_mis = 4.0 * EPS * yg * (abs(d1) + abs(d2)) / (sq12 + yg)
    one_m_c2 = eps * (2.0 - eps)
    y = g * (1.0 - eps)
    sqy = math.sqrt(om_g + g * g * one_m_c2)
    ang = math.atan2(g * (g * g * one_m_c2 / (sqy + sq1) + eps * sq1), sq1 * sqy + g * y)
    dt = TWO_OVER_PI * (mis + ang)
    q = 1.0 + 2.0 * s1 + 2.0 * s2 + 4.0 * s1 * s2 * one_m_c2
    q1 = ra[R_SQ4]
    q2 = rb[R_SQ4]
    r = math.sqrt((1.0 + 4.0 * s1) * (1.0 + 4.0 * s2))
    qm = 4.0 * ds * ds / (1.0 + 2.0 * s1 + 2.0 * s2 + r) + 4.0 * s1 * s2 * one_m_c2
    sq = math.sqrt(q)
    q4 = math.sqrt(r)
    et = FOUR_OVER_PI * qm / ((sq + q4) * q4 * sq)
    dv = TWO_OVER_PI * (d1 - d2)
    dw = -FOUR_OVER_PI * 4.0 * ds / (q1 * q2 * (q1 + q2))
    return dt, et, FOUR_OVER_PI / sq, TWO_OVER_PI * err_mis + 16.0 * EPS * dt, 16.0 * EPS * et, dv, dw


@njit(cache=True)
def _dev_closed(code, slope, s1, s2, eps):
    """``_dev_closed_ds`` with ds = s1 - s2 from the variances."""
    return _dev_closed_ds(code, slope, s1, s2, s1 - s2, eps)


@njit(cache=True)
def _dev_closed_ds(code, slope, s1, s2, ds, eps):
    """(dt, et, tdot, err_dt, err_et) for erf, relu, leaky_relu, abs, linear; s1, s2 >= 0, ds = s1 - s2, eps in [0, 2].

    relu / leaky_relu / linear are positively homogeneous: T(s1, s2, c) = sqrt(s1 s2) T(1, 1, c)
    and Tdot does not depend on the variances, so dt = sqrt(s1 s2) D(eps), et = E(eps) with the
    unit-variance maps of ``phasecli.maps.equal_kernels.closed_norm`` (no mismatch term).
    """
    if eps < 0.0:
        eps = 0.0
    if eps > 2.0:
        eps = 2.0
    if CLOSED_FORM[code] == F_ARCSINE:
        return _dev_erf(s1, s2, ds, eps)
    t, tdot, d, e = closed_norm(code, 1.0, slope, eps)
    dt = math.sqrt(s1) * math.sqrt(s2) * d
    return dt, e, tdot, 8.0 * EPS * dt, 8.0 * EPS * e


@njit(cache=True)
def _dev_piecewise(code, slope, s1, s2, eps, v1, v2, w1, w2):
    """(dt, et, tdot, err_dt, err_et) for elu, selu, hard_tanh and kinked expressions (V, W from ``_diag_piecewise``).

    T, Tdot from ``quadrature_pair`` with the conditional width sqrt(s2) sqrt(eps (2 - eps))
    taken from eps directly; dt = sqrt(V1 V2) - T is then exactly 0 at s1 = s2, eps = 0 but
    otherwise carries the quadrature's absolute error (PIECEWISE_ERR * sqrt(V1 V2)).
    """
    if eps < 0.0:
        eps = 0.0
    if eps > 2.0:
        eps = 2.0
    if s1 <= 0.0 or s2 <= 0.0:
        p0 = _phi(code, 0.0, slope)
        d0 = _dphi(code, 0.0, slope)
        if s1 <= 0.0 and s2 <= 0.0:
            t, tdot = p0 * p0, d0 * d0
        else:
            m, md = means(code, max(s1, s2), slope)
            t, tdot = p0 * m, d0 * md
    else:
        n1 = math.sqrt(s1)
        n2 = math.sqrt(s2)
        t, tdot = quadrature_pair(code, n1, n2 * (1.0 - eps), n2 * math.sqrt(eps * (2.0 - eps)), slope)
    sv = math.sqrt(v1 * v2)
    sw = math.sqrt(w1 * w2)
    dt = sv - t
    et = sw - tdot
    floor = NESTED_ERR if _activation_kind(code) == 3 else PIECEWISE_ERR
    return max(dt, 0.0), max(et, 0.0), tdot, floor * sv + 4.0 * EPS * abs(dt), floor * sw + 4.0 * EPS * abs(et)


@njit(cache=True)
def dev_update(dt, et, tdot, edt, eet, eps, dl, ee, ed, dv, dw, ds, dp, exact, ra, rb, sw2, sb2e, g, rel):
    """One layer of one pair: (eps', Delta', err_eps', err_Delta', ds', dp') from the maps (dt, et, tdot).

    ra, rb: the rows' table entries (``R_*`` columns); dv, dw = V_a - V_b, W_a - W_b; ds, dp = s_a - s_b,
    P_a - P_b (exact: these are divided differences, not differences of rounded values).  With
    s' = sw2 V + sb2e and P' = g s' + sw2 W P (NTK diagonal; g converts K units to NTK units):

        sqrt(s'a s'b) - K'ab = sb2e sw2 (sqrt Va - sqrt Vb)^2 / (sqrt(s'a s'b) + sw2 sqrt(Va Vb) + sb2e) + sw2 dt
        sqrt(P'a P'b) - Th'ab = (Xa Yb - Xb Ya)^2 / (sqrt(P'a P'b) + Xa Xb + Ya Yb)
                                + g (sqrt(s'a s'b) - K'ab) + sw2 sqrt(Pa Pb) (et + tdot Delta)

    (X = sqrt(g s'), Y = sqrt(sw2 W P); sqrt Va - sqrt Vb = dv / (sqrt Va + sqrt Vb) and
    Xa^2 Yb^2 - Xb^2 Ya^2 = g sw2 (ds' Wb Pb - s'b (Wa dp + Pb dw)), ds' = sw2 dv); eps' and Delta'
    are these over sqrt(s'a s'b) and sqrt(P'a P'b).  Errors: ``rel`` per value (the maps and rounding),
    for inexact differences ulp * |value| of each, the maps' own errors, and the incoming errors
    propagated (Price's theorem: d(sw2 dt)/d eps = sw2 sqrt(sa sb) tdot; d et / d eps <= et / eps).
    """
    sqv_a = ra[R_SQV]
    sqv_b = rb[R_SQV]
    ss1 = ra[R_SQS1] * rb[R_SQS1]
    den_k = ss1 + sw2 * sqv_a * sqv_b + sb2e
    mis_k = 0.0
    err_mis_k = 0.0
    if den_k > 0.0 and sqv_a + sqv_b > 0.0:
        d_sqv = dv / (sqv_a + sqv_b)
        mis_k = sb2e * sw2 * d_sqv * d_sqv / den_k
        err_mis_k = rel * mis_k if exact else 4.0 * EPS * sb2e * sw2 * abs(d_sqv) * (sqv_a + sqv_b) / den_k
    nk = mis_k + sw2 * dt
    err_nk = rel * nk + err_mis_k + sw2 * edt + sw2 * math.sqrt(ra[R_S]) * math.sqrt(rb[R_S]) * abs(tdot) * ee
    if ss1 > 0.0:
        en = nk / ss1
        een = err_nk / ss1
    else:
        en = 1.0
        een = 0.0
    if en > 2.0:
        en = 2.0
    xa = ra[R_X]
    xb = rb[R_X]
    ya = ra[R_Y]
    yb = rb[R_Y]
    pp1 = ra[R_SQP1] * rb[R_SQP1]
    ds1 = sw2 * dv
    dp1 = g * ds1 + sw2 * (ra[R_W] * dp + rb[R_P] * dw)
    den_t = pp1 + xa * xb + ya * yb
    mis_t = 0.0
    err_mis_t = 0.0
    if den_t > 0.0 and xa * yb + xb * ya > 0.0:
        num = g * sw2 * (ds1 * rb[R_W] * rb[R_P] - rb[R_S1] * (ra[R_W] * dp + rb[R_P] * dw))
        cross = num / (xa * yb + xb * ya)
        mis_t = cross * cross / den_t
        if exact:
            err_mis_t = rel * mis_t
        else:
            err_mis_t = 4.0 * EPS * abs(cross) * (xa * yb + xb * ya) / den_t
    pp = ra[R_SQP] * rb[R_SQP]
    nt = mis_t + g * nk + sw2 * pp * (et + tdot * dl)
    et_prop = et * ee / eps if eps > 0.0 else 0.0
    err_nt = (rel * abs(nt) + err_mis_t + g * err_nk
              + sw2 * pp * (eet + et_prop + abs(tdot) * ed + abs(dl) * (eet + et_prop)))
    if pp1 > 0.0:
        dn = nt / pp1
        edn = err_nt / pp1
    else:
        dn = 1.0
        edn = 0.0
    if dn > 2.0:
        dn = 2.0
    if dn < 0.0:
        dn = 0.0
    return en, dn, een, edn, ds1, dp1


@njit(cache=True)
def _pair_diffs(mode, code, slope, ra, rb, ds):
    """(V_a - V_b, W_a - W_b, exact): divided differences for closed forms, plain differences otherwise."""
    if mode == MODE_CLOSED:
        dv, dw = _diag_diff_closed(code, slope, ra[R_S], rb[R_S], ds)
        return dv, dw, True
    return ra[R_V] - rb[R_V], ra[R_W] - rb[R_W], False


@njit(cache=True)
def _pair_maps(mode, code, slope, i, j, ra, rb, e, ds, dt_a, et_a, td_a, edt_a, eet_a):
    if mode == MODE_CLOSED:
        return _dev_closed_ds(code, slope, ra[R_S], rb[R_S], ds, e)
    if mode == MODE_PIECEWISE:
        return _dev_piecewise(code, slope, ra[R_S], rb[R_S], e, ra[R_V], rb[R_V], ra[R_W], rb[R_W])
    return dt_a[i, j], et_a[i, j], td_a[i, j], edt_a[i, j], eet_a[i, j]


# ----------------------------------------------------------------------------- loops
@njit(cache=True)
def _diag_row(mode, code, slope, s, i, v_out, w_out):
    if mode == MODE_CLOSED:
        v, w = _diag_closed(code, slope, s[i])
    else:
        v, w = _diag_piecewise(code, slope, s[i])
    v_out[i] = v
    w_out[i] = w


@njit(parallel=True, cache=True)
def diag_rows(mode, code, slope, s, v_out, w_out):
    """(V, W) of every row (MODE_CLOSED or MODE_PIECEWISE)."""
    for i in prange(s.shape[0]):
        _diag_row(mode, code, slope, s, i, v_out, w_out)


@njit(cache=True)
def diag_rows_serial(mode, code, slope, s, v_out, w_out):
    """``diag_rows`` on one thread (closed forms, or few rows: a parallel launch costs more)."""
    for i in range(s.shape[0]):
        _diag_row(mode, code, slope, s, i, v_out, w_out)


@njit(cache=True)
def _pair_all(mode, code, slope, i, j, ra, rb, e, ds, dt_a, et_a, td_a, edt_a, eet_a):
    """(dt, et, tdot, err_dt, err_et, V_a - V_b, W_a - W_b, exact) of one pair (erf: ``dev_erf_rows``)."""
    if mode == MODE_CLOSED and CLOSED_FORM[code] == F_ARCSINE:
        dt, et, td, edt, eet, dv, dw = dev_erf_rows(ra, rb, ds, e)
        return dt, et, td, edt, eet, dv, dw, True
    dt, et, td, edt, eet = _pair_maps(mode, code, slope, i, j, ra, rb, e, ds, dt_a, et_a, td_a, edt_a, eet_a)
    dv, dw, exact = _pair_diffs(mode, code, slope, ra, rb, ds)
    return dt, et, td, edt, eet, dv, dw, exact


@njit(cache=True)
def _dev_row_sym(i, mode, code, slope, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a, td_a, edt_a,
                 eet_a):
    """Row i of the strict upper triangle (the lower one is left to ``mirror_dev``)."""
    n = eps.shape[0]
    ra = rows[i]
    for j in range(i + 1, n):
        rb = rows[j]
        ds = dsm[i, j]
        dt, et, td, edt, eet, dv, dw, exact = _pair_all(mode, code, slope, i, j, ra, rb, eps[i, j], ds, dt_a, et_a,
                                                        td_a, edt_a, eet_a)
        en, dn, een, edn, ds1, dp1 = dev_update(dt, et, td, edt, eet, eps[i, j], dl[i, j], ee[i, j], ed[i, j],
                                                 dv, dw, ds, dpm[i, j], exact, ra, rb, sw2, sb2e, g, rel)
        dsm[i, j] = ds1
        dpm[i, j] = dp1
        eps[i, j] = en
        dl[i, j] = dn
        ee[i, j] = een
        ed[i, j] = edn


@njit(cache=True)
def mirror_tile(i0, i1, j0, j1, eps, dl, ee, ed, dsm, dpm):
    for i in range(i0, i1):
        for j in range(max(j0, i + 1), j1):
            eps[j, i] = eps[i, j]
            dl[j, i] = dl[i, j]
            ee[j, i] = ee[i, j]
            ed[j, i] = ed[i, j]
            dsm[j, i] = -dsm[i, j]
            dpm[j, i] = -dpm[i, j]


@njit(parallel=True, cache=True)
def mirror_dev(eps, dl, ee, ed, dsm, dpm):
    """Copy the strict upper triangles to the lower ones (dsm, dpm antisymmetric), in 64 x 64 tiles."""
    n = eps.shape[0]
    bs = 64
    nb = (n + bs - 1) // bs
    for bi in prange(nb):
        i0 = bi * bs
        i1 = min(n, i0 + bs)
        for bj in range(bi, nb):
            j0 = bj * bs
            mirror_tile(i0, i1, j0, min(n, j0 + bs), eps, dl, ee, ed, dsm, dpm)


@njit(parallel=True, cache=True)
def dev_layer_sym(mode, code, slope, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a, td_a, edt_a,
                   eet_a):
    """One layer on the symmetric train block (eps, Delta, their errors and the diagonal differences
    dsm = s_a - s_b, dpm = P_a - P_b in place, in the layer's old units; diagonals stay 0): the
    strict upper triangles only, the caller mirrors them with ``mirror_dev`` (a pair reads itself alone).

    Row i writes the pairs (i, j > i) and their mirrors only; rows t and n-1-t share an
    iteration so that the triangular work is balanced across threads.  dt_a ... eet_a are
    read in MODE_ARRAYS only (pass 1 x 1 arrays otherwise).
    """
    n = eps.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _dev_row_sym(i, mode, code, slope, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a, td_a,
                     edt_a, eet_a)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _dev_row_sym(i2, mode, code, slope, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a, td_a,
                         edt_a, eet_a)


@njit(cache=True)
def dev_layer_sym_serial(mode, code, slope, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a, td_a,
                          edt_a, eet_a):
    """``dev_layer_sym`` on one thread (small blocks: a parallel launch costs more than the work)."""
    n = eps.shape[0]
    for i in range(n):
        _dev_row_sym(i, mode, code, slope, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a, td_a,
                     edt_a, eet_a)
    mirror_tile(0, n, 0, n, eps, dl, ee, ed, dsm, dpm)


@njit(parallel=True, cache=True)
def dev_layer_rect(mode, code, slope, sw2, sb2e, g, rel, rows_t, rows, eps, dl, ee, ed, dsm, dpm, dt_a, et_a,
                    td_a, edt_a, eet_a):
    """One layer on a rectangular (test x train) block; rows_t / rows: the two sides' row tables."""
    for i in prange(eps.shape[0]):
        ra = rows_t[i]
        for j in range(eps.shape[1]):
            rb = rows[j]
            ds = dsm[i, j]
            dt, et, td, edt, eet, dv, dw, exact = _pair_all(mode, code, slope, i, j, ra, rb, eps[i, j], ds, dt_a,
                                                            et_a, td_a, edt_a, eet_a)
            en, dn, een, edn, ds1, dp1 = dev_update(dt, et, td, edt, eet, eps[i, j], dl[i, j], ee[i, j],
                                                     ed[i, j], dv, dw, ds, dpm[i, j], exact, ra, rb, sw2, sb2e, g,
                                                     rel)
            dsm[i, j] = ds1
            dpm[i, j] = dp1
            eps[i, j] = en
            dl[i, j] = dn
            ee[i, j] = een
            ed[i, j] = edn


@njit(cache=True)
def _sq_diff(fa, fb, wk):
    """sum_k wk[k] sum_r (fa[r, k] - fb[r, k])^2."""
    total = 0.0
    for k in range(fa.shape[1]):
        part = 0.0
        for r in range(fa.shape[0]):
            d = fa[r, k] - fb[r, k]
            part += d * d
        total += wk[k] * part
    return total


@njit(cache=True)
def _mismatch_row(i, f, g, wk, sf, sg):
    for j in range(i + 1, f.shape[0]):
        a = _sq_diff(f[i], f[j], wk)
        b = _sq_diff(g[i], g[j], wk)
        sf[i, j] = a
        sf[j, i] = a
        sg[i, j] = b
        sg[j, i] = b


@njit(parallel=True, cache=True)
def mismatch_sym(f, g, wk, sf, sg):
    """sf[a, b] = sum_k wk sum_r (f[a, r, k] - f[b, r, k])^2 (and sg from g) on every pair of rows
    (diagonals untouched; rows t and n-1-t share an iteration, as in ``dev_layer_sym``)."""
    n = f.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _mismatch_row(i, f, g, wk, sf, sg)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _mismatch_row(i2, f, g, wk, sf, sg)


@njit(parallel=True, cache=True)
def mismatch_rect(ft, gt, f, g, wk, sf, sg):
    """The same between the rows of (ft, gt) and those of (f, g)."""
    for i in prange(ft.shape[0]):
        for j in range(f.shape[0]):
            sf[i, j] = _sq_diff(ft[i], f[j], wk)
            sg[i, j] = _sq_diff(gt[i], g[j], wk)


@njit(cache=True)
def mismatch_sym_serial(f, g, wk, sf, sg):
    """``mismatch_sym`` on one thread (few rows: a parallel launch costs more than the work)."""
    for i in range(f.shape[0]):
        _mismatch_row(i, f, g, wk, sf, sg)


@njit(cache=True)
def angular_samples_serial(code, slope, scales, rs, cospsi, f_out, g_out):
    """phi and phi' at u = scales[a] * rs[j] * cos(psi_n) on one thread (``phasecli.maps.equal_kernels._angular_samples``
    for few rows)."""
    for a in range(scales.shape[0]):
        for j in range(rs.shape[0]):
            s = scales[a] * rs[j]
            for n in range(cospsi.shape[0]):
                u = s * cospsi[n]
                f_out[a, j, n] = _phi(code, u, slope)
                g_out[a, j, n] = _dphi(code, u, slope)


@njit(parallel=True, cache=True)
def dev_pairs(mode, code, slope, s1, s2, eps, v1, v2, w1, w2, out):
    """(dt, et, tdot, err_dt, err_et) of independent pairs into the rows of out (5, n) (MODE_CLOSED /
    MODE_PIECEWISE; V, W of both sides from ``diag_rows``)."""
    for i in prange(s1.shape[0]):
        if mode == MODE_CLOSED:
            r = _dev_closed(code, slope, s1[i], s2[i], eps[i])
        else:
            r = _dev_piecewise(code, slope, s1[i], s2[i], eps[i], v1[i], v2[i], w1[i], w2[i])
        out[0, i] = r[0]
        out[1, i] = r[1]
        out[2, i] = r[2]
        out[3, i] = r[3]
        out[4, i] = r[4]
