"""Oracle for q* at tiny sigma_b^2: the length map's fixed point in high-precision arithmetic
(mpmath), from the definition E[phi(sqrt(q) z)^2] by quadrature.  Imports nothing from phasecli."""

import mpmath as mp

PHI = {
    "tanh": mp.tanh,
    "erf": mp.erf,
    "sin": mp.sin,
    "elu": lambda x: x if x > 0 else mp.expm1(x),
    "hard_tanh": lambda x: max(-1, min(1, x)),
}


def second_moment(name, q):
    """E[phi(sqrt(q) z)^2], z standard normal, by mpmath quadrature (split at the kinks)."""
    phi = PHI[name]
    s = mp.sqrt(q)
    density = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731
    points = [-mp.inf, 0, mp.inf]
    if name == "hard_tanh":
        points = [-mp.inf, -1 / s, 0, 1 / s, mp.inf]
    return mp.quad(lambda z: phi(s * z) ** 2 * density(z), points)


def q_star(name, sw2, sb2, bracket, dps=80):
    """The root of sw2 E[phi^2] + sb2 - q in ``bracket`` (two floats), to ``dps`` digits."""
    with mp.workdps(dps):
        sw2, sb2 = mp.mpf(sw2), mp.mpf(sb2)
        # scaled by sb2 so that the residual is of order one near the root
        f = lambda q: (sw2 * second_moment(name, q) + sb2 - q) / sb2  # noqa: E731
        lo, hi = mp.mpf(bracket[0]), mp.mpf(bracket[1])  # F > 0 below the root, < 0 above
        assert f(lo) > 0 > f(hi)
        root = mp.findroot(f, (lo, hi), solver="illinois", tol=mp.mpf(10) ** (-dps + 10))
        return float(root)
