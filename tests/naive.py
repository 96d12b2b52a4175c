"""A slow, obviously-correct mean-field oracle, independent of ``phasecli``.

Everything here is written straight from /work/shared/THEORY.md with plain
scalar Python and ``scipy.integrate.quad``; nothing is imported from phasecli
(the activations are re-derived from their definitions, phi and phi' by hand).

Gaussian expectations E_z[f(z)], z ~ N(0, 1), are integrals of f(z) * pdf(z)
over [-Z, Z] with Z = 14 (the mass outside is 2e-44; the activations grow at
most linearly, so the truncation is far below the 1e-12 target), split at
0, +-4 and at every z where the activation's argument hits a kink, each piece
by ``quad`` with epsrel = 1e-12.  2-D expectations are nested: the outer
integral over z1, the inner over z2, each split at its kinks.

Speed is not a goal: a 2-D expectation costs ~0.1-1 s.
"""

from __future__ import annotations

import math
import warnings

from scipy import integrate, optimize

# ---------------------------------------------------------------------------
# activations: phi and phi' from the definitions
# ---------------------------------------------------------------------------

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)


def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _Phi(x):  # standard normal CDF
    return 0.5 * math.erfc(-x / SQRT2)


def _pdf(x):  # standard normal density
    return math.exp(-0.5 * x * x) / SQRT2PI


def _tanh(x, s):
    return math.tanh(x)


def _dtanh(x, s):
    if abs(x) > 300.0:
        return 0.0
    return 1.0 / math.cosh(x) ** 2


def _erf(x, s):
    return math.erf(x)


def _derf(x, s):
    return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


def _relu(x, s):
    return x if x > 0.0 else 0.0


def _drelu(x, s):
    return 1.0 if x > 0.0 else 0.0


def _leaky(x, s):
    return max(x, s * x)


def _dleaky(x, s):
    # derivative of max(x, s*x): the branch that is larger
    if s <= 1.0:
        return 1.0 if x > 0.0 else s
    return s if x > 0.0 else 1.0


def _elu(x, s):
    return x if x > 0.0 else math.expm1(x)


def _delu(x, s):
    return 1.0 if x > 0.0 else math.exp(x)


def _selu(x, s):
    return SELU_LAMBDA * (x if x > 0.0 else SELU_ALPHA * math.expm1(x))


def _dselu(x, s):
    return SELU_LAMBDA * (1.0 if x > 0.0 else SELU_ALPHA * math.exp(x))


def _gelu(x, s):
    return x * _Phi(x)


def _dgelu(x, s):
    return _Phi(x) + x * _pdf(x)


def _silu(x, s):
    return x * _sigmoid(x)


def _dsilu(x, s):
    g = _sigmoid(x)
    return g * (1.0 + x * (1.0 - g))


def _softplus(x, s):
    # log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), no overflow
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _dsoftplus(x, s):
    return _sigmoid(x)


def _sig(x, s):
    return _sigmoid(x)


def _dsig(x, s):
    g = _sigmoid(x)
    return g * (1.0 - g)


def _sin(x, s):
    return math.sin(x)


def _dsin(x, s):
    return math.cos(x)


def _linear(x, s):
    return x


def _dlinear(x, s):
    return 1.0


def _hardtanh(x, s):
    return min(1.0, max(-1.0, x))


def _dhardtanh(x, s):
    return 1.0 if -1.0 < x < 1.0 else 0.0


def _abs(x, s):
    return abs(x)


def _dabs(x, s):
    # sign(x); at the kink x = 0 either side's value (the quadratures split there)
    return 1.0 if x > 0.0 else -1.0


# name -> (phi, phi', kinks of phi or phi' on the x axis)
ACTS = {
    "tanh": (_tanh, _dtanh, ()),
    "erf": (_erf, _derf, ()),
    "relu": (_relu, _drelu, (0.0,)),
    "leaky_relu": (_leaky, _dleaky, (0.0,)),
    "elu": (_elu, _delu, (0.0,)),
    "selu": (_selu, _dselu, (0.0,)),
    "gelu": (_gelu, _dgelu, ()),
    "silu": (_silu, _dsilu, ()),
    "softplus": (_softplus, _dsoftplus, ()),
    "sigmoid": (_sig, _dsig, ()),
    "sin": (_sin, _dsin, ()),
    "linear": (_linear, _dlinear, ()),
    "hard_tanh": (_hardtanh, _dhardtanh, (-1.0, 1.0)),
    "abs": (_abs, _dabs, (0.0,)),
}
NAMES = tuple(ACTS)
ODD = ("tanh", "erf", "sin", "linear", "hard_tanh")


def phi(act, x, slope=0.01):
    return ACTS[act][0](x, slope)


def dphi(act, x, slope=0.01):
    return ACTS[act][1](x, slope)


# ---------------------------------------------------------------------------
# Gaussian expectations
# ---------------------------------------------------------------------------

Z = 14.0
EPSREL = 1e-12
EPSABS = 1e-16
LIMIT = 200


def gauss(f, breaks=()):
    """E_z[f(z)], z ~ N(0, 1), split at ``breaks`` (z values)."""
    pts = {-Z, -4.0, 0.0, 4.0, Z}
    pts.update(b for b in breaks if -Z < b < Z)
    pts = sorted(pts)
    total = size = errs = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        with warnings.catch_warnings():
            # "roundoff error detected" near epsrel = 1e-12 is expected; the error
            # estimate is checked below instead
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            val, err = integrate.quad(
                lambda z: f(z) * _pdf(z), a, b, epsabs=EPSABS, epsrel=EPSREL, limit=LIMIT
            )
        total += val
        size += abs(val)
        errs += err
    if errs > 1e-10 * size + 1e-15:
        raise RuntimeError(f"quadrature error estimate {errs:.3g} for integral {total:.3g}")
    return total


def _zkinks(act, q):
    sq = math.sqrt(q)
    return [k / sq for k in ACTS[act][2]]


def length_map(act, q, slope=0.01):
    """E_z[phi(sqrt(q) z)^2]."""
    f = ACTS[act][0]
    sq = math.sqrt(q)
    return gauss(lambda z: f(sq * z, slope) ** 2, _zkinks(act, q))


def dphi2(act, q, slope=0.01):
    """E_z[phi'(sqrt(q) z)^2]."""
    g = ACTS[act][1]
    sq = math.sqrt(q)
    return gauss(lambda z: g(sq * z, slope) ** 2, _zkinks(act, q))


def q_slope(act, q, sw2, slope=0.01):
    """Slope of the q-map: sw2 * d/dq E[phi(sqrt q z)^2] = sw2 * E[phi phi' z] / sqrt(q)."""
    f, g, _ = ACTS[act]
    sq = math.sqrt(q)
    e = gauss(lambda z: f(sq * z, slope) * g(sq * z, slope) * z, _zkinks(act, q))
    return sw2 * e / sq


def pair(act, q, c, slope=0.01):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) with u1 = sqrt(q) z1,
    u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2), by nested quadrature."""
    f, g, kinks = ACTS[act]
    sq = math.sqrt(q)
    if c == 1.0:
        return length_map(act, q, slope), dphi2(act, q, slope)
    if c == -1.0:
        zk = _zkinks(act, q) + [-k for k in _zkinks(act, q)]
        return (
            gauss(lambda z: f(sq * z, slope) * f(-sq * z, slope), zk),
            gauss(lambda z: g(sq * z, slope) * g(-sq * z, slope), zk),
        )
    s = math.sqrt((1.0 - c) * (1.0 + c))

    def inner(h, z1):
        # E_z2[h(sqrt(q) (c z1 + s z2))], split where the argument hits a kink
        m = c * z1
        breaks = [(k / sq - m) / s for k in kinks]
        return gauss(lambda z2: h(sq * (m + s * z2), slope), breaks)

    def outer(h):
        def integrand(z1):
            a = h(sq * z1, slope)
            if a == 0.0:
                return 0.0
            return a * inner(h, z1)

        return gauss(integrand, outer_breaks)

    # outer breaks: where u1 hits a kink, and around the z1 where the inner kink
    # z2 = (k/sqrt(q) - c z1)/s sweeps through the bulk: there the inner expectation
    # changes over a z1-width ~ s/|c|, tiny for c near +-1, which plain adaptive
    # quadrature could step over.
    outer_breaks = list(_zkinks(act, q))
    if c != 0.0:
        for k in kinks:
            z0 = k / (sq * c)
            w = s / abs(c)
            outer_breaks += [z0 + sign * j * w for j in (0.0, 0.5, 2.0, 8.0, 32.0) for sign in (1, -1)]
    return outer(f), outer(g)


# closed forms, to cross-check the nested quadrature


def erf_pair_closed(q, c):
    s11 = s22 = q
    s12 = q * c
    t = 2.0 / math.pi * math.asin(2.0 * s12 / math.sqrt((1.0 + 2.0 * s11) * (1.0 + 2.0 * s22)))
    td = 4.0 / math.pi / math.sqrt((1.0 + 2.0 * s11) * (1.0 + 2.0 * s22) - 4.0 * s12 * s12)
    return t, td


def relu_pair_closed(q, c):
    """Arc-cosine kernel q/(2 pi) (sqrt(1 - c^2) + (pi - arccos c) c) and (pi - arccos c)/(2 pi),
    evaluated without cancellation: with p = pi - arccos(c) = arccos(-c),
    sqrt(1 - c^2) + p c = sin p - p cos p, a series for small p."""
    p = math.acos(-c)
    if p < 0.1:
        h, term, k = 0.0, None, 1
        while True:
            term = (-1) ** (k + 1) * p ** (2 * k + 1) * (2 * k) / math.factorial(2 * k + 1)
            h += term
            if abs(term) < 1e-18 * abs(h):
                break
            k += 1
    else:
        h = math.sin(p) - p * math.cos(p)
    return q / (2.0 * math.pi) * h, p / (2.0 * math.pi)


def abs_pair_closed(q, c):
    """E[|u1| |u2|] = q (2/pi) (sqrt(1 - c^2) + c asin c) and E[sign u1 sign u2] = (2/pi) asin c
    (u1, u2 of variance q and correlation c).  From relu's kernel with |u| = 2 relu(u) - u:
    T = 4 T_relu - q c; P(sign u1 = sign u2) = 1 - arccos(c) / pi.  Both terms of T are >= 0
    for c in [-1, 1] (c asin c >= 0): no cancellation.  Checked against the nested quadrature."""
    c = max(-1.0, min(1.0, c))
    return q * 2.0 / math.pi * (math.sqrt((1.0 - c) * (1.0 + c)) + c * math.asin(c)), 2.0 / math.pi * math.asin(c)


# ---------------------------------------------------------------------------
# maps and fixed points
# ---------------------------------------------------------------------------


def q_map(act, q, sw2, sb2, slope=0.01):
    return sw2 * length_map(act, q, slope) + sb2


def q_residual(act, q, sw2, sb2, slope=0.01):
    """q-map(q) - q: positive below a stable fixed point, negative above it."""
    return q_map(act, q, sw2, sb2, slope) - q


def c_map(act, c, sw2, sb2, q, slope=0.01):
    return (sw2 * pair(act, q, c, slope)[0] + sb2) / q


def c_residual(act, c, sw2, sb2, q, slope=0.01):
    return c_map(act, c, sw2, sb2, q, slope) - c


def chi_1(act, sw2, q, slope=0.01):
    return sw2 * dphi2(act, q, slope)


def chi_c(act, sw2, q, c, slope=0.01):
    return sw2 * pair(act, q, c, slope)[1]


def q_star(act, sw2, sb2, q0=1.0, slope=0.01, maxiter=200000):
    """The fixed point forward iteration q <- sw2 * E[phi(sqrt q z)^2] + sb2 reaches
    from q0; inf if q grows without bound, 0 if the signal dies (sb2 = 0)."""
    q = float(q0)
    big, tiny = 1e15, 1e-30
    steps = []
    for it in range(maxiter):
        qn = q_map(act, q, sw2, sb2, slope)
        if qn > big:
            return math.inf
        if sb2 == 0.0 and qn < tiny:
            return 0.0
        steps.append(qn - q)
        done = abs(qn - q) <= 1e-14 * qn
        q = qn
        if done:
            break
        if it >= 1000 and all(0.0 < a <= b * (1.0 + 1e-9) for a, b in zip(steps[-200:-1], steps[-199:])):
            # growing by non-shrinking steps for 200 iterations (a convergent approach
            # to a fixed point has shrinking steps): linear drift, e.g. linear with
            # sw2 = 1; confirm there is no fixed point ahead on a geometric grid
            if all(q_residual(act, q * 2.0**k, sw2, sb2, slope) > 0 for k in range(0, 60)):
                return math.inf
    else:
        raise RuntimeError(f"q iteration did not converge: {act} sw2={sw2} sb2={sb2}")
    # polish: the stable fixed point is a down-crossing of q-map(q) - q
    if abs(q_residual(act, q, sw2, sb2, slope)) <= 1e-15 * q:
        return q
    for d in (1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
        lo, hi = q * (1.0 - d), q * (1.0 + d)
        rlo, rhi = q_residual(act, lo, sw2, sb2, slope), q_residual(act, hi, sw2, sb2, slope)
        if rlo == 0.0:
            return lo
        if rhi == 0.0:
            return hi
        if rlo > 0.0 > rhi:
            return optimize.brentq(
                lambda x: q_residual(act, x, sw2, sb2, slope), lo, hi, xtol=1e-300, rtol=1e-15
            )
    return q


def c_star(act, sw2, sb2, q, slope=0.01):
    """Largest root in [0, 1) of c-map(c) - c when chi_1 > 1 (chaotic), else 1."""
    if chi_1(act, sw2, q, slope) <= 1.0:
        return 1.0
    # f(c) = c-map(c) - c: f(1) = 0, f < 0 just below 1 (slope chi_1 > 1), f(0) >= 0
    grid = [1.0 - 1e-4, 0.999, 0.99, 0.97, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4,
            0.3, 0.2, 0.1, 0.05, 0.0]
    prev_c = None
    for cg in grid:
        fg = c_residual(act, cg, sw2, sb2, q, slope)
        if cg == 0.0 and abs(fg) < 1e-14:
            # odd activation with sb2 = 0: c = 0 is a fixed point (T(q, 0) = E[phi]^2 = 0)
            fg = 0.0
        if fg >= 0.0:
            if prev_c is None:
                raise RuntimeError("c-map residual not negative just below c = 1")
            if fg == 0.0:
                return cg
            return optimize.brentq(
                lambda x: c_residual(act, x, sw2, sb2, q, slope), cg, prev_c,
                xtol=1e-15, rtol=1e-15,
            )
        prev_c = cg
    raise RuntimeError("no sign change of the c-map residual on [0, 1)")
