"""Numba kernels for Gaussian expectations: quadrature rules, 1-D moments, two-point expectations.

Every function here is jitted and works on scalars or preallocated arrays; the mean field
(``phasecli.meanfield.kernels``), the two-point maps (``phasecli.maps``) and the kernel
recursions call them.  Equations refer to ``docs/theory.md`` section 2 ("Mean field: length
and correlation maps") and section 8 ("How it is computed").

Quadrature.  A 1-D expectation E[f(offset + scale * Z)] is taken with composite
Gauss-Legendre panels on z in [-Z_MAX, Z_MAX] (the normal density folded into the
weights).  Panels break at the activation's kinks and are refined where the activation
is non-linear (|u| < its active scale), so large variances (sharp tanh) are resolved.

Two-point expectations E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)]:
- closed forms by the registry's family: arcsine (erf), arc-cosine (relu, leaky_relu, abs), linear;
- piecewise activations (elu, selu, hard_tanh): u2 | z1 is Gaussian and the inner
  expectation of each linear / exponential piece has a closed form; the outer 1-D
  integral is split at the kinks and graded near the smoothed kinks;
- smooth activations: Mehler's formula, E[phi(u1) phi(u2)] = sum_k a_k^2 c^k with the
  normalized Hermite coefficients a_k of phi(sqrt(q) z), summed with a rigorous tail
  bound; where the bound is not small enough, nested quadrature.
"""

import math

import numpy as np

from phasecli.runtime.jit import njit, prange

from phasecli.activations import (CLOSED_FORM, EXP_ALPHA, EXP_LAMBDA, F_ARCSINE, F_LEAKY, F_LINEAR, F_RELU, P_CLIP,
                                  P_EXP, PIECEWISE_FORM)
from phasecli.activations.functions import (INV_SQRT2PI, SQRT2, activation_kind as _activation_kind,
                                            active_scale as _active_scale, d2phi as _d2phi,
                                            d2phi_at_zero as _d2phi_at_zero, dphi as _dphi,
                                            dphi2_at_zero as _dphi2_at_zero, kinks as _kinks,
                                            negative_slope as _negative_slope, phi as _phi,
                                            sigmoid as _sigmoid)  # noqa: F401 (K._sigmoid: the cache tests)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_NGL = 16
Z_MAX = 9.0
MAX_PANELS = 400
RULE_SIZE = MAX_PANELS * 16
HERMITE_TERMS_MIN = 64
HERMITE_TERMS = 256
HERMITE_TERMS_MAX = 1024
_SQRT_K = np.sqrt(np.arange(HERMITE_TERMS_MAX + 1, dtype=np.float64))


def _uniform_rules(panel_counts):
    """Composite Gauss-Legendre rules on [-Z_MAX, Z_MAX], normal density folded in, one row each."""
    size = max(panel_counts) * _NGL
    nodes = np.zeros((len(panel_counts), size))
    weights = np.zeros((len(panel_counts), size))
    for r, n_pan in enumerate(panel_counts):
        edges = np.linspace(-Z_MAX, Z_MAX, n_pan + 1)
        half = 0.5 * (edges[1] - edges[0])
        z = (0.5 * (edges[:-1] + edges[1:])[:, None] + half * _GL_X[None, :]).ravel()
        nodes[r, : z.size] = z
        weights[r, : z.size] = (half * _GL_W[None, :] * np.ones((n_pan, 1))).ravel() * np.exp(-0.5 * z * z) \
            / np.sqrt(2.0 * np.pi)
    return nodes, weights


# uniform rules with 12, 16, ... 48 panels: reused (no exp per node) whenever the whole
# z-range lies in the activation's active region and has no kinks
_UNIFORM_PANELS = np.array([12, 16, 20, 24, 28, 32, 40, 48])
_UNIFORM_Z, _UNIFORM_W = _uniform_rules(list(_UNIFORM_PANELS))



# ----------------------------------------------------------------------------- quadrature
@njit(cache=True)
def _sorted_breakpoints(values):
    """A sorted copy of a few finite breakpoints (insertion sort: the same order as np.sort, without
    compiling numba's quicksort into every kernel that builds a quadrature rule)."""
    b = values.copy()
    for i in range(1, b.size):
        v = b[i]
        j = i - 1
        while j >= 0 and b[j] > v:
            b[j + 1] = b[j]
            j -= 1
        b[j + 1] = v
    return b


@njit(cache=True)
def quadrature_rule(code, offset, scale, extra, n_extra, hz, hu, zs, ws):
    """Nodes zs and weights ws (normal density included) for E[f(offset + scale Z)].

    Breakpoints: +-Z_MAX, the activation's kinks, the edges of its active region and
    ``extra[:n_extra]`` (points in z).  Panels are at most ``hz`` wide in z and, inside
    the active region, at most ``hu`` wide in u.  Returns the node count.
    """
    bps = np.empty(16 + n_extra)
    bps[0] = -Z_MAX
    bps[1] = Z_MAX
    nb = 2
    ua = _active_scale(code)
    if scale > 0.0:
        kk = np.empty(4)
        nk = _kinks(code, kk)
        for i in range(nk):
            z = (kk[i] - offset) / scale
            if -Z_MAX < z < Z_MAX:
                bps[nb] = z
                nb += 1
        if ua < 1e300:
            for sgn in (-1.0, 1.0):
                z = (sgn * ua - offset) / scale
                if -Z_MAX < z < Z_MAX:
                    bps[nb] = z
                    nb += 1
    for i in range(n_extra):
        if -Z_MAX < extra[i] < Z_MAX:
            bps[nb] = extra[i]
            nb += 1
    b = _sorted_breakpoints(bps[:nb])
    # panel counts, then a uniform coarsening if the cap is exceeded
    counts = np.empty(nb - 1, dtype=np.int64)
    total = 0
    for i in range(nb - 1):
        width = b[i + 1] - b[i]
        if width <= 0.0:
            counts[i] = 0
            continue
        h = hz
        u_mid = offset + scale * 0.5 * (b[i] + b[i + 1])
        if scale > 0.0 and abs(u_mid) < ua:
            h = min(hz, hu / scale)
        counts[i] = max(1, int(math.ceil(width / h - 1e-9)))
        total += counts[i]
    if total > MAX_PANELS:
        fac = total / (MAX_PANELS - nb)
        for i in range(nb - 1):
            if counts[i] > 0:
                counts[i] = max(1, int(counts[i] / fac))
    n = 0
    for i in range(nb - 1):
        if counts[i] == 0:
            continue
        width = (b[i + 1] - b[i]) / counts[i]
        for p in range(counts[i]):
            lo = b[i] + p * width
            for j in range(_NGL):
                z = lo + 0.5 * width * (_GL_X[j] + 1.0)
                zs[n] = z
                ws[n] = 0.5 * width * _GL_W[j] * INV_SQRT2PI * math.exp(-0.5 * z * z)
                n += 1
    return n


@njit(cache=True)
def gauss_moments(code, q, slope):
    """(E[phi^2], E[phi'^2], d/dq E[phi^2]) at u = sqrt(q) z: the length map (docs/theory.md)."""
    family = CLOSED_FORM[code]
    if family == F_ARCSINE:
        phi2 = 2.0 / math.pi * math.asin(2.0 * q / (1.0 + 2.0 * q))
        dphi2 = 4.0 / (math.pi * math.sqrt(1.0 + 4.0 * q))
        return phi2, dphi2, 4.0 / (math.pi * (1.0 + 2.0 * q) * math.sqrt(1.0 + 4.0 * q))
    if family == F_RELU:
        return 0.5 * q, 0.5, 0.5
    if family == F_LEAKY:
        a = _negative_slope(code, slope)
        k = 0.5 * (1.0 + a * a)
        return k * q, k, k
    if family == F_LINEAR:
        return q, 1.0, 1.0
    if q <= 0.0:
        p0 = _phi(code, 0.0, slope)
        d2 = _dphi2_at_zero(code, slope)
        return p0 * p0, d2, d2 + p0 * _d2phi_at_zero(code)
    s = math.sqrt(q)
    if _activation_kind(code) == 2 and s * Z_MAX <= _active_scale(code):
        # smooth and nonlinear across the whole range: a precomputed uniform rule
        need = 2.0 * Z_MAX / min(1.5, 1.5 / s)
        r = 0
        while r < _UNIFORM_PANELS.shape[0] - 1 and _UNIFORM_PANELS[r] < need - 1e-9:
            r += 1
        if _UNIFORM_PANELS[r] >= need - 1e-9:
            n = _UNIFORM_PANELS[r] * _NGL
            phi2 = 0.0
            dphi2 = 0.0
            qs = 0.0
            for i in range(n):
                z = _UNIFORM_Z[r, i]
                w = _UNIFORM_W[r, i]
                f = _phi(code, s * z, slope)
                d = _dphi(code, s * z, slope)
                phi2 += w * f * f
                dphi2 += w * d * d
                qs += w * f * d * z
            return phi2, dphi2, qs / s
    zs = np.empty(RULE_SIZE)
    ws = np.empty(RULE_SIZE)
    n = quadrature_rule(code, 0.0, s, zs, 0, 1.5, 1.5, zs, ws)
    phi2 = 0.0
    dphi2 = 0.0
    qs = 0.0
    for i in range(n):
        u = s * zs[i]
        f = _phi(code, u, slope)
        d = _dphi(code, u, slope)
        phi2 += ws[i] * f * f
        dphi2 += ws[i] * d * d
        qs += ws[i] * f * d * zs[i]
    return phi2, dphi2, qs / s


@njit(cache=True)
def means(code, q, slope):
    """(E[phi], E[phi']) at u = sqrt(q) z."""
    if q <= 0.0:
        return _phi(code, 0.0, slope), _dphi(code, 0.0, slope)
    zs = np.empty(RULE_SIZE)
    ws = np.empty(RULE_SIZE)
    s = math.sqrt(q)
    n = quadrature_rule(code, 0.0, s, zs, 0, 1.5, 1.5, zs, ws)
    m = 0.0
    md = 0.0
    for i in range(n):
        m += ws[i] * _phi(code, s * zs[i], slope)
        md += ws[i] * _dphi(code, s * zs[i], slope)
    return m, md


@njit(cache=True)
def _Phi(x):
    return 0.5 * math.erfc(-x / SQRT2)


@njit(cache=True)
def _npdf(x):
    return INV_SQRT2PI * math.exp(-0.5 * x * x)


@njit(cache=True)
def _erfcx(x):
    """exp(x^2) erfc(x) for x >= 0."""
    if x < 25.0:
        return math.exp(x * x) * math.erfc(x)
    r = 1.0 / (x * x)
    return (1.0 - 0.5 * r * (1.0 - 1.5 * r * (1.0 - 2.5 * r * (1.0 - 3.5 * r)))) / (x * math.sqrt(math.pi))


@njit(cache=True)
def exp_below_zero(mu, sig):
    """E[exp(X) 1{X < 0}] for X ~ N(mu, sig^2), sig > 0, without overflow."""
    t = mu / sig
    a = -t - sig
    if a > 0.0:
        return math.exp(mu + 0.5 * sig * sig) * _Phi(a)
    return _npdf(t) * math.sqrt(0.5 * math.pi) * _erfcx(-a / SQRT2)


@njit(cache=True)
def _normal_mass(hi, width):
    """P(hi - width < Z < hi) without cancellation (Gauss-Legendre for short intervals).

    The width is passed separately: hi - width may round to hi when width << 1.
    """
    lo = hi - width
    if width < 1.0:
        total = 0.0
        half = 0.5 * width
        mid = hi - half
        for j in range(_NGL):
            total += _GL_W[j] * _npdf(mid + half * _GL_X[j])
        return half * total
    if lo >= 0.0:
        return _Phi(-lo) - _Phi(-hi)
    return _Phi(hi) - _Phi(lo)


@njit(cache=True)
def _expm1_below_zero(mu, sig):
    """E[(exp(X) - 1) 1{X < 0}] for X ~ N(mu, sig^2), sig > 0, accurate for tiny mu and sig."""
    t = mu / sig
    a = -t - sig
    m = mu + 0.5 * sig * sig
    if m < 700.0:
        # exp(m) Phi(a) - Phi(-t) = Phi(a) expm1(m) - P(a < Z < -t): no cancellation
        return _Phi(a) * math.expm1(m) - _normal_mass(-t, sig)
    return exp_below_zero(mu, sig) - _Phi(-t)


@njit(cache=True)
def _relu_mean(mu, sig):
    """E[max(X, 0)] for X ~ N(mu, sig^2), sig > 0."""
    t = mu / sig
    return mu * _Phi(t) + sig * _npdf(t)


@njit(cache=True)
def _inner_closed(code, mu, sig, slope):
    """(E[phi(X)], E[phi'(X)]) for X ~ N(mu, sig^2), piecewise activations, closed form."""
    if sig <= 0.0:
        return _phi(code, mu, slope), _dphi(code, mu, slope)
    t = mu / sig
    form = PIECEWISE_FORM[code]
    if form == P_CLIP:
        g = mu - _relu_mean(mu - 1.0, sig) + _relu_mean(-mu - 1.0, sig)
        gd = _Phi((1.0 - mu) / sig) - _Phi((-1.0 - mu) / sig)
        return g, gd
    pos = _relu_mean(mu, sig)
    p_pos = _Phi(t)
    if form == P_EXP:
        e_neg = exp_below_zero(mu, sig)
        em1_neg = _expm1_below_zero(mu, sig)
        lam = EXP_LAMBDA[code]
        alpha = EXP_ALPHA[code]
        return lam * (pos + alpha * em1_neg), lam * (p_pos + alpha * e_neg)
    family = CLOSED_FORM[code]
    if family == F_RELU:
        return pos, p_pos
    if family == F_LEAKY:
        a = _negative_slope(code, slope)
        return pos + a * (mu - pos), p_pos + a * _Phi(-t)
    return math.nan, math.nan


@njit(cache=True)
def _pair_closed(code, s11, s22, c, slope):
    """Closed forms: erf arcsine kernel, relu / leaky_relu arc-cosine kernel, linear."""
    n1 = math.sqrt(s11)
    n2 = math.sqrt(s22)
    family = CLOSED_FORM[code]
    if family == F_ARCSINE:
        a = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22)
        s12 = c * n1 * n2
        x = min(1.0, max(-1.0, 2.0 * s12 / math.sqrt(a)))
        return 2.0 / math.pi * math.asin(x), 4.0 / (math.pi * math.sqrt(a - 4.0 * s12 * s12))
    if family == F_LINEAR:
        return c * n1 * n2, 1.0
    # relu / leaky_relu / abs = relu(x) - a relu(-x):  T = n1 n2 ((1 + a^2) J(c) - 2 a J(-c))
    a = _negative_slope(code, slope)
    t = n1 * n2 * ((1.0 + a * a) * _arccos_j(c) - 2.0 * a * _arccos_j(-c))
    # P(u1 > 0, u2 > 0) = P(u1 < 0, u2 < 0) = (pi - acos c) / (2 pi) = acos(-c) / (2 pi)
    p_same = math.acos(-c) / (2.0 * math.pi)
    tdot = p_same * (1.0 + a * a) + a * math.acos(c) / math.pi
    return t, tdot


@njit(cache=True)
def _arccos_j(c):
    """Arc-cosine kernel of degree 1: E[relu(u1) relu(u2)] / sqrt(s11 s22) = (sqrt(1-c^2) + (pi - acos c) c) / (2 pi).

    For c < 0 it is evaluated as (sqrt(1-d^2) - d acos d) / (2 pi), d = -c, which keeps
    relative accuracy near c = -1 where the value vanishes like (1 + c)^(3/2).
    """
    if c >= 0.0:
        root = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
        return (root + (math.pi - math.acos(c)) * c) / (2.0 * math.pi)
    # c = -cos p: sqrt(1 - c^2) + (pi - acos c) c = sin p - p cos p
    p = math.acos(-c)
    if p > 0.5:
        return (math.sin(p) - p * math.cos(p)) / (2.0 * math.pi)
    # series: sum_k>=1 (-1)^(k+1) 2k p^(2k+1) / (2k+1)!  (no cancellation for small p)
    p2 = p * p
    term = p * p2 / 3.0
    total = term
    for k in range(2, 12):
        term *= -p2 / ((2.0 * k) * (2.0 * k + 1.0)) * (2.0 * k) / (2.0 * k - 2.0)
        total += term
    return total / (2.0 * math.pi)


@njit(cache=True)
def _smoothed_kink_breakpoints(code, mcoef, sig, extra):
    """Outer breakpoints (in z1) where u2 = mcoef z1 + sig z2 crosses a kink on average.

    There the inner expectation is a kink smoothed over a width sig / |mcoef|: the point
    itself and a geometric grading around it (0.25 .. 16 widths) are added to ``extra``.
    Returns the count written.
    """
    n_extra = 0
    kk = np.empty(4)
    nk = _kinks(code, kk)
    if mcoef != 0.0:
        width = sig / abs(mcoef)
        for i in range(nk):
            z0 = kk[i] / mcoef
            extra[n_extra] = z0
            n_extra += 1
            for g in (0.25, 1.0, 2.0, 4.0, 8.0, 16.0):
                if g * width < 1.0:
                    extra[n_extra] = z0 - g * width
                    extra[n_extra + 1] = z0 + g * width
                    n_extra += 2
    return n_extra


@njit(cache=True)
def piecewise_pair(code, n1, mcoef, sig, slope):
    """(T, Tdot) of a piecewise activation, u1 = n1 z1, u2 = mcoef z1 + sig z2.

    The inner expectation over z2 in closed form; the outer 1-D integral split at the
    kinks of phi(u1) and graded around the smoothed kinks of the inner expectation.
    """
    extra = np.empty(64)
    n_extra = _smoothed_kink_breakpoints(code, mcoef, sig, extra)
    zs = np.empty(RULE_SIZE)
    ws = np.empty(RULE_SIZE)
    n = quadrature_rule(code, 0.0, n1, extra, n_extra, 1.0, 1.0, zs, ws)
    t = 0.0
    tdot = 0.0
    for i in range(n):
        u1 = n1 * zs[i]
        g, gd = _inner_closed(code, mcoef * zs[i], sig, slope)
        t += ws[i] * _phi(code, u1, slope) * g
        tdot += ws[i] * _dphi(code, u1, slope) * gd
    return t, tdot


@njit(cache=True)
def pair_expectations(code, s11, s22, s12, slope, kind):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]), (u1, u2) ~ N(0, [[s11, s12], [s12, s22]]).

    kind: 0 closed form, 1 piecewise (inner closed form), 2 smooth and 3 kinked expression (nested quadrature).
    """
    if s11 <= 0.0 or s22 <= 0.0:
        return pair_corr(code, s11, s22, 0.0, slope, kind)
    n12 = s11 if s11 == s22 else math.sqrt(s11) * math.sqrt(s22)
    return pair_corr(code, s11, s22, min(1.0, max(-1.0, s12 / n12)), slope, kind)


@njit(cache=True)
def pair_corr(code, s11, s22, c, slope, kind):
    """Two-point expectations for variances s11, s22 and correlation c, given directly.

    Near |c| = 1 the results behave like sqrt(1 -+ c): passing c (not s12 = c sqrt(s11 s22))
    avoids magnifying a one-ulp rounding of c.
    """
    if s11 <= 0.0 or s22 <= 0.0:
        if s11 <= 0.0 and s22 <= 0.0:
            p0 = _phi(code, 0.0, slope)
            d0 = _dphi(code, 0.0, slope)
            return p0 * p0, d0 * d0
        m, md = means(code, max(s11, s22), slope)
        return _phi(code, 0.0, slope) * m, _dphi(code, 0.0, slope) * md
    if kind == 0:
        return _pair_closed(code, s11, s22, c, slope)
    n1 = math.sqrt(s11)
    n2 = math.sqrt(s22)
    # u2 = mcoef z1 + sig z2
    mcoef = n2 * c
    sig = n2 * math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    if kind == 1:
        return piecewise_pair(code, n1, mcoef, sig, slope)
    return nested_pair(code, n1, mcoef, sig, slope, kind == 3, False)


@njit(cache=True)
def nested_pair(code, n1, mcoef, sig, slope, graded, second):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) by nested quadrature, u1 = n1 z1, u2 = mcoef z1 + sig z2.

    The inner rule breaks at the kinks of phi(u2); with ``graded`` (kinked expressions) the outer rule
    is also graded around the inner expectation's smoothed kinks (``_smoothed_kink_breakpoints``).
    With ``second``: (E[s(u1) s(u2)], 0), s = phi'' off the kinks (its delta functions left out).
    """
    zs = np.empty(RULE_SIZE)
    ws = np.empty(RULE_SIZE)
    if graded:
        extra = np.empty(64)
        n_extra = _smoothed_kink_breakpoints(code, mcoef, sig, extra)
        n = quadrature_rule(code, 0.0, n1, extra, n_extra, 0.75, 1.0, zs, ws)
    else:
        n = quadrature_rule(code, 0.0, n1, zs, 0, 0.75, 1.0, zs, ws)
    t = 0.0
    tdot = 0.0
    zi = np.empty(RULE_SIZE)
    wi = np.empty(RULE_SIZE)
    for i in range(n):
        u1 = n1 * zs[i]
        mu = mcoef * zs[i]
        if second:
            a = _d2phi(code, u1)
            if a == 0.0:
                continue
            if sig > 0.0:
                ni = quadrature_rule(code, mu, sig, zi, 0, 0.75, 1.0, zi, wi)
                g = 0.0
                for j in range(ni):
                    g += wi[j] * _d2phi(code, mu + sig * zi[j])
            else:
                g = _d2phi(code, mu)
            t += ws[i] * a * g
            continue
        if sig > 0.0:
            ni = quadrature_rule(code, mu, sig, zi, 0, 0.75, 1.0, zi, wi)
            g = 0.0
            gd = 0.0
            for j in range(ni):
                u2 = mu + sig * zi[j]
                g += wi[j] * _phi(code, u2, slope)
                gd += wi[j] * _dphi(code, u2, slope)
        else:
            g = _phi(code, mu, slope)
            gd = _dphi(code, mu, slope)
        t += ws[i] * _phi(code, u1, slope) * g
        tdot += ws[i] * _dphi(code, u1, slope) * gd
    return t, tdot


@njit(cache=True)
def quadrature_pair(code, n1, mcoef, sig, slope):
    """(T, Tdot) with u1 = n1 z1, u2 = mcoef z1 + sig z2 for the activations without closed-form pairs that
    have kinks: piecewise ones (inner expectation in closed form, ``piecewise_pair``) and kinked expressions
    (graded nested quadrature, ``nested_pair``)."""
    if _activation_kind(code) == 3:
        return nested_pair(code, n1, mcoef, sig, slope, True, False)
    return piecewise_pair(code, n1, mcoef, sig, slope)


@njit(cache=True)
def _hermite_coefficients(code, q, slope, coef, hz):
    """a_k = E[phi(sqrt(q) z) He_k(z)] / sqrt(k!), k < len(coef) (dual-activation expansion).

    Returns E[phi''(sqrt(q) z)^2], which bounds the tail of the derivative series.
    """
    zs = np.empty(RULE_SIZE)
    ws = np.empty(RULE_SIZE)
    s = math.sqrt(q)
    n = quadrature_rule(code, 0.0, s, zs, 0, hz, 1.5, zs, ws)
    kmax = coef.shape[0]
    wf = np.empty(n)
    h_prev = np.ones(n)
    h = zs[:n].copy()
    d2 = 0.0
    c0 = 0.0
    c1 = 0.0
    for i in range(n):
        wf[i] = ws[i] * _phi(code, s * zs[i], slope)
        g = _d2phi(code, s * zs[i])
        d2 += ws[i] * g * g
        c0 += wf[i]
        c1 += wf[i] * zs[i]
    coef[0] = c0
    if kmax > 1:
        coef[1] = c1
    _hermite_recurrence(zs, wf, h, h_prev, n, coef)
    return d2


@njit(cache=True, fastmath=True)
def _hermite_recurrence(zs, wf, h, h_prev, n, coef):
    """coef[k] = sum_i wf_i h_k(z_i), k >= 2, normalized Hermite h_k by recurrence.

    fastmath only lets the sum over nodes be reassociated (vectorized); all inputs are finite.
    """
    for k in range(1, coef.shape[0] - 1):
        a_k = _SQRT_K[k]
        inv = 1.0 / _SQRT_K[k + 1]
        acc = 0.0
        for i in range(n):
            h_next = (zs[i] * h[i] - a_k * h_prev[i]) * inv
            h_prev[i] = h[i]
            h[i] = h_next
            acc += wf[i] * h_next
        coef[k + 1] = acc


@njit(cache=True)
def _series(coef, c):
    """(sum a_k^2 c^k, sum k a_k^2 c^(k-1)) by Horner."""
    kmax = coef.shape[0]
    s = 0.0
    d = 0.0
    for k in range(kmax - 1, -1, -1):
        a2 = coef[k] * coef[k]
        s = s * c + a2
        if k > 0:
            d = d * c + k * a2
    return s, d


@njit(cache=True)
def _tail_interval(c, kmax, r0, r1):
    """Bounds on sum_{k >= kmax} b_k c^k given b_k >= 0, sum b_k = r0, sum k b_k <= r1 + kmax r0.

    Upper: c^kmax r0 (|c| < 1).  Lower (c >= 0): r0 - (1 - c) * sum k b_k, from 1 - c^k <= k (1 - c).
    """
    ac = abs(c)
    upper = ac ** kmax * r0
    if c >= 0.0:
        lower = max(0.0, r0 - (1.0 - c) * r1)
        return 0.5 * (upper + lower), 0.5 * (upper - lower)
    return 0.0, upper


@njit(cache=True)
def mehler(coef, tails, c, q, phi2, dphi2):
    """Mehler series at correlation c plus its certified tail: (T, Tdot, ok).

    ``tails`` = (R0, R1, R2), the tails of sum a_k^2, sum k a_k^2, sum k (k - 1) a_k^2
    beyond the computed terms, known exactly from E[phi^2], q E[phi'^2], q^2 E[phi''^2].
    ok is False when the tail is not pinned to 1e-12 relative.
    """
    kmax = coef.shape[0]
    s, d = _series(coef, c)
    t_tail, t_err = _tail_interval(c, kmax, tails[0], tails[1])
    # derivative series sum k a_k^2 c^(k-1): terms b_k = k a_k^2, one power lower
    d_tail, d_err = _tail_interval(c, kmax - 1, tails[1], tails[2])
    ok = t_err <= 1e-12 * phi2 and d_err <= 1e-12 * q * dphi2
    return s + t_tail, (d + d_tail) / q, ok


@njit(cache=True)
def mehler_setup(code, q, slope, kmax, hz, phi2, dphi2):
    """Hermite coefficients a_0..a_{kmax-1} of phi(sqrt(q) z) and the tails (R0, R1, R2)."""
    coef = np.zeros(kmax)
    tails = np.zeros(3)
    d2phi2 = _hermite_coefficients(code, q, slope, coef, hz)
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    for k in range(kmax):
        a2 = coef[k] * coef[k]
        s0 += a2
        s1 += k * a2
        s2 += k * (k - 1.0) * a2
    # rounding of the totals (1e-15 relative) is kept inside the tails
    tails[0] = max(0.0, phi2 - s0) + 1e-15 * phi2
    tails[1] = max(0.0, q * dphi2 - s1) + 1e-15 * q * dphi2
    tails[2] = max(0.0, q * q * d2phi2 - s2) + 1e-15 * q * q * d2phi2
    return coef, tails


# ----------------------------------------------------------------------------- vectorized primitives
@njit(parallel=True, cache=True)
def moments_array(code, qs, slope, phi2, dphi2, slope_q):
    for i in prange(qs.shape[0]):
        a, b, c = gauss_moments(code, qs[i], slope)
        phi2[i] = a
        dphi2[i] = b
        slope_q[i] = c


@njit(parallel=True, cache=True)
def pair_corr_array(code, q, c, slope, t, tdot):
    kind = _activation_kind(code)
    for i in prange(q.shape[0]):
        a, b = pair_corr(code, q[i], q[i], c[i], slope, kind)
        t[i] = a
        tdot[i] = b


@njit(parallel=True, cache=True)
def pair_array(code, s11, s22, s12, slope, t, tdot):
    kind = _activation_kind(code)
    for i in prange(s11.shape[0]):
        a, b = pair_expectations(code, s11[i], s22[i], s12[i], slope, kind)
        t[i] = a
        tdot[i] = b
