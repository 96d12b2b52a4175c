"""Oracle for the critical line at tiny sigma_b^2, in high-precision arithmetic (mpmath); imports nothing
from phasecli.

On the critical line sw2 = 1/g(q) and sb2 = (q g(q) - f(q)) / g(q), f = E[phi(sqrt(q) z)^2],
g = E[phi'(sqrt(q) z)^2] (chi_1 = sw2 g = 1 at the fixed point q = sw2 f + sb2).  The root q is
found by the Illinois method in ln q, with f and g from:

- tanh, erf, sin: quadrature of the definitions at enough digits for the cancellation in q g - f
  ("quad"), or, for sb2 far below float64's reach of quadrature, the Taylor coefficients of phi
  and phi'^2 from mpmath's numerical differentiation against E[x^2k] = (2k-1)!! q^k ("taylor");
- elu, selu: the closed forms through the normal CDF (E[e^(a x); x < 0] = e^(a^2 q/2) Phi(-a sqrt q));
- hard_tanh: q g - f = E[(x^2 - 1 - q) 1{|x| > 1}], a tail integral without cancellation.
"""

import mpmath as mp

SELU_LAMBDA = mp.mpf("1.0507009873554804934193349852946")
SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")

PHI = {"tanh": mp.tanh, "erf": mp.erf, "sin": mp.sin}
DPHI = {"tanh": lambda x: 1 / mp.cosh(x) ** 2, "erf": lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-x * x),
        "sin": mp.cos}


def _density(z):
    return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)


def _h_g_quad(name, q):
    s = mp.sqrt(q)
    f = mp.quad(lambda z: PHI[name](s * z) ** 2 * _density(z), [-mp.inf, 0, mp.inf])
    g = mp.quad(lambda z: DPHI[name](s * z) ** 2 * _density(z), [-mp.inf, 0, mp.inf])
    return q * g - f, g


_TAYLOR = {}


def _h_g_taylor(name, q, terms=12):
    key = (name, mp.mp.dps)
    if key not in _TAYLOR:
        phi = mp.taylor(PHI[name], 0, 2 * terms + 2)
        dphi2 = mp.taylor(lambda x: DPHI[name](x) ** 2, 0, 2 * terms + 2)
        phi2 = [mp.fsum(phi[i] * phi[k - i] for i in range(k + 1)) for k in range(2 * terms + 2)]
        moments = [mp.fac2(2 * k - 1) for k in range(terms + 1)]
        _TAYLOR[key] = ([phi2[2 * k] * moments[k] for k in range(terms + 1)],
                        [dphi2[2 * k] * moments[k] for k in range(terms + 1)])
    f_c, g_c = _TAYLOR[key]
    f = mp.fsum(c * q ** k for k, c in enumerate(f_c))
    g = mp.fsum(c * q ** k for k, c in enumerate(g_c))
    return q * g - f, g


def _h_g_elu(q, scale_neg=1, scale_pos=1):
    s = mp.sqrt(q)
    e2 = mp.exp(2 * q) * mp.ncdf(-2 * s)  # E[e^(2x); x < 0]
    e1 = mp.exp(q / 2) * mp.ncdf(-s)  # E[e^x; x < 0]
    f = scale_pos * q / 2 + scale_neg * (e2 - 2 * e1 + mp.mpf(1) / 2)
    g = scale_pos / 2 + scale_neg * e2
    return q * g - f, g


def _h_g_hard_tanh(q):
    t = 1 / mp.sqrt(q)
    # z = t + y: the normal density there is density(t) exp(-t y - y^2/2), concentrated within 1/t of t
    tail = mp.quad(lambda y: (q * (t + y) ** 2 - 1 - q) * mp.exp(-t * y - y * y / 2), [0, 1 / t, 10 / t, 1, mp.inf])
    h = 2 * _density(t) * tail
    return h, mp.erf(t / mp.sqrt(2))


def h_g(name, q, method):
    if name in PHI:
        return _h_g_quad(name, q) if method == "quad" else _h_g_taylor(name, q)
    if name == "elu":
        return _h_g_elu(q)
    if name == "selu":
        return _h_g_elu(q, SELU_LAMBDA ** 2 * SELU_ALPHA ** 2, SELU_LAMBDA ** 2)
    if name == "hard_tanh":
        return _h_g_hard_tanh(q)
    raise KeyError(name)


def critical(name, sb2, q_bracket, method="quad", dps=60):
    """(sw2_critical, q*) as floats for sb2 > 0; q_bracket = (lo, hi) floats around the root."""
    with mp.workdps(dps):
        target = mp.log(mp.mpf(sb2))

        def excess(log_q):
            h, g = h_g(name, mp.exp(log_q), method)
            return mp.log(h) - mp.log(g) - target

        lo, hi = mp.log(mp.mpf(q_bracket[0])), mp.log(mp.mpf(q_bracket[1]))
        assert excess(lo) < 0 < excess(hi), (name, sb2, q_bracket)
        log_q = mp.findroot(excess, (lo, hi), solver="illinois", tol=mp.mpf(10) ** (-30))
        q = mp.exp(log_q)
        return float(1 / h_g(name, q, method)[1]), float(q)
