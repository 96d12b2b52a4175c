"""A deviation-tracking NNGP / NTK oracle for hard-swish on normalized inputs, independent of ``phasecli``.

hard-swish phi(x) = x min(max(x + 3, 0), 6) / 6: 0 for x <= -3, x (x + 3) / 6 on [-3, 3], x for x >= 3.
Written from /work/shared/THEORY.md ("NNGP and NTK on a data set"); nothing is imported from phasecli.

Why not ``naive_ntk.kernels``: in the ordered phase K^l -> q* 11^T and the kernels' small eigenvalues are
the deviations from it (~ chi_1^l, 1e-40 at depth 100), which a plain float64 recursion loses.  Here every
diagonal is q* and a pair is carried as eps = 1 - K_ab / q*, Delta = 1 - Theta_ab / p (p the NTK diagonal):

    eps'   = sw2 D / q*,                       D = E[(phi(u1) - phi(u2))^2] / 2
    Delta' = (q* eps' + sw2 p (E + Tdot Delta)) / p',   E = E[(phi'(u1) - phi'(u2))^2] / 2,
    Tdot = W - E, W = E[phi'(u)^2],  p' = q* + sw2 W p

(u1, u2 at variance q*, correlation 1 - eps).  D and E are taken in the coordinates
u1,2 = sqrt(q*) (cos(t/2) a +- sin(t/2) b), t = arccos(1 - eps), a, b independent standard normals, where
u1 - u2 = 2 sqrt(q*) sin(t/2) b and u1 + u2 = 2 sqrt(q*) cos(t/2) a are exact: on one piece of phi the
difference is (u1 - u2)(u1 + u2 + 3) / 6 or u1 - u2 (and (u1 - u2) / 3 for phi'), and where u1, u2 straddle a
kink k (a window of width ~ |u1 - u2| in a) the differences are polynomials in u1 - k, u2 - k, so D and E keep
full relative accuracy for any eps.  Nested adaptive scipy.integrate.quad (epsrel 1e-12, no absolute
tolerance); the windows are integrated on their own, wherever they are: the kinks may sit far in the Gaussian
tail (q* = 0.08: 10.5 sigma) where the jumps of phi' still set E at tiny eps (E ~ sqrt(eps) there).  Eigenvalues of K = q* (11^T - Eps) and Theta = p (11^T - Delta) by mpmath
(50 digits) from the float64 deviations.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import integrate, optimize

Z = 40.0  # |a| range (the windows around the kinks are integrated wherever they are)
ZB = 12.0  # b range: the mass beyond is 4e-33
EPSREL = 1e-12
SQRT2PI = math.sqrt(2.0 * math.pi)


def phi(x):
    return 0.0 if x <= -3.0 else (x if x >= 3.0 else x * (x + 3.0) / 6.0)


def dphi(x):
    return 0.0 if x < -3.0 else (1.0 if x > 3.0 else (2.0 * x + 3.0) / 6.0)


def _piece(x):
    return 0 if x < -3.0 else (2 if x > 3.0 else 1)


def _pdf(z):
    return math.exp(-0.5 * z * z) / SQRT2PI


def _quad(f, pts):
    pts = sorted({p for p in pts if -Z <= p <= Z} | {-Z, Z})
    total = 0.0
    for lo, hi in zip(pts[:-1], pts[1:]):
        if hi <= lo:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            total += integrate.quad(f, lo, hi, epsabs=0.0, epsrel=EPSREL, limit=400)[0]
    return total


def _quad_on(f, lo, hi):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(f, lo, hi, epsabs=0.0, epsrel=EPSREL, limit=400)[0]


def gauss(f, kinks_z=()):
    """E[f(z)], z standard normal."""
    return _quad(lambda z: f(z) * _pdf(z), [0.0, -4.0, 4.0, *kinks_z])


def length(q):
    """(V, W) = (E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2])."""
    s = math.sqrt(q)
    ks = (-3.0 / s, 3.0 / s)
    return gauss(lambda z: phi(s * z) ** 2, ks), gauss(lambda z: dphi(s * z) ** 2, ks)


def q_star(sw2, sb2, q0=1.0):
    """The fixed point of q -> sw2 V(q) + sb2 reached from q0 (iteration, then a bracketed root)."""
    q = q0
    for _ in range(20000):
        new = sw2 * length(q)[0] + sb2
        if abs(new - q) <= 1e-13 * q:
            q = new
            break
        q = new
    def f(x):
        return sw2 * length(x)[0] + sb2 - x

    lo, hi = q * (1 - 1e-9), q * (1 + 1e-9)
    if f(lo) * f(hi) < 0.0:
        q = optimize.brentq(f, lo, hi, xtol=1e-300, rtol=1e-15)
    return q


def _dev(piece, k, t):
    """phi(k + t) - phi(k) on ``piece`` (0: x < -3, 1: |x| < 3, 2: x > 3), exactly (no difference of values)."""
    if piece == 0:
        return 0.0
    if piece == 2:
        return t
    return (2.0 * k + 3.0) * t / 6.0 + t * t / 6.0


def _same_piece(piece, dxy, sxy):
    """(phi(x) - phi(y), phi'(x) - phi'(y)) for x, y on one piece, from x - y and x + y."""
    if piece == 0:
        return 0.0, 0.0
    if piece == 2:
        return dxy, 0.0
    return dxy * (sxy + 3.0) / 6.0, dxy / 3.0


@functools.lru_cache(maxsize=4096)  # the chaotic phase's deviations settle on a fixed point
def deviations(q, eps):
    """(D, E) = (E[(phi(u1) - phi(u2))^2] / 2, E[(phi'(u1) - phi'(u2))^2] / 2) at variance q, correlation 1 - eps.

    Outer integral over b >= 0 (the integrand is even in b), inner over a.  For w = sqrt(q) sin(t/2) |b| <= 3 the
    a-line is cut into the parts where u1, u2 lie on one piece (exact differences) and the windows
    |sc a - k| < w around each kink k, where they straddle it; a window is integrated in a = (k + w tau) / sc,
    tau in [-1, 1], with u1 - k = w (tau + 1), u2 - k = w (tau - 1) exact, so a window far in the Gaussian tail
    or narrower than one ulp of k / sc is still integrated.  For w > 3 (eps not small) plain differences."""
    if eps <= 0.0:
        return 0.0, 0.0
    half = math.asin(math.sqrt(0.5 * min(eps, 2.0)))  # t / 2
    sq = math.sqrt(q)
    sc, ss = sq * math.cos(half), sq * math.sin(half)
    kinks = (-3.0, 3.0)

    def inner(b, which):
        w = ss * b
        dxy = 2.0 * w

        def plain(a):
            x, y = sc * a + w, sc * a - w
            px, py = _piece(x), _piece(y)
            if px == py:
                d = _same_piece(px, dxy, 2.0 * sc * a)[which]
            else:
                d = phi(x) - phi(y) if which == 0 else dphi(x) - dphi(y)
            return d * d * _pdf(a)

        if w > 3.0:
            return _quad(plain, [0.0, -4.0, 4.0] + [(k + s * w) / sc for k in kinks for s in (1.0, -1.0)])
        lo = [(k - w) / sc for k in kinks]
        hi = [(k + w) / sc for k in kinks]
        total = 0.0
        for a0, a1 in ((-Z, lo[0]), (hi[0], lo[1]), (hi[1], Z)):
            if a1 > a0:
                total += _quad_on(plain, a0, a1)
        for k in kinks:
            def window(tau, k=k):
                tx, ty = w * (tau + 1.0), w * (tau - 1.0)  # u1 - k > 0 > u2 - k
                px, py = (1, 0) if k < 0 else (2, 1)
                if which == 0:
                    d = _dev(px, k, tx) - _dev(py, k, ty)
                else:
                    d = (1.0 if px == 2 else (2.0 * (k + tx) + 3.0) / 6.0) - (0.0 if py == 0 else
                                                                              (2.0 * (k + ty) + 3.0) / 6.0)
                return d * d * _pdf((k + w * tau) / sc)

            total += (w / sc) * _quad_on(window, -1.0, 1.0)
        return total

    # the inner integral has a kink in b where the two windows meet (w = 3): a breakpoint
    cuts = sorted({0.0, 4.0, ZB} | ({3.0 / ss} if 3.0 / ss < ZB else set()))
    d = sum(_quad_on(lambda b: inner(b, 0) * _pdf(b), lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:]))
    e = sum(_quad_on(lambda b: inner(b, 1) * _pdf(b), lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:]))
    return d, e  # (1/2) * 2: the factor 1/2 of D, E and the two signs of b


def first_layer(X, sw2, sb2, q):
    """Rows scaled so that sw2 |x|^2 / d + sb2 = q, and eps^1_ab = sw2 |x_a - x_b|^2 / (2 d q)."""
    X = np.asarray(X, dtype=float)
    d = X.shape[1]
    Xn = X * (math.sqrt(d * (q - sb2) / sw2) / np.linalg.norm(X, axis=1))[:, None]
    m = X.shape[0]
    eps = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            if i != j:
                eps[i, j] = sw2 * float(np.sum((Xn[i] - Xn[j]) ** 2)) / (2.0 * d * q)
    return eps


def recursion(X, sw2, sb2, depths, pairs=None):
    """{depth: (q, eps, p, Delta)} (m x m deviation matrices) for a depth-L network (K^{L+1}, Theta^{L+1}).

    ``pairs``: only these (i, j) pairs are computed (each pair's recursion involves that pair alone)."""
    q = q_star(sw2, sb2)
    v, w = length(q)
    eps = first_layer(X, sw2, sb2, q)
    dl = eps.copy()
    p = q
    m = eps.shape[0]
    todo = [(i, j) for i in range(m) for j in range(i + 1, m)] if pairs is None else list(pairs)
    out = {}
    for depth in range(1, max(depths) + 1):
        p_new = q + sw2 * w * p
        e_new, d_new = eps.copy(), dl.copy()
        for i, j in todo:
            dd, ee = deviations(q, float(eps[i, j]))
            en = sw2 * dd / q
            dn = (q * en + sw2 * p * (ee + (w - ee) * dl[i, j])) / p_new
            e_new[i, j] = e_new[j, i] = en
            d_new[i, j] = d_new[j, i] = dn
        eps, dl, p = e_new, d_new, p_new
        if depth in depths:
            out[depth] = (q, eps.copy(), p, dl.copy())
    return out


def spectra(q, eps, p, dl):
    """(lambda_max, lambda_min, kappa, nngp_kappa) of Theta = p (11^T - Delta), K = q (11^T - Eps) (mpmath)."""
    import mpmath as mp

    mp.mp.dps = 50
    m = eps.shape[0]

    def eig(scale, dev):
        a = mp.matrix(m, m)
        for i in range(m):
            for j in range(m):
                a[i, j] = mp.mpf(scale) * (1 - mp.mpf(float(dev[i, j])))
        ev = sorted(mp.eigsy(a)[0][i] for i in range(m))
        return ev

    et = eig(p, dl)
    ek = eig(q, eps)
    return float(et[-1]), float(et[0]), float(et[-1] / et[0]), float(ek[-1] / ek[0])
