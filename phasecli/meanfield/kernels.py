"""Numba kernels of the mean field: the fixed points q* and c*, the phase grid and the critical line.

Called through the validating wrappers of ``phasecli.meanfield`` (docs/theory.md section 2,
"Mean field: length and correlation maps", and section 3 for the depth scales).  The
Gaussian expectations they iterate come from ``phasecli.expectations.kernels``; below the
small-q limit of an activation the length map is taken from its series
(``phasecli.activations.smallq``).
"""

import math

import numpy as np

from phasecli.activations import BOUNDED, HOMOGENEOUS
from phasecli.activations.functions import activation_kind as _activation_kind, dphi2_at_zero as _dphi2_at_zero
from phasecli.activations.functions import phi as _phi
from phasecli.activations.smallq import (deficit_scaled, deficit_slope, excess_scaled, linear_coefficient,
                                         small_q_limit, small_q_root)
from phasecli.expectations.kernels import (HERMITE_TERMS, HERMITE_TERMS_MAX, HERMITE_TERMS_MIN, mehler,
                                           mehler_setup, gauss_moments, pair_corr)
from phasecli.runtime.jit import njit, prange

_HOMOGENEOUS = HOMOGENEOUS
Q_INFINITE = 1e15  # q beyond which an unbounded activation's q* is reported infinite
# fixed-point labels (also used by meanfield.FIXED_POINT_LABELS)
FP_STABLE, FP_ZERO, FP_INFINITE, FP_UNCONVERGED, FP_MARGINAL = 0, 1, 2, 3, 4
# critical-line status codes (meanfield.CRITICAL_STATUS)
CR_OK, CR_UNCONVERGED, CR_NO_CROSSING, CR_OUT_OF_RANGE, CR_UNDEFINED = 0, 1, 2, 3, 4


# ----------------------------------------------------------------------------- fixed points
@njit(cache=True)
def _stability_label(q_slope):
    """FP_STABLE where the q-map slope at the fixed point is below 1 (to 1e-12), else FP_MARGINAL."""
    return FP_STABLE if q_slope < 1.0 - 1e-12 else FP_MARGINAL


@njit(cache=True)
def _small_q_fixed_point(code, sw2, sb2, top, slope, it):
    """q* below the activation's small-q limit ``top``, from the length map's expansion there."""
    q, k, residual = small_q_root(code, sw2, sb2, top)
    a1 = linear_coefficient(code)
    sl = sw2 * (a1 + deficit_slope(code, q))
    return q, sl, _stability_label(sl), it + k, residual, a1 * q + deficit_scaled(code, q, 0.0), \
        gauss_moments(code, q, slope)[1]


@njit(cache=True)
def _q_fixed_point(code, sw2, sb2, q0, slope):
    """Stable fixed point of the length map reached from q0 (docs/theory.md, q*).

    The length map Q is monotone, so forward iteration from q0 moves towards the first
    root of F(q) = Q(q) - q in the direction of F(q0).  That root is bracketed by
    Newton-guided steps (each capped so no pair of roots is jumped), then polished by
    safeguarded Newton.  Returns (q_star, q_slope, label, iterations, residual, phi2, dphi2)
    with phi2 = E[phi^2] and dphi2 = E[phi'^2] at q_star.
    """
    if _homogeneous(code):
        # the length map is exactly linear, q -> growth * q + sb2: no finite fixed point when growth > 1,
        # or growth = 1 with sb2 > 0 (q grows by sb2 per layer; rounding must not make a root of it)
        growth = sw2 * gauss_moments(code, 1.0, slope)[0]
        if growth > 1.0 or (growth == 1.0 and sb2 > 0.0):
            return math.inf, math.nan, FP_INFINITE, 1, math.nan, math.nan, math.nan
    # below q_small the length map is resolved by its expansion (phasecli.activations.smallq), not by quadrature
    q_small = small_q_limit(code)
    if not (sb2 > 0.0 or sw2 * linear_coefficient(code) > 1.0):
        q_small = 0.0
    root_below = q_small > 0.0 and excess_scaled(code, sw2, sb2, q_small, math.log(q_small)) < 0.0
    if q0 < q_small:
        if root_below:
            return _small_q_fixed_point(code, sw2, sb2, q_small, slope, 0)
        q0 = q_small
    p0 = _phi(code, 0.0, slope)
    f_at_zero = sw2 * p0 * p0 + sb2
    phi2, dphi2, qs = gauss_moments(code, q0, slope)
    f = sw2 * phi2 + sb2 - q0
    df = sw2 * qs - 1.0
    it = 1
    if f == 0.0:
        sl = sw2 * qs
        return q0, sl, _stability_label(sl), it, 0.0, phi2, dphi2
    x = q0
    if f > 0.0:
        lo = q0
        while True:
            step_cap = 2.0 * (lo + f)  # twice the next forward iterate
            cand = lo - f / df if df < 0.0 else step_cap
            cand = min(max(cand, lo + f), step_cap)
            if cand > Q_INFINITE and not BOUNDED[code]:  # bounded |phi| <= 1: q* <= sw2 + sb2, finite
                return math.inf, math.nan, FP_INFINITE, it, math.nan, math.nan, math.nan
            phi2, dphi2, qs = gauss_moments(code, cand, slope)
            it += 1
            fc = sw2 * phi2 + sb2 - cand
            x = cand
            f = fc
            df = sw2 * qs - 1.0
            if fc <= 0.0:
                hi = cand
                break
            if cand - lo <= 2e-16 * cand:
                # Newton from below has converged onto the root
                sl = sw2 * qs
                return cand, sl, _stability_label(sl), it, abs(fc) / cand, phi2, dphi2
            lo = cand
            if it > 400:
                return cand, sw2 * qs, FP_UNCONVERGED, it, abs(fc) / cand, phi2, dphi2
    else:
        hi = q0
        while True:
            upper = sw2 * phi2 + sb2  # the next forward iterate Q(hi): still above the root (not hi + f,
            # which cancels to nothing when hi >> Q(hi), e.g. q0 = 1e308 for a bounded activation)
            cand = hi - f / df if df < 0.0 else 0.5 * hi
            cand = min(max(cand, 0.25 * hi), upper)
            if cand < q_small:
                if hi > q_small:
                    cand = q_small
                elif root_below:
                    return _small_q_fixed_point(code, sw2, sb2, q_small, slope, it)
                else:
                    lo = q_small
                    break
            if cand < 1e-12 * q0 and f_at_zero == 0.0:
                return 0.0, sw2 * gauss_moments(code, 0.0, slope)[2], FP_ZERO, it, 0.0, p0 * p0, \
                    _dphi2_at_zero(code, slope)
            if cand < 1e-300:
                return 0.0, math.nan, FP_ZERO, it, 0.0, p0 * p0, _dphi2_at_zero(code, slope)
            phi2, dphi2, qs = gauss_moments(code, cand, slope)
            it += 1
            fc = sw2 * phi2 + sb2 - cand
            x = cand
            f = fc
            df = sw2 * qs - 1.0
            if fc >= 0.0:
                lo = cand
                break
            if hi - cand <= 2e-16 * hi:
                sl = sw2 * qs
                return cand, sl, _stability_label(sl), it, abs(fc) / cand, phi2, dphi2
            hi = cand
            if it > 400:
                return cand, sw2 * qs, FP_UNCONVERGED, it, abs(fc) / cand, phi2, dphi2
    # safeguarded Newton in [lo, hi], F(lo) >= 0 >= F(hi), from the last point evaluated
    converged = False
    for _ in range(200):
        x_new = x - f / df if df != 0.0 else 0.5 * (lo + hi)
        if not (lo < x_new < hi):
            x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 2e-16 * x or hi - lo <= 4e-16 * hi:
            converged = True
            break
        x = x_new
        phi2, dphi2, qs = gauss_moments(code, x, slope)
        it += 1
        f = sw2 * phi2 + sb2 - x
        df = sw2 * qs - 1.0
        if f > 0.0:
            lo = x
        elif f < 0.0:
            hi = x
        else:
            converged = True
            break
    residual = abs(f) / max(x, 1e-300)
    sl = sw2 * qs
    if not converged:
        return x, sl, FP_UNCONVERGED, it, residual, phi2, dphi2
    return x, sl, _stability_label(sl), it, residual, phi2, dphi2


@njit(cache=True)
def _homogeneous(code):
    return _HOMOGENEOUS[code]


@njit(cache=True)
def _cmap_eval(code, q, c, slope, kind, level, coef, tails, phi2, dphi2):
    """(T, Tdot) at equal variances q and correlation c, escalating for smooth activations:
    64 Mehler terms, then 256, then 1024, then nested quadrature.  Returns the state to reuse."""
    if kind == 2:
        while level <= 3:
            t, tdot, ok = mehler(coef, tails, c, q, phi2, dphi2)
            if ok:
                return t, tdot, level, coef, tails
            if level == 1:
                coef, tails = mehler_setup(code, q, slope, HERMITE_TERMS, 0.5, phi2, dphi2)
            elif level == 2:
                coef, tails = mehler_setup(code, q, slope, HERMITE_TERMS_MAX, 0.35, phi2, dphi2)
            level += 1
    t, tdot = pair_corr(code, q, q, c, slope, kind)
    return t, tdot, level, coef, tails


@njit(cache=True)
def _c_fixed_point(code, sw2, sb2, q, slope, phi2, dphi2):
    """Stable correlation fixed point c* in [0, 1) of the chaotic phase, and chi_c there.

    G(c) = c-map(c) - c is convex on [0, 1] (Mehler coefficients are squares) with
    G(0) >= 0, so Newton from c = 0 increases monotonically to c*.
    Returns (c_star, chi_c, converged, iterations, residual).
    """
    kind = _activation_kind(code)
    level = 0
    coef = np.zeros(1)
    tails = np.zeros(3)
    if kind == 2:
        coef, tails = mehler_setup(code, q, slope, HERMITE_TERMS_MIN, 0.75, phi2, dphi2)
        level = 1
    c = 0.0
    hi = 1.0
    converged = False
    it = 0
    g = 0.0
    for _ in range(300):
        t, tdot, level, coef, tails = _cmap_eval(code, q, c, slope, kind, level, coef, tails, phi2, dphi2)
        it += 1
        g = (sw2 * t + sb2) / q - c
        if g <= 0.0:
            if g == 0.0 or c == 0.0:
                converged = True
                break
            hi = c
        dg = sw2 * tdot - 1.0
        c_new = c - g / dg if dg < 0.0 else 0.5 * (c + hi)
        if not (c_new < hi) or c_new < 0.0:
            c_new = 0.5 * (c + hi)
        if abs(c_new - c) <= 1e-16 + 2e-16 * c:
            c = c_new
            converged = True
            break
        c = c_new
    t, tdot, level, coef, tails = _cmap_eval(code, q, c, slope, kind, level, coef, tails, phi2, dphi2)
    residual = abs((sw2 * t + sb2) / q - c)
    return c, sw2 * tdot, converged, it, residual


@njit(cache=True)
def _phase_cell(code, sw2, sb2, q0, slope):
    """All mean-field quantities of one (sw2, sb2) cell.

    Returns (q_star, c_star, chi_1, chi_c, q_slope, fixed_point, converged, iterations, residual).
    """
    q, q_slope, label, it, res, phi2, dphi2 = _q_fixed_point(code, sw2, sb2, q0, slope)
    if label == FP_UNCONVERGED:
        return q, math.nan, math.nan, math.nan, q_slope, label, False, it, res
    if label == FP_INFINITE:
        chi_1 = sw2 * gauss_moments(code, 1.0, slope)[1] if _homogeneous(code) else math.nan
        return q, math.nan, chi_1, math.nan, q_slope, label, True, it, res
    if label == FP_ZERO:
        return 0.0, math.nan, sw2 * _dphi2_at_zero(code, slope), math.nan, q_slope, label, True, it, res
    chi_1 = sw2 * dphi2
    if not (chi_1 > 1.0):
        return q, 1.0, chi_1, chi_1, q_slope, label, True, it, res
    c, chi_c, ok, itc, resc = _c_fixed_point(code, sw2, sb2, q, slope, phi2, dphi2)
    if not ok:
        return q, math.nan, chi_1, math.nan, q_slope, FP_UNCONVERGED, False, it + itc, max(res, resc)
    return q, c, chi_1, chi_c, q_slope, label, True, it + itc, max(res, resc)


@njit(parallel=True, cache=True)
def _phase_grid(code, sw2s, sb2s, q0, slope, order, q_star, c_star, chi_1, chi_c, q_slope, fixed_point,
                converged, iterations, residual):
    n2 = sb2s.shape[0]
    for k in prange(order.shape[0]):
        cell = order[k]
        i = cell // n2
        j = cell - i * n2
        r = _phase_cell(code, sw2s[i], sb2s[j], q0, slope)
        q_star[i, j] = r[0]
        c_star[i, j] = r[1]
        chi_1[i, j] = r[2]
        chi_c[i, j] = r[3]
        q_slope[i, j] = r[4]
        fixed_point[i, j] = r[5]
        converged[i, j] = r[6]
        iterations[i, j] = r[7]
        residual[i, j] = r[8]


# ----------------------------------------------------------------------------- critical line
@njit(cache=True)
def _chi1_minus_one(code, sw2, sb2, q0, slope):
    q, q_slope, label, it, res, phi2, dphi2 = _q_fixed_point(code, sw2, sb2, q0, slope)
    if label == FP_ZERO:
        return sw2 * _dphi2_at_zero(code, slope) - 1.0, 0.0, it
    if label == FP_INFINITE:
        if _homogeneous(code):
            return sw2 * gauss_moments(code, 1.0, slope)[1] - 1.0, q, it
        return math.nan, q, it
    if label == FP_UNCONVERGED:
        return math.nan, q, it
    return sw2 * dphi2 - 1.0, q, it


@njit(cache=True)
def _critical_cell(code, sb2, q0, slope, sw2_lo, sw2_hi):
    """sw2 with chi_1 = 1 on the stable branch from q0: bracket, then Brent's method.

    Returns (sw2_critical, q_star, status, iterations, residual |chi_1 - 1|).
    """
    it = 0
    a = min(max(1.0, sw2_lo), sw2_hi)
    fa, qa, k = _chi1_minus_one(code, a, sb2, q0, slope)
    it += k
    if fa != fa:
        return math.nan, math.nan, CR_UNDEFINED, it, math.nan
    b = a
    fb = fa
    if fa < 0.0:
        while fb < 0.0:
            a = b
            fa = fb
            if b >= sw2_hi:
                return math.nan, math.nan, CR_OUT_OF_RANGE, it, math.nan
            b = min(b * 1.5, sw2_hi)
            fb, qb, k = _chi1_minus_one(code, b, sb2, q0, slope)
            it += k
            if fb != fb:
                # no finite q* at b (q* diverges between a and b): chi_1 may still reach 1 in the window where q*
                # is finite (Mish at sb2 = 0.3: chi_1 = 1 near sw2 = 1.94, q* infinite from sw2 ~ 2), which the
                # 1.5x steps jump over; bisect towards the divergence for a point with chi_1 >= 1
                lo = a
                hi = b
                found = False
                for _ in range(100):
                    mid = 0.5 * (lo + hi)
                    fm, qm, k = _chi1_minus_one(code, mid, sb2, q0, slope)
                    it += k
                    if fm != fm:
                        hi = mid
                    elif fm < 0.0:
                        lo = mid
                        a = mid
                        fa = fm
                    else:
                        b = mid
                        fb = fm
                        found = True
                        break
                    if hi - lo <= 1e-13 * hi:
                        break
                if not found:
                    return math.nan, math.nan, CR_UNDEFINED, it, math.nan
    else:
        while fa >= 0.0:
            if fa == 0.0:
                return a, qa, CR_OK, it, 0.0
            b = a
            fb = fa
            if a <= sw2_lo:
                return math.nan, math.nan, CR_OUT_OF_RANGE, it, math.nan
            a = max(a / 1.5, sw2_lo)
            fa, qa, k = _chi1_minus_one(code, a, sb2, q0, slope)
            it += k
            if fa != fa:
                return math.nan, math.nan, CR_UNDEFINED, it, math.nan
    # sb2 = 0 with phi(0) = 0: the zero fixed point loses stability at sw2_0 = 1 / phi'(0)^2,
    # exactly where its chi_1 = sw2 phi'(0)^2 crosses 1; the nonzero branch born there
    # can approach chi_1 = 1 tangentially (erf: chi_1 - 1 ~ delta^2 / 3), below float64
    # resolution, so the root is taken from the zero branch's exact linear law.
    p0 = _phi(code, 0.0, slope)
    if sb2 == 0.0 and p0 == 0.0:
        sw2_0 = 1.0 / _dphi2_at_zero(code, slope)
        if a <= sw2_0 <= b:
            f_below, q_below, k = _chi1_minus_one(code, sw2_0 * (1.0 - 1e-9), sb2, q0, slope)
            f_above, q_above, k2 = _chi1_minus_one(code, sw2_0 * (1.0 + 1e-4), sb2, q0, slope)
            it += k + k2
            if q_below == 0.0 and f_above >= 0.0:
                q_c, _sl, _lab, k3, _res, _p2, _d2 = _q_fixed_point(code, sw2_0, sb2, q0, slope)
                return sw2_0, q_c, CR_OK, it + k3, 0.0
    # Brent's method on [a, b] with fa < 0 <= fb
    c = a
    fc = fa
    d = b - a
    e = d
    converged = False
    for _ in range(200):
        # h = 0 counts as the '>= 0' side: beside a tangential approach (erf, sb2 = 0:
        # chi_1 - 1 ~ delta^2 / 3 on the chaotic side) bisection then finds the true root
        if (fb >= 0.0) == (fc >= 0.0):
            c = a
            fc = fa
            d = b - a
            e = d
        if abs(fc) < abs(fb):
            a = b
            b = c
            c = a
            fa = fb
            fb = fc
            fc = fa
        tol = 2e-16 * abs(b) + 1e-300
        m = 0.5 * (c - b)
        if abs(m) <= tol:
            converged = True
            break
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p = 2.0 * m * s
                qq = 1.0 - s
            else:
                qq = fa / fc
                r = fb / fc
                p = s * (2.0 * m * qq * (qq - r) - (b - a) * (r - 1.0))
                qq = (qq - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                qq = -qq
            else:
                p = -p
            if 2.0 * p < min(3.0 * m * qq - abs(tol * qq), abs(e * qq)):
                e = d
                d = p / qq
            else:
                d = m
                e = m
        else:
            d = m
            e = m
        a = b
        fa = fb
        b = b + d if abs(d) > tol else b + (tol if m > 0.0 else -tol)
        fb, qb, k = _chi1_minus_one(code, b, sb2, q0, slope)
        it += k
        if fb != fb:
            return math.nan, math.nan, CR_UNDEFINED, it, math.nan
    f_root, q_root, k = _chi1_minus_one(code, b, sb2, q0, slope)
    it += k
    if not converged:
        return b, q_root, CR_UNCONVERGED, it, abs(f_root)
    # a sign change without a root: chi_1 jumps across 1 (the stable branch changes)
    if abs(f_root) > 1e-7 and abs(fc) > 1e-7:
        return b, q_root, CR_NO_CROSSING, it, abs(f_root)
    return b, q_root, CR_OK, it, abs(f_root)


@njit(parallel=True, cache=True)
def _critical_line(code, sb2s, q0, slope, sw2_lo, sw2_hi, sw2c, q_star, status, iterations, residual):
    for j in prange(sb2s.shape[0]):
        r = _critical_cell(code, sb2s[j], q0, slope, sw2_lo, sw2_hi)
        sw2c[j] = r[0]
        q_star[j] = r[1]
        status[j] = r[2]
        iterations[j] = r[3]
        residual[j] = r[4]
