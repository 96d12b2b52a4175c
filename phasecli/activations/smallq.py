"""Numba kernels: the length map at small q, where quadrature cannot resolve it.

For an activation with phi(0) = 0 the length map is Q(q) = sw2 E[phi(sqrt(q) z)^2] + sb2
with E[phi^2] = a1 q + d(q), a1 = lim E[phi^2] / q and d(q) = o(q) (docs/theory.md, "q* at
tiny sigma_b^2").  The fixed-point equation F(q) = Q(q) - q = sb2 + (sw2 a1 - 1) q + sw2 d(q)
balances sb2 against d(q) when sw2 a1 is near 1.  Quadrature gives E[phi^2] to a relative
1e-16, an absolute error 1e-16 q that swamps d(q) ~ q^2 once q < ~1e-12 (q* was stuck near
5e-16 for tanh at any sb2 below 1e-32).  Below ``small_q_limit(code)`` the deficit d(q) is
taken from its expansion instead (exact coefficients, below), and F is evaluated scaled by
sb2 in logarithms, so q* is resolved down to the smallest positive double:

- tanh: d = -2 q^2 + 17/3 q^3 - 62/3 q^4; erf: (4/pi)(-2 q^2 + 14/3 q^3 - 12 q^4);
  sin: -q^2 + 2/3 q^3 - 1/3 q^4 (E[z^2k] times the Taylor coefficients of phi^2);
- elu: -r q^1.5 + 7/8 q^2 - r q^2.5 + 31/48 q^3, r = sqrt(2/pi) (the branch x < 0 of
  (e^x - 1)^2 = sum (2^n - 2) x^n / n! against half-normal moments); selu: lambda^2 alpha^2 times that;
- hard_tanh: exactly d = -2 [q t phi(t) + (q - 1) Q(t)], t = 1/sqrt(q) (phi, Q the normal density
  and upper tail), written -2 exp(-t^2/2) B(q), B from erfc for q >= 0.005 and from its
  asymptotic series sqrt(q / 2 pi) sum_n (-1)^(n-1) 2n (2n-3)!! q^n below.

Activations not listed (relu, leaky_relu, abs, linear: exact; gelu, silu: d > 0, no tiny root;
softplus, sigmoid: phi(0) != 0) never need it: ``small_q_limit`` is 0 for them.
"""

import math

from phasecli.runtime.jit import njit
from phasecli.activations import CODE, SELU_ALPHA, SELU_LAMBDA

_TANH, _ERF, _ELU, _SELU, _SIN, _HARD_TANH = (CODE[n] for n in ("tanh", "erf", "elu", "selu", "sin", "hard_tanh"))
_R = math.sqrt(2.0 / math.pi)
_SELU_A1 = 0.5 * SELU_LAMBDA * SELU_LAMBDA * (1.0 + SELU_ALPHA * SELU_ALPHA)
_SELU_K = SELU_LAMBDA * SELU_LAMBDA * SELU_ALPHA * SELU_ALPHA
_LN_SMALLEST = math.log(5e-324)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def small_q_limit(code):
    """q below which F is taken from the expansion (0: never).  Chosen where the truncated
    expansion and quadrature have comparable error (about 1e-12 relative in d)."""
    if code == _TANH or code == _ERF or code == _SIN:
        return 3e-5
    if code == _ELU or code == _SELU:
        return 1e-6
    if code == _HARD_TANH:
        return 0.05
    return 0.0


@njit(cache=True)
def linear_coefficient(code):
    """a1 = lim_{q -> 0} E[phi(sqrt(q) z)^2] / q."""
    if code == _ERF:
        return 4.0 / math.pi
    if code == _SELU:
        return _SELU_A1
    return 1.0


@njit(cache=True)
def _hard_tanh_b(q):
    """B(q) > 0 with d(q) = -2 exp(-1/(2q)) B(q) for hard_tanh."""
    if q >= 0.005:
        t = 1.0 / math.sqrt(q)
        return q * t * _INV_SQRT2PI + (q - 1.0) * 0.5 * math.erfc(t / math.sqrt(2.0)) * math.exp(0.5 * t * t)
    total = 0.0
    term_df = 1.0  # (2n-3)!! q^n, starting at n = 1: (-1)!! q
    prev = math.inf
    for n in range(1, 200):
        term_df = q if n == 1 else term_df * (2 * n - 3) * q
        size = 2.0 * n * term_df
        if size >= prev or size < 1e-18 * abs(total):
            break
        total += size if n % 2 == 1 else -size
        prev = size
    return math.sqrt(q) * _INV_SQRT2PI * total


@njit(cache=True)
def deficit_scaled(code, q, ln_scale):
    """d(q) / exp(ln_scale), without underflow (see the module docstring for d)."""
    lq = math.log(q)
    if code == _HARD_TANH:
        b = _hard_tanh_b(q)
        return -2.0 * math.exp(-0.5 / q + math.log(b) - ln_scale)
    if code == _ELU or code == _SELU:
        k = _SELU_K if code == _SELU else 1.0
        return k * (-_R * math.exp(1.5 * lq - ln_scale) + 0.875 * math.exp(2.0 * lq - ln_scale)
                    - _R * math.exp(2.5 * lq - ln_scale) + 31.0 / 48.0 * math.exp(3.0 * lq - ln_scale))
    if code == _TANH:
        c2, c3, c4 = -2.0, 17.0 / 3.0, -62.0 / 3.0
    elif code == _ERF:
        f = 4.0 / math.pi
        c2, c3, c4 = -2.0 * f, 14.0 / 3.0 * f, -12.0 * f
    else:  # sin
        c2, c3, c4 = -1.0, 2.0 / 3.0, -1.0 / 3.0
    return c2 * math.exp(2.0 * lq - ln_scale) + c3 * math.exp(3.0 * lq - ln_scale) + c4 * math.exp(4.0 * lq - ln_scale)


@njit(cache=True)
def deficit_slope(code, q):
    """d'(q) (may underflow to 0, which is then exact enough: it is added to a1)."""
    if code == _HARD_TANH:
        t = 1.0 / math.sqrt(q)
        return -2.0 * (t * _INV_SQRT2PI * math.exp(-0.5 * t * t) + 0.5 * math.erfc(t / math.sqrt(2.0)))
    if code == _ELU or code == _SELU:
        k = _SELU_K if code == _SELU else 1.0
        s = math.sqrt(q)
        return k * (-1.5 * _R * s + 1.75 * q - 2.5 * _R * q * s + 31.0 / 16.0 * q * q)
    if code == _TANH:
        c2, c3, c4 = -2.0, 17.0 / 3.0, -62.0 / 3.0
    elif code == _ERF:
        f = 4.0 / math.pi
        c2, c3, c4 = -2.0 * f, 14.0 / 3.0 * f, -12.0 * f
    else:
        c2, c3, c4 = -1.0, 2.0 / 3.0, -1.0 / 3.0
    return q * (2.0 * c2 + q * (3.0 * c3 + 4.0 * c4 * q))


@njit(cache=True)
def excess_scaled(code, sw2, sb2, q, ln_scale):
    """F(q) / exp(ln_scale) = (sb2 + (sw2 a1 - 1) q + sw2 d(q)) / exp(ln_scale)."""
    b = sw2 * linear_coefficient(code) - 1.0
    total = sw2 * deficit_scaled(code, q, ln_scale)
    if sb2 > 0.0:
        total += math.exp(math.log(sb2) - ln_scale)
    if b != 0.0:
        total += b * math.exp(math.log(q) - ln_scale)
    return total


@njit(cache=True)
def small_q_root(code, sw2, sb2, top):
    """The root of F in (0, top] when F(0+) > 0 > F(top) (F is concave there: one root).

    Bisection in log q (F scaled by sb2, or by q when sb2 = 0), then in q to 2 ulp.
    Returns (q, iterations, residual) with residual = |F(q)| / q."""
    t_lo = _LN_SMALLEST
    t_hi = math.log(top)
    it = 0
    while t_hi - t_lo > 1e-9 and it < 200:
        t = 0.5 * (t_lo + t_hi)
        scale = math.log(sb2) if sb2 > 0.0 else t
        it += 1
        if excess_scaled(code, sw2, sb2, math.exp(t), scale) >= 0.0:
            t_lo = t
        else:
            t_hi = t
    lo = math.exp(t_lo)
    hi = math.exp(t_hi)
    if t_lo == _LN_SMALLEST:
        lo = 0.0
    while hi - lo > 4e-16 * hi and it < 400:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        scale = math.log(sb2) if sb2 > 0.0 else math.log(mid)
        it += 1
        if excess_scaled(code, sw2, sb2, mid, scale) >= 0.0:
            lo = mid
        else:
            hi = mid
    q = 0.5 * (lo + hi) if lo > 0.0 else hi
    lq = math.log(q)
    residual = abs(excess_scaled(code, sw2, sb2, q, lq))
    return q, it, residual
