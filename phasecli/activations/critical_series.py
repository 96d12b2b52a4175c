"""The order-to-chaos line at tiny sigma_b^2, where root-solving chi_1 = 1 in float64 cannot resolve it:
the per-activation series of h = q E[phi'^2] - E[phi^2] and g = E[phi'^2] at small q (``series``; an
activation without an entry is root-solved as usual), and their inversion (``solve``).

docs/theory.md, "Critical line at tiny sigma_b^2".  With f(q) = E[phi(sqrt(q) z)^2] and
g(q) = E[phi'(sqrt(q) z)^2], the critical point is sw2 = 1/g(q) with q = sw2 f(q) + sb2, i.e.

    sb2 = h(q) / g(q),   h(q) = q g(q) - f(q),   sw2_critical = 1 / g(q),   q* = q.

For phi(0) = 0, h cancels to O(q^3) (tanh, erf, sin) or O(q^2) (elu, selu) or is exponentially
small (hard_tanh), so quadrature cannot give it once sb2 < ~1e-20.  Here h and g come from their
expansions (exact coefficients: the Taylor series of phi against the Gaussian moments
E[x^2k] = (2k-1)!! q^k; for elu / selu the series of erfcx in s = sqrt(q); for hard_tanh the
closed form with the Mills ratio), and sb2 = h/g is inverted for q in logarithms, so the line is
resolved down to sb2 = 5e-324.  As sb2 -> 0: sw2_critical -> 1/phi'(0)^2 (1 for tanh, sin,
elu, hard_tanh; pi/4 for erf; 1/(lambda^2 (1 + alpha^2)/2) for selu), from above, and q* -> 0.

Pure Python and scipy: a handful of scalar root solves per call.
"""

from __future__ import annotations

import math
from fractions import Fraction

import functools

import numpy as np

from phasecli.activations import SELU_ALPHA, SELU_LAMBDA

SB2_LIMIT = 1e-10  # below this sb2 (and at 0) the expansions are used: there root-solving loses digits of q*
_TERMS = 10


# ----------------------------------------------------------------------------- analytic phi: series in q
def _tanh_taylor(n):
    """Taylor coefficients of tanh x up to x^n (tanh' = 1 - tanh^2)."""
    t = [Fraction(0)] * (n + 1)
    for k in range(n):
        square = sum((t[i] * t[k - i] for i in range(k + 1)), Fraction(0))
        t[k + 1] = ((1 if k == 0 else 0) - square) / (k + 1)
    return t


def _sin_taylor(n):
    return [Fraction((-1) ** (k // 2), math.factorial(k)) if k % 2 else Fraction(0) for k in range(n + 1)]


def _erf_taylor(n):
    """Taylor coefficients of (sqrt(pi)/2) erf x = sum (-1)^j x^(2j+1) / (j! (2j+1))."""
    return [Fraction((-1) ** (k // 2), math.factorial(k // 2) * k) if k % 2 else Fraction(0) for k in range(n + 1)]


def _mul(a, b, n):
    return [sum((a[i] * b[k - i] for i in range(k + 1)), Fraction(0)) for k in range(n + 1)]


def _gauss_q_series(poly, terms):
    """E[p(sqrt(q) z)] as coefficients of q^k: the x^2k coefficient times (2k-1)!!."""
    out, double_factorial = [], 1
    for k in range(terms):
        if k:
            double_factorial *= 2 * k - 1
        out.append(poly[2 * k] * double_factorial)
    return out


def _analytic(taylor, scale):
    """(h, g) as coefficient lists in s = sqrt(q) (floats), scaled by ``scale`` (erf: 4/pi)."""
    n = 2 * _TERMS + 2
    phi = taylor(n)
    dphi = [phi[k + 1] * (k + 1) for k in range(n)] + [Fraction(0)]
    f = _gauss_q_series(_mul(phi, phi, n), _TERMS + 1)
    g = _gauss_q_series(_mul(dphi, dphi, n), _TERMS + 1)
    h = [Fraction(0)] + [g[k - 1] - f[k] for k in range(1, _TERMS + 1)]  # h = q g - f
    as_s = lambda c: [float(c[k // 2]) * scale if k % 2 == 0 else 0.0 for k in range(2 * len(c) - 1)]  # noqa: E731
    return as_s(h), as_s(g[:_TERMS + 1])


# ----------------------------------------------------------------------------- elu, selu: series in s
def _erfcx_series(scale, n):
    """erfcx(scale s) = sum (-scale s)^k / Gamma(k/2 + 1), coefficients of s^k."""
    return [(-scale) ** k / math.gamma(k / 2 + 1) for k in range(n + 1)]


def _elu(n=2 * _TERMS):
    """(h, g) of elu in s: g = 1/2 + erfcx(sqrt(2) s)/2, h = (s^2 - 1) erfcx(sqrt(2) s)/2 + erfcx(s/sqrt(2)) - 1/2;
    the coefficients of s^0..s^3 of h vanish exactly (h = s^4/8 - ...)."""
    a = _erfcx_series(math.sqrt(2.0), n)
    b = _erfcx_series(1.0 / math.sqrt(2.0), n)
    h = [0.0] * 4 + [0.5 * a[k - 2] - 0.5 * a[k] + b[k] for k in range(4, n + 1)]
    g = [0.5 + 0.5 * a[0]] + [0.5 * a[k] for k in range(1, n + 1)]
    return h, g


def _scaled(series, factor, offset=0.0):
    h, g = series
    return [factor * c for c in h], [offset + factor * g[0]] + [factor * c for c in g[1:]]


_SELU_K = SELU_LAMBDA ** 2 * SELU_ALPHA ** 2
_SERIES_BUILDERS = {
    "tanh": lambda: _analytic(_tanh_taylor, 1.0),
    "sin": lambda: _analytic(_sin_taylor, 1.0),
    "erf": lambda: _analytic(_erf_taylor, 4.0 / math.pi),
    "elu": _elu,
    # selu: h = lambda^2 alpha^2 h_elu, g = lambda^2 / 2 + lambda^2 alpha^2 (g_elu - 1/2)
    "selu": lambda: _scaled(_elu(), _SELU_K, 0.5 * SELU_LAMBDA ** 2 - 0.5 * _SELU_K),
}


@functools.cache
def series(name):
    """(h, g) coefficient lists of ``name`` (built on first use: importing this module stays cheap)."""
    return _SERIES_BUILDERS[name]()


SUPPORTED = (*_SERIES_BUILDERS, "hard_tanh")  # hard_tanh: the closed form with the Mills ratio (``_log_h_g``)


def has_series(name: str) -> bool:
    """True when the critical line of ``name`` below SB2_LIMIT comes from these expansions."""
    return name in SUPPORTED


def _log_series(coeffs, s, log_s):
    """ln of sum c_k s^k for s > 0 small, factoring out the leading power (no underflow)."""
    lead = next(k for k, c in enumerate(coeffs) if c != 0.0)
    total = 0.0
    for c in reversed(coeffs[lead:]):
        total = total * s + c
    return lead * log_s + math.log(total)


def _log_h_g(name, log_s):
    """(ln h, ln g) at s = exp(log_s)."""
    s = math.exp(log_s)
    if name == "hard_tanh":
        from scipy import special

        t = math.exp(-log_s)  # 1/sqrt(q): the kinks at +-1 are t standard deviations out
        if t > 20.0:  # 1/t - M(t) = 1/t^3 - 3/t^5 + 15/t^7 - ... (M the Mills ratio), to 1e-16 here
            inv2, term, total, n = 1.0 / (t * t), 1.0, 0.0, 0
            while abs(term) > 1e-18:
                total += term
                n += 1
                term *= -(2 * n + 1) * inv2
            log_excess = math.log(total) - 3.0 * math.log(t)
        else:
            log_excess = math.log(1.0 / t - math.sqrt(math.pi / 2.0) * special.erfcx(t / math.sqrt(2.0)))
        log_h = math.log(2.0) - 0.5 * t * t - 0.5 * math.log(2.0 * math.pi) + log_excess
        return log_h, math.log1p(-special.erfc(t / math.sqrt(2.0)))
    h, g = series(name)
    return _log_series(h, s, log_s), _log_series(g, s, log_s)


def limit_sw2(name: str) -> float:
    """sw2_critical at sb2 -> 0: 1 / phi'(0)^2 (1 / E[phi'^2] at q -> 0)."""
    return 1.0 if name == "hard_tanh" else 1.0 / series(name)[1][0]


def solve(name: str, sb2: float):
    """(sw2_critical, q*, root iterations) for sb2 in [0, SB2_LIMIT) (sb2 = 0: the limit, q* = 0)."""
    if sb2 == 0.0:
        return limit_sw2(name), 0.0, 0
    target = math.log(sb2)

    def excess(log_s):
        log_h, log_g = _log_h_g(name, log_s)
        return log_h - log_g - target

    lo, hi = -400.0, 0.5 * math.log(0.05 if name == "hard_tanh" else 1e-3)
    from scipy import optimize

    root, info = optimize.brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, full_output=True)
    log_g = _log_h_g(name, root)[1]
    return math.exp(-log_g), math.exp(2.0 * root), info.iterations
