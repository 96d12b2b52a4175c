"""Numba kernels for the spectrum of the input-output Jacobian (``phasecli.jacobian_spectrum``).

Private: called through the validating wrappers of ``phasecli.jacobian_spectrum``.  Notation of
docs/theory.md section 14 ("Jacobian spectrum"): d = phi'(h)^2 with
h = sqrt(q*) t, t standard normal; d_max = sup d.  Every transform of the law of d is a
1-D integral over t, taken with adaptive Gauss-Kronrod (7/15) panels split at the
activation's kinks, to a relative tolerance; the denominator w - d is formed as
s + (d_max - d) with s = w - d_max and d_max - d from an exact expression where one
exists (tanh: tanh^2 (2 - tanh^2)), so that w close to d_max keeps its digits.

With m = M_D(w) = E[d / (w - d)] and g = 1 for Gaussian, 0 for orthogonal weights, the
inverse moment generating function of J J^T is, along the subordination variable w,

    log z = (1 + L (g - 1)) log(1 + m) + (L - 1) log m + L log w + L log sw2,

so edges of the spectrum are stationary points of log z in w on the real axis and the
density follows from Newton's method on log z(w) = log(x (1 + i eps)) in the upper half plane.
"""

import cmath
import math

import numpy as np
from phasecli.runtime.jit import njit, prange

from phasecli.activations.functions import INV_SQRT2PI
from phasecli.activations.functions import dphi_sq as _d2, gap as _gap, gap_low as _gap_low, gap_noise as _gap_noise

# Gauss-Kronrod 15-point nodes (descending, last = 0) and weights; Gauss 7-point weights at xgk[1], xgk[3], ...
_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.0])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
MAX_INTERVALS = 4000
MODE_STIELTJES, MODE_MOMENTS, MODE_LOWER = 0, 1, 2
NEWTON_DERIVATIVE_TOL = math.inf  # the density's Newton steps: the derivative only steers them
ROUNDING = 1e-15  # relative rounding of w - d inside the support, times |w - d_max| / Im w
MAX_DENSITY_TOL = 1e-5  # a density point needing a looser integral is reported unconverged
EDGE_STATIONARY, EDGE_LIMIT, EDGE_FAILED = 0, 1, 2
SCAN_RATIO = 10.0 ** 0.25  # the edge scans step by this factor in w - d_max (or w) before refining


@njit(cache=True)
def _d2_array(code, xs, slope, out):
    """out[i] = phi'(xs[i])^2 (for locating sup phi'^2 of gelu and silu)."""
    for i in range(xs.size):
        out[i] = _d2(code, xs[i], slope)


@njit(cache=True)
def _panel(mode, code, sq, slope, dmax, s, center, a, b, kron, gauss):
    """Kronrod and Gauss sums of the integrand(s) on [a, b] (t variable, normal density included)."""
    n = kron.size
    for j in range(n):
        kron[j] = 0.0
        gauss[j] = 0.0
    half = 0.5 * (b - a)
    mid = 0.5 * (a + b)
    for i in range(15):
        if i < 7:
            t = mid - half * _XGK[i]
            wk = _WGK[i]
            wg = _WG[i // 2] if i % 2 == 1 else 0.0
        elif i == 7:
            t = mid
            wk = _WGK[7]
            wg = _WG[3]
        else:
            t = mid + half * _XGK[14 - i]
            wk = _WGK[14 - i]
            wg = _WG[(14 - i) // 2] if (14 - i) % 2 == 1 else 0.0
        dens = half * INV_SQRT2PI * math.exp(-0.5 * t * t)
        x = sq * t
        d = _d2(code, x, slope)
        if mode != MODE_MOMENTS:
            den = s + _gap(code, x, slope, dmax) if mode == MODE_STIELTJES else s - _gap_low(code, x, slope)
            f0 = d / den
            f1 = f0 / den
            kron[0] += wk * dens * f0
            kron[1] += wk * dens * f1
            if wg != 0.0:
                gauss[0] += wg * dens * f0
                gauss[1] += wg * dens * f1
        else:
            p = 1.0
            for j in range(n - 2):
                p *= d
                kron[j] += wk * dens * p
                if wg != 0.0:
                    gauss[j] += wg * dens * p
            gap = _gap(code, x, slope, dmax)
            c2 = (gap - center) * (gap - center)
            kron[n - 2] += wk * dens * gap
            kron[n - 1] += wk * dens * c2
            if wg != 0.0:
                gauss[n - 2] += wg * dens * gap
                gauss[n - 1] += wg * dens * c2


@njit(cache=True)
def _tol(mode, j, tol, tol_derivative):
    """Relative tolerance of output j (the derivative E[d/(w-d)^2] has its own)."""
    if mode != MODE_MOMENTS and j == 1:
        return max(tol, tol_derivative)
    return tol


@njit(cache=True)
def _integrate(mode, code, sq, slope, dmax, s, center, breaks, tol, tol_derivative, out):
    """Adaptive Gauss-Kronrod over the panels between sorted ``breaks`` (t in [-Z_MAX, Z_MAX]).

    MODE_STIELTJES: out = (E[d/(w-d)], E[d/(w-d)^2]) at w = d_max + s (complex s); MODE_LOWER: the same
    at w = d_min + s.
    MODE_MOMENTS: out[j] = E[d^(j+1)] (j < n-2), out[n-2] = E[g], out[n-1] = E[(g - center)^2]
    with g = d_max - d (accurate also when the law is narrow: q* -> 0).
    Global bisection of the panel with the largest relative error until every output's error
    estimate |K15 - G7| is below its tolerance times its value (tol; tol_derivative for the
    derivative; math.inf in the density's Newton steps, which it only steers, and where near
    poles it carries the rounding noise of panels of size 1/Im w that cancel).  Returns (relative error
    estimate of out[0], in units of tol, times tol; converged)."""
    n = out.size
    A = np.empty(MAX_INTERVALS)
    B = np.empty(MAX_INTERVALS)
    V = np.empty((MAX_INTERVALS, n), dtype=np.complex128)
    E = np.empty((MAX_INTERVALS, n))
    kron = np.empty(n, dtype=np.complex128)
    gauss = np.empty(n, dtype=np.complex128)
    count = 0
    for i in range(breaks.size - 1):
        if breaks[i + 1] > breaks[i]:
            _panel(mode, code, sq, slope, dmax, s, center, breaks[i], breaks[i + 1], kron, gauss)
            A[count] = breaks[i]
            B[count] = breaks[i + 1]
            for j in range(n):
                V[count, j] = kron[j]
                E[count, j] = abs(kron[j] - gauss[j])
            count += 1
    total = np.zeros(n, dtype=np.complex128)
    err = np.zeros(n)
    while True:
        for j in range(n):
            total[j] = 0.0
            err[j] = 0.0
        for k in range(count):
            for j in range(n):
                total[j] += V[k, j]
                err[j] += E[k, j]
        done = True
        for j in range(n):
            if err[j] > _tol(mode, j, tol, tol_derivative) * abs(total[j]) + 1e-300:
                done = False
        if done:
            break
        if count >= MAX_INTERVALS - 1:
            worst = 0.0
            for j in range(n):
                worst = max(worst, err[j] / (_tol(mode, j, tol, tol_derivative) * abs(total[j]) + 1e-300)) * tol
            for j in range(n):
                out[j] = total[j]
            return worst, False
        best = -1.0
        kbest = 0
        for k in range(count):
            score = 0.0
            for j in range(n):
                score = max(score, E[k, j] / (_tol(mode, j, tol, tol_derivative) * abs(total[j]) + 1e-300))
            if score > best:
                best = score
                kbest = k
        a, b = A[kbest], B[kbest]
        mid = 0.5 * (a + b)
        _panel(mode, code, sq, slope, dmax, s, center, a, mid, kron, gauss)
        B[kbest] = mid
        for j in range(n):
            V[kbest, j] = kron[j]
            E[kbest, j] = abs(kron[j] - gauss[j])
        _panel(mode, code, sq, slope, dmax, s, center, mid, b, kron, gauss)
        A[count] = mid
        B[count] = b
        for j in range(n):
            V[count, j] = kron[j]
            E[count, j] = abs(kron[j] - gauss[j])
        count += 1
    worst = 0.0
    for j in range(n):
        out[j] = total[j]
        worst = max(worst, err[j] / (_tol(mode, j, tol, tol_derivative) * abs(total[j]) + 1e-300)) * tol
    return worst, True


@njit(cache=True)
def _law_moments(code, sq, slope, dmax, breaks, tol, kmax, out):
    """out[k-1] = E[d^k] for k = 1..kmax, out[kmax] = Var(d) = Var(d_max - d) (a centered integral
    of the accurately computed gap d_max - d: no cancellation when the law is narrow).
    Returns the converged flag."""
    buf = np.empty(kmax + 2, dtype=np.complex128)
    _, ok1 = _integrate(MODE_MOMENTS, code, sq, slope, dmax, 0.0j, 0.0, breaks, tol, tol, buf)
    for k in range(kmax):
        out[k] = buf[k].real
    mean_gap = buf[kmax].real
    _, ok2 = _integrate(MODE_MOMENTS, code, sq, slope, dmax, 0.0j, mean_gap, breaks, tol, tol, buf)
    out[kmax] = buf[kmax + 1].real
    return ok1 and ok2


@njit(cache=True)
def _log_abs(x):
    return math.log(abs(x)) if x != 0.0 else -math.inf


@njit(cache=True)
def _branch(code, sq, slope, dmax, dmin, s, lower, L, g, lsw2, breaks, tol, res):
    """On the real axis outside the law's support, at w = d_max + s (upper branch) or w = d_min + s
    (``lower``: s < 0, w - d formed as s - (d - d_min)): res = (log z, G = d log z / dw, m).
    Returns the converged flag of the integrals."""
    buf = np.empty(2, dtype=np.complex128)
    mode = MODE_LOWER if lower else MODE_STIELTJES
    if not lower:  # d_max - d known to an absolute NOISE d_max: relative ~ NOISE d_max / s near the maximum
        tol = max(tol, 4.0 * _gap_noise(code) * dmax / s)
    _, ok = _integrate(mode, code, sq, slope, dmax, s + 0.0j, 0.0, breaks, tol, tol, buf)
    m = buf[0].real
    dm = -buf[1].real
    w = (dmin if lower else dmax) + s
    a = 1.0 + L * (g - 1.0)
    res[0] = a * _log_abs(1.0 + m) + (L - 1.0) * _log_abs(m) + L * math.log(w) + L * lsw2
    if m == 0.0 or m == -1.0:
        res[1] = math.nan
    else:
        res[1] = dm * (a / (1.0 + m) + (L - 1.0) / m) + L / w
    res[2] = m
    return ok


@njit(cache=True)
def _at(code, sq, slope, dmax, dmin, x, upper, L, g, lsw2, breaks, tol, res):
    """_branch at w = d_max + exp(x) (upper) or w = d_min - exp(x) (lower); returns the flag."""
    if upper:
        return _branch(code, sq, slope, dmax, dmin, math.exp(x), False, L, g, lsw2, breaks, tol, res)
    return _branch(code, sq, slope, dmax, dmin, -math.exp(x), True, L, g, lsw2, breaks, tol, res)


@njit(cache=True)
def _root_of_g(code, sq, slope, dmax, dmin, a, ga, b, gb, upper, L, g, lsw2, breaks, tol, res):
    """The root of G = d log z / dw between log-variables a and b (G(a), G(b) of opposite signs) by the
    Illinois variant of regula falsi, to 1e-13 in the log variable.  Returns (root, evaluations, ok)."""
    ok = True
    its = 0
    side = 0
    c = 0.5 * (a + b)
    for _ in range(100):
        c = (a * gb - b * ga) / (gb - ga) if gb != ga else 0.5 * (a + b)
        if not (min(a, b) < c < max(a, b)):
            c = 0.5 * (a + b)
        ok &= _at(code, sq, slope, dmax, dmin, c, upper, L, g, lsw2, breaks, tol, res)
        its += 1
        gc = res[1]
        if gc == 0.0 or abs(b - a) < 1e-13:
            break
        if (gc > 0.0) == (gb > 0.0):
            b, gb = c, gc
            if side == -1:
                ga *= 0.5
            side = -1
        else:
            a, ga = c, gc
            if side == 1:
                gb *= 0.5
            side = 1
        if abs(b - a) < 1e-13:
            break
    return c, its, ok


@njit(cache=True)
def _scan(code, sq, slope, dmax, dmin, upper, x_start, x_stop, L, g, lsw2, breaks, tol, out):
    """Scan the log variable x from x_start down to x_stop by SCAN_RATIO for the first G <= 0 (the edge:
    G > 0 on the physical branch before it), refine by _root_of_g; or take the limit at x_stop.
    out = (edge position in s, log z there, d^2 log z / dw^2 (upper stationary edges), kind, evaluations)."""
    res = np.empty(3)
    step = math.log(SCAN_RATIO)
    ok_all = True
    x_prev = x_start
    x = x_start
    found = False
    its = 0
    while x > x_stop:
        x = max(x - step, x_stop)
        ok_all &= _at(code, sq, slope, dmax, dmin, x, upper, L, g, lsw2, breaks, tol, res)
        its += 1
        if res[1] <= 0.0:
            found = True
            break
        x_prev = x
    sign = 1.0 if upper else -1.0
    if not found:
        out[0] = sign * math.exp(x_stop)
        out[1] = res[0]
        out[2] = math.nan
        out[3] = EDGE_LIMIT if ok_all else EDGE_FAILED
        out[4] = its
        return
    g_here = res[1]  # G(x) <= 0 < G(x_prev)
    ok_all &= _at(code, sq, slope, dmax, dmin, x_prev, upper, L, g, lsw2, breaks, tol, res)
    x_e, n_eval, ok = _root_of_g(code, sq, slope, dmax, dmin, x, g_here, x_prev, res[1], upper, L, g, lsw2, breaks,
                                 tol, res)
    ok_all &= ok
    its += n_eval
    ok_all &= _at(code, sq, slope, dmax, dmin, x_e, upper, L, g, lsw2, breaks, tol, res)
    out[0] = sign * math.exp(x_e)
    out[1] = res[0]
    out[2] = math.nan
    if upper:  # curvature for the density's first guess below the edge
        s_e = math.exp(x_e)
        h = 1e-4 * s_e
        ok_all &= _branch(code, sq, slope, dmax, dmin, s_e + h, False, L, g, lsw2, breaks, tol, res)
        g_plus = res[1]
        ok_all &= _branch(code, sq, slope, dmax, dmin, s_e - h, False, L, g, lsw2, breaks, tol, res)
        out[2] = (g_plus - res[1]) / (2.0 * h)
    out[3] = EDGE_STATIONARY if ok_all else EDGE_FAILED
    out[4] = its


@njit(cache=True)
def _upper_edge(code, sq, slope, dmax, L, g, lsw2, breaks, tol, out):
    """The upper edge of the spectrum of J J^T: the first stationary point of log z(w) met coming
    from w = +inf along w > d_max, or the limit w -> d_max+ when there is none (taken at
    w - d_max = 1e-14 d_max, or 1e-9 d_max where _gap_noise limits the integrals' accuracy).
    out = (s_edge = w_edge - d_max, log z_edge, d^2 log z/dw^2 at the edge, kind, evaluations)."""
    res = np.empty(3)
    s_hi = 10.0 * (L + 1.0) * max(dmax, 1.0)
    for _ in range(12):
        _branch(code, sq, slope, dmax, 0.0, s_hi, False, L, g, lsw2, breaks, tol, res)
        if res[1] > 0.0:
            break
        s_hi *= 10.0
    s_lo = max(1e-14, 1e6 * _gap_noise(code)) * dmax
    _scan(code, sq, slope, dmax, 0.0, True, math.log(s_hi), math.log(s_lo), L, g, lsw2, breaks, tol, out)


@njit(cache=True)
def _lower_edge(code, sq, slope, dmax, dmin, L, lsw2, breaks, tol, out):
    """The lower edge for orthogonal weights when d_min > 0: the first stationary point of log z(w)
    met coming from w = 0+ along 0 < w < d_min (z -> 0 there), or the limit w -> d_min-.  Scanned
    in r = d_min - w from (1 - 1e-6) d_min (below, 1 + m = -w E[1/(d - w)] is lost to rounding)
    down to 1e-14 d_min.  out = (w_edge - d_min, log z_edge, nan, kind, evaluations)."""
    _scan(code, sq, slope, dmax, dmin, False, math.log((1.0 - 1e-6) * dmin), math.log(1e-14 * dmin), L, 0.0,
          lsw2, breaks, tol, out)


@njit(cache=True, parallel=True)
def _edges(code, sq, slope, dmax, dmin, depths, g, lsw2, breaks, tol, upper, lower):
    """Upper (and, for orthogonal weights with d_min > 0, lower) edges at every depth (independent items)."""
    for i in prange(depths.size):
        _upper_edge(code, sq, slope, dmax, float(depths[i]), g, lsw2, breaks, tol, upper[i])
        if dmin > 0.0 and g == 0.0:
            _lower_edge(code, sq, slope, dmax, dmin, float(depths[i]), lsw2, breaks, tol, lower[i])
        else:
            lower[i, 0] = math.nan
            lower[i, 1] = -math.inf
            lower[i, 2] = math.nan
            lower[i, 3] = EDGE_STATIONARY
            lower[i, 4] = 0


@njit(cache=True)
def _newton(code, sq, slope, dmax, L, g, lsw2, breaks, tol, log_target, s0, max_iter, state):
    """Solve log z(w) = log_target for s = w - d_max in the upper half plane of w from s0.

    state = (s, m, |residual|, iterations); returns True when converged (|F| < 1e-11,
    Im w > 0, Im m < 0)."""
    buf = np.empty(2, dtype=np.complex128)
    a = 1.0 + L * (g - 1.0)
    s = s0
    for it in range(max_iter):
        w = dmax + s
        # inside the support (Re s < 0), s + (d_max - d) cancels: rounding limits the relative
        # accuracy to ~1e-16 |s| / Im s; above it (Re s >= 0) nothing cancels
        tol_here = tol
        if s.real < 0.0:
            tol_here = max(tol, ROUNDING * abs(s) / max(s.imag, 1e-300))
        if tol_here > MAX_DENSITY_TOL:
            return False
        _, ok = _integrate(MODE_STIELTJES, code, sq, slope, dmax, s, 0.0, breaks, tol_here, NEWTON_DERIVATIVE_TOL,
                           buf)
        if not ok:
            return False
        m = buf[0]
        dm = -buf[1]
        F = a * cmath.log(1.0 + m) + (L - 1.0) * cmath.log(m) + L * cmath.log(w) + L * lsw2 - log_target
        state[0] = s
        state[1] = m
        state[2] = abs(F)
        state[3] = it
        if abs(F) < 1e-11:
            return w.imag > 0.0 and m.imag < 0.0
        dF = dm * (a / (1.0 + m) + (L - 1.0) / m) + L / w
        step = F / dF
        lam = 1.0
        for _ in range(40):
            trial = s - lam * step
            if (dmax + trial).imag > 0.0:
                break
            lam *= 0.5
        s = s - lam * step
    return False


@njit(cache=True)
def _density_path(code, sq, slope, dmax, L, g, lsw2, breaks, tol, log_x, eps, s_start, log_start,
                  s_edge, log_edge, curvature, density, s_out, converged):
    """The density of J J^T at x = exp(log_x[k]) (descending), by continuation from log_start
    (above the upper edge, real solution s_start) along z = x (1 + i eps).

    When a stationary upper edge is crossed the first guess is the square-root expansion
    w = w_e + i sqrt(2 (z_e - x) / z''); between targets, failed Newton solves halve the step.
    density[k] = -Im[(1 + m) / z] / pi.  Targets after a failure are left unconverged."""
    state = np.empty(4, dtype=np.complex128)
    phase = math.atan(eps)
    s_cur = s_start + 1e-300j
    lx_cur = log_start
    crossed = not (curvature > 0.0)
    for k in range(log_x.size):
        lx_target = log_x[k]
        guess_from_edge = False
        if not crossed and lx_target < log_edge:
            crossed = True
            guess_from_edge = True
        ok = False
        if guess_from_edge:
            z_e = math.exp(log_edge)
            x = math.exp(lx_target)
            delta = math.sqrt(2.0 * max(z_e - x, 0.0) / (z_e * curvature))
            ok = _newton(code, sq, slope, dmax, L, g, lsw2, breaks, tol, lx_target + 1j * phase,
                         s_edge + 1j * delta, 60, state)
            if ok:
                s_cur = state[0]
                lx_cur = lx_target
        if not ok:
            lx_here = lx_cur
            step = lx_target - lx_cur
            for _ in range(60):
                trial = lx_here + step
                if (step < 0.0 and trial < lx_target) or (step > 0.0 and trial > lx_target):
                    trial = lx_target
                if _newton(code, sq, slope, dmax, L, g, lsw2, breaks, tol, trial + 1j * phase, s_cur, 40, state):
                    s_cur = state[0]
                    lx_here = trial
                    if trial == lx_target:
                        ok = True
                        break
                    step *= 1.5
                else:
                    step *= 0.5
                    if abs(step) < 1e-14:
                        break
            lx_cur = lx_here
        if not ok:
            for j in range(k, log_x.size):
                density[j] = math.nan
                converged[j] = False
            return
        z = math.exp(lx_target) * (1.0 + 1j * eps)
        density[k] = -((1.0 + state[1]) / z).imag / math.pi
        s_out[k] = s_cur
        converged[k] = True
