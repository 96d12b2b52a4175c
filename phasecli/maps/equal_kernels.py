"""Numba kernels of the two-point maps at equal variances, on the deviation from c = 1.

Private: called by ``phasecli.maps.equal`` and the recursions in ``phasecli.ntk.engines``.
For normalized inputs (both variances q) a pair is described by eps = 1 - c; every
layer needs T(c), Tdot(c) and the two non-negative differences

    D(eps) = T(1) - T(1 - eps) = E[(phi(u1) - phi(u2))^2] / 2,
    E(eps) = Tdot(1) - Tdot(1 - eps) = E[(phi'(u1) - phi'(u2))^2] / 2,

evaluated *without cancellation* (closed forms for erf, relu, leaky_relu, abs, linear;
Chebyshev tables in theta = arccos(c) of D / eps and E / eps for the others), so that
deviations keep full relative accuracy however close c is to 1.  Also here: the nodes
the tables of the kinked activations are built from, and the angular samples of phi and
phi' behind the smooth activations' tables and the data-as-given expansion.
"""

import math

import numpy as np

from phasecli.activations.functions import (activation_kind as _activation_kind, d2phi as _d2phi, dphi as _dphi,
                                            kinks as _kinks, negative_slope as _negative_slope, phi as _phi)
from phasecli.expectations.kernels import RULE_SIZE, exp_below_zero, nested_pair, quadrature_pair, quadrature_rule
from phasecli.runtime.jit import njit, prange
from phasecli.activations import (CLOSED_FORM, EXP_SCALE, EXPRESSION_JUMPS, F_ARCSINE, F_LEAKY, F_RELU, JUMP_AT_ZERO,
                                  P_CLIP, PIECEWISE_FORM)

TWO_OVER_PI = 2.0 / math.pi
FOUR_OVER_PI = 4.0 / math.pi

M_CLOSED = 0  # erf, relu, leaky_relu, abs, linear: closed forms
M_TABLE = 1  # everything else: Chebyshev table in theta

# ----------------------------------------------------------------------------- closed forms
@njit(cache=True)
def sin_minus_tcos(t):
    """sin t - t cos t for t in [0, pi], without cancellation for small t (series t^3/3 - t^5/30 + ...)."""
    if t < 0.6:
        t2 = t * t
        a = t * t2 / 6.0  # t^3 / 3!
        s = 0.0
        sign = 1.0
        for k in range(1, 16):
            s += sign * 2.0 * k * a
            a *= t2 / ((2.0 * k + 2.0) * (2.0 * k + 3.0))
            sign = -sign
        return s
    return math.sin(t) - t * math.cos(t)


@njit(cache=True)
def theta_of_eps(eps):
    """arccos(1 - eps), accurate for small eps."""
    return 2.0 * math.asin(math.sqrt(0.5 * eps))


@njit(cache=True)
def closed_norm(code, q, slope, eps):
    """(T, Tdot, D, E) at equal variances q and correlation c = 1 - eps (closed forms)."""
    if eps < 0.0:
        eps = 0.0
    if eps > 2.0:
        eps = 2.0
    c = 1.0 - eps
    one_m_c2 = eps * (2.0 - eps)
    family = CLOSED_FORM[code]
    if family == F_ARCSINE:
        s = 2.0 * q / (1.0 + 2.0 * q)
        om = (1.0 + 4.0 * q) / ((1.0 + 2.0 * q) * (1.0 + 2.0 * q))  # 1 - s^2
        sq1 = math.sqrt(om)
        y = s * c
        sqy = math.sqrt(om + s * s * one_m_c2)  # sqrt(1 - y^2)
        num = s * (s * s * one_m_c2 / (sqy + sq1) + eps * sq1)
        den = sq1 * sqy + s * y
        d = TWO_OVER_PI * math.atan2(num, den)  # asin(s) - asin(s c)
        t = TWO_OVER_PI * math.asin(y)
        a1 = 1.0 + 4.0 * q
        ac = a1 + 4.0 * q * q * one_m_c2
        r1 = math.sqrt(a1)
        rc = math.sqrt(ac)
        tdot = FOUR_OVER_PI / rc
        e = FOUR_OVER_PI * (4.0 * q * q * one_m_c2) / (r1 * rc * (r1 + rc))
        return t, tdot, d, e
    if family == F_RELU or family == F_LEAKY:
        a = _negative_slope(code, slope)
        big_a = 0.5 * (1.0 + a)
        big_b = 0.5 * (1.0 - a)
        if eps <= 1.0:
            th = theta_of_eps(eps)
            pi_m_th = math.pi - th
        else:  # c < 0: pi - theta = arccos(-c) from 2 - eps, accurate near c = -1
            pi_m_th = 2.0 * math.asin(math.sqrt(0.5 * (2.0 - eps)))
            th = math.pi - pi_m_th
        h = sin_minus_tcos(th)
        t = q * (big_a * big_a * c + big_b * big_b * TWO_OVER_PI * (math.sin(th) + c * (0.5 * math.pi - th)))
        d = q * (big_a * big_a * eps + big_b * big_b * TWO_OVER_PI * (0.5 * math.pi * eps - h))
        tdot = (1.0 + a * a) * pi_m_th / (2.0 * math.pi) + a * th / math.pi
        e = th * (1.0 - a) * (1.0 - a) / (2.0 * math.pi)
        return t, tdot, d, e
    # linear
    return q * c, 1.0, q * eps, 0.0


# ----------------------------------------------------------------------------- tables
@njit(cache=True)
def _cheb2(c1, c2, p, x):
    """Clenshaw sums of two Chebyshev series (rows p of c1, c2) at x in [-1, 1]."""
    n = c1.shape[1]
    b1 = 0.0
    b2 = 0.0
    d1 = 0.0
    d2 = 0.0
    x2 = 2.0 * x
    for k in range(n - 1, 0, -1):
        t = x2 * b1 - b2 + c1[p, k]
        b2 = b1
        b1 = t
        t = x2 * d1 - d2 + c2[p, k]
        d2 = d1
        d1 = t
    return x * b1 - b2 + c1[p, 0], x * d1 - d2 + c2[p, 0]


@njit(cache=True)
def table_norm(bps, cd, c2, mode2, t1, td1, eps):
    """(T, Tdot, D, E) from the Chebyshev tables: cd ~ D/eps; c2 ~ E/eps (mode2 = 0),
    Tdot itself (mode2 = 1) or E / sin(theta/2) (mode2 = 2, phi' with jumps: E ~ theta); mode2 = 3 (a kinked
    expression whose phi' jumps): E = eps * c2[p] + sin(theta/2) * c2[npan + p], two tables stacked.

    The panels split [0, pi] (in theta = arccos(1 - eps)) into cd.shape[0] equal parts
    (bps holds their edges, for reference), so the panel index is a multiplication.
    """
    if eps < 0.0:
        eps = 0.0
    if eps > 2.0:
        eps = 2.0
    th = theta_of_eps(eps)
    npan = cd.shape[0]
    u = th * (npan / math.pi)
    p = int(u)
    if p >= npan:
        p = npan - 1
    x = 2.0 * (u - p) - 1.0
    if x > 1.0:
        x = 1.0
    gd, g2 = _cheb2(cd, c2, p, x)
    d = eps * gd
    if mode2 == 0:
        e = eps * g2
    elif mode2 == 2:
        e = math.sqrt(0.5 * eps) * g2  # sin(theta / 2) * g2
    elif mode2 == 3:
        ga, unused = _cheb2(c2, c2, p + npan, x)
        e = eps * g2 + math.sqrt(0.5 * eps) * ga
    else:
        return t1 - d, g2, d, td1 - g2
    return t1 - d, td1 - e, d, e


@njit(parallel=True, cache=True)
def _table_values(bps, cd, c2, mode2, t1, td1, eps, out):
    """(T, Tdot, D, E) at every eps (rows of out); for checks and tests."""
    for i in prange(eps.shape[0]):
        t, tdot, d, e = table_norm(bps, cd, c2, mode2, t1, td1, eps[i])
        out[i, 0] = t
        out[i, 1] = tdot
        out[i, 2] = d
        out[i, 3] = e


@njit(parallel=True, cache=True)
def _closed_values(code, q, slope, eps, out):
    for i in prange(eps.shape[0]):
        t, tdot, d, e = closed_norm(code, q, slope, eps[i])
        out[i, 0] = t
        out[i, 1] = tdot
        out[i, 2] = d
        out[i, 3] = e



# ----------------------------------------------------------------------------- kinked activations, table nodes
@njit(cache=True)
def _pair_kinked_polar(code, q, theta, slope):
    """(T, Tdot) for a piecewise activation or a kinked expression at equal variances q and correlation cos(theta).

    The same quadrature as ``phasecli.expectations.kernels.pair_corr`` (kind 1: inner Gaussian expectation in
    closed form, outer integral split at the kinks and graded around them; kind 3: nested quadrature, both
    integrals split at the kinks, the outer one graded around the inner one's smoothed kinks) but with the
    conditional mean and width taken from theta directly, sqrt(q) cos(theta) and
    sqrt(q) sin(theta), so that small angles are not lost to 1 - c^2 cancellation.
    """
    n1 = math.sqrt(q)
    mcoef = n1 * math.cos(theta)
    sig = n1 * math.sin(theta)
    return quadrature_pair(code, n1, mcoef, sig, slope)


@njit(cache=True)
def _sin_tddot_kinked(code, q, theta):
    """G(theta) = sin(theta) * E[phi''(u1) phi''(u2)] at equal variances q, corr cos(theta).

    phi'' of the piecewise activations = a smooth part A e^u on u < 0 (elu: A = 1; selu:
    A = lambda alpha) plus jumps J of phi' (selu: J = lambda (1 - alpha) at 0; hard_tanh:
    +1 at -1, -1 at +1) as delta functions.  Price's theorem gives
    Tdot(1) - Tdot(cos theta) = q * int_0^theta G(t) dt, a positive integral near
    theta = 0 (G(0) = q E[phi''^2] sin 0 + sum J^2 / (2 pi q)), hence E with full
    relative accuracy.  Terms:
      smooth x smooth: sin(theta) int A e^{u1} 1(u1 < 0) A E[e^{u2} 1(u2 < 0) | u1] dP(u1)
      smooth x delta:  2 J sin(theta) p(u1 = k) A E[e^{u2} 1(u2 < 0) | u1 = k]
      delta x delta:   J_k J_k' sin(theta) p(k, k'), in closed form.
    """
    if _activation_kind(code) == 3:
        gd, r = expression_g_parts(code, q, theta)
        return gd + math.sin(theta) * r
    st = math.sin(theta)
    ct = math.cos(theta)
    sq = math.sqrt(q)
    if PIECEWISE_FORM[code] == P_CLIP:
        # sin(theta) p(k, k') for k, k' in {-1, 1}: exp(-1/(q(1 +- c))) / (2 pi q)
        same = math.exp(-1.0 / (q * (1.0 + ct))) if ct > -1.0 else 0.0
        opp = math.exp(-1.0 / (q * (1.0 - ct))) if ct < 1.0 else 0.0
        return (2.0 * same - 2.0 * opp) / (2.0 * math.pi * q)
    a = EXP_SCALE[code]
    jump = JUMP_AT_ZERO[code]
    sig = sq * st
    out = 0.0
    if st > 0.0:
        # smooth x smooth: outer over z1 < 0, graded around z1 = 0 where the inner step is smoothed
        extra = np.empty(16)
        n_extra = 1
        extra[0] = 0.0
        if ct != 0.0:
            width = st / abs(ct)
            for g in (0.0625, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
                if g * width < 1.0:
                    extra[n_extra] = -g * width
                    n_extra += 1
        zs = np.empty(RULE_SIZE)
        ws = np.empty(RULE_SIZE)
        n = quadrature_rule(code, 0.0, sq, extra, n_extra, 1.0, 1.0, zs, ws)
        s1 = 0.0
        for i in range(n):
            if zs[i] < 0.0:
                u1 = sq * zs[i]
                s1 += ws[i] * math.exp(u1) * exp_below_zero(ct * u1, sig)
        out += st * a * a * s1
        if jump != 0.0:
            p0 = 1.0 / math.sqrt(2.0 * math.pi * q)
            out += 2.0 * jump * st * p0 * a * exp_below_zero(0.0, sig)
    out += jump * jump / (2.0 * math.pi * q)
    return out


@njit(cache=True)
def expression_g_parts(code, q, theta):
    """(Gd, R) with sin(theta) * E[phi''(u1) phi''(u2)] = Gd + sin(theta) R for a kinked expression (u1, u2 at
    variance q, correlation cos(theta)); the two are tabulated apart (``phasecli.maps.equal._kinked_table``) so
    that E = q int_0^theta (Gd + sin(t) R) dt keeps relative accuracy near theta = 0 whichever part dominates.

    phi'' = s + sum_k J_k delta(u - k): s its smooth part off the kinks (``d2phi``), J_k the jump of phi' at
    kink k (``EXPRESSION_JUMPS``):
      Gd = sum_{k,k'} J_k J_k' sin(theta) p(k, k')                 (delta x delta, closed form)
         = sum J_k J_k' exp(-(k - k' cos theta)^2 / (2 q sin^2 theta) - k'^2 / (2 q)) / (2 pi q),
           exp(-k^2 / (q (1 + cos theta))) / (2 pi q) for k = k';
      R  = E[s(u1) s(u2)] + 2 sum_k J_k p(u1 = k) E[s(u2) | u1 = k],  u2 | u1 = k ~ N(k cos theta, q sin^2 theta)
           (nested quadrature split at the kinks; 1-D quadrature).
    """
    st = math.sin(theta)
    ct = math.cos(theta)
    sq = math.sqrt(q)
    one_p_c = 2.0 * math.cos(0.5 * theta) ** 2
    kk = np.empty(4)
    nk = _kinks(code, kk)
    gd = 0.0
    r = 0.0
    zs = np.empty(RULE_SIZE)
    ws = np.empty(RULE_SIZE)
    for i in range(nk):
        ji = EXPRESSION_JUMPS[i]
        if ji == 0.0:
            continue
        a = kk[i]
        for j in range(nk):
            jj = EXPRESSION_JUMPS[j]
            if jj == 0.0:
                continue
            b = kk[j]
            if i == j:
                if a == 0.0:
                    e = 1.0
                elif one_p_c > 0.0:
                    e = math.exp(-a * a / (q * one_p_c))
                else:
                    e = 0.0
            elif st > 0.0:
                m = a - b * ct
                e = math.exp(-m * m / (2.0 * q * st * st) - b * b / (2.0 * q))
            else:
                e = 0.0
            gd += ji * jj * e / (2.0 * math.pi * q)
        mu = a * ct
        sig = sq * st
        if sig > 0.0:
            n = quadrature_rule(code, mu, sig, zs, 0, 0.75, 1.0, zs, ws)
            cond = 0.0
            for k in range(n):
                cond += ws[k] * _d2phi(code, mu + sig * zs[k])
        else:  # the limit theta -> 0: the kink is crossed at the conditional mean, half the mass on each side
            h = 1e-9 * max(1.0, abs(a))
            cond = 0.5 * (_d2phi(code, a - h) + _d2phi(code, a + h))
        p_k = math.exp(-0.5 * a * a / q) / math.sqrt(2.0 * math.pi * q)
        r += 2.0 * ji * p_k * cond
    ss, unused = nested_pair(code, sq, sq * ct, sq * st, 0.0, True, True)
    return gd, r + ss


@njit(parallel=True, cache=True)
def _expression_g_nodes(code, q, thetas, gd_out, r_out):
    for i in prange(thetas.shape[0]):
        a, b = expression_g_parts(code, q, thetas[i])
        gd_out[i] = a
        r_out[i] = b


@njit(parallel=True, cache=True)
def _kinked_g_nodes(code, q, thetas, out):
    for i in prange(thetas.shape[0]):
        out[i] = _sin_tddot_kinked(code, q, thetas[i])


@njit(parallel=True, cache=True)
def _kinked_nodes(code, q, thetas, slope, t_out, tdot_out):
    for i in prange(thetas.shape[0]):
        a, b = _pair_kinked_polar(code, q, thetas[i], slope)
        t_out[i] = a
        tdot_out[i] = b



@njit(parallel=True, cache=True)
def _angular_samples(code, slope, scales, rs, cospsi, f_out, g_out):
    """phi and phi' at u = scales[a] * rs[j] * cos(psi_n): f_out[a, j, n], g_out[a, j, n]."""
    na = scales.shape[0]
    nr = rs.shape[0]
    for idx in prange(na * nr):
        a = idx // nr
        j = idx - a * nr
        s = scales[a] * rs[j]
        for n in range(cospsi.shape[0]):
            u = s * cospsi[n]
            f_out[a, j, n] = _phi(code, u, slope)
            g_out[a, j, n] = _dphi(code, u, slope)
