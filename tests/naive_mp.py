"""High-precision reference of the data-as-given NNGP / NTK recursion (mpmath; imports nothing from phasecli).

THEORY.md, "NNGP and NTK on a data set", taken literally at ``dps`` digits (default 80):

    K^1 = Theta^1 = sw2 X X^T / d + sb2        (the float64 inputs converted exactly)
    K^{l+1} = sw2 T(K^l) + sb2,   Theta^{l+1} = K^{l+1} + sw2 Tdot(K^l) * Theta^l

with T, Tdot of the actual 2x2 covariance (s1, s2, K12), c = K12 / sqrt(s1 s2):

- relu: T = sqrt(s1 s2) (sin t + (pi - t) cos t) / (2 pi), Tdot = (pi - t) / (2 pi), t = acos(c);
- erf:  T = (2/pi) asin(2 K12 / sqrt((1 + 2 s1)(1 + 2 s2))), Tdot = (4/pi) / sqrt((1 + 2 s1)(1 + 2 s2) - 4 K12^2);
- tanh: Mehler's expansion T = sum_k c^k b_k(s1) b_k(s2), Tdot = sum_k k c^(k-1) b_k(s1) b_k(s2) / sqrt(s1 s2)
  (k odd) with the normalized Hermite coefficients b_k(s) = E[tanh(sqrt(s) z) He_k(z)] / sqrt(k!), computed by
  the trapezoidal rule on z in [-18, 18] with a step h <= 0.063 x the distance pi / (2 sqrt(s)) of tanh's
  poles from the real axis (error ~ exp(-2 pi d / h) < 1e-43 before the growth of He_k); a pair's series
  ends when four terms in a row are below 1e-32 of the leading one.  The diagonal E[tanh^2], E[sech^4] by
  the same trapezoid rule directly.  Slow (Python mpmath): keep m small (checked against direct 2-D
  quadrature by ``tanh_gaussian_check``: agreement 1e-30 at 30 digits).

Spectra by ``mpmath.eigsy``; kappa = lambda_max / lambda_min of Theta (and of K for the NNGP).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

Z_MAX = 18  # trapezoid range for the Hermite coefficients (the integrand is below e^{-z^2/4})
SERIES_TOL = mp.mpf("1e-32")  # a pair's Mehler series ends when four terms in a row are below this (relative)


FIX = 280  # fixed-point bits of the Hermite table and its dot products (~84 digits; integers are exact and fast)


def _fix(x) -> int:
    return int(mp.nint(mp.ldexp(x, FIX)))


class _Grid:
    """Trapezoid nodes z_i = i h (i >= 1; the integrands are even) and the table He_k(z_i) / sqrt(k!),
    in fixed point (integers scaled by 2^FIX)."""

    def __init__(self, h):
        self.h = h
        n = int(Z_MAX / h) + 1
        self.z = [h * i for i in range(1, n + 1)]
        self.w = [2 * h * mp.exp(-zi * zi / 2) / mp.sqrt(2 * mp.pi) for zi in self.z]
        self.w0 = h / mp.sqrt(2 * mp.pi)  # the node z = 0
        self.zf = [_fix(zi) for zi in self.z]
        self.table = [[1 << FIX] * n, list(self.zf)]

    def row(self, k):
        while len(self.table) <= k:
            j = len(self.table) - 1  # He_{j+1} = z He_j - j He_{j-1}, normalized by sqrt((j+1)!)
            a, b = self.table[j], self.table[j - 1]
            sj, inv = _fix(mp.sqrt(j)), _fix(1 / mp.sqrt(j + 1))
            self.table.append([((zi * x - sj * y) >> FIX) * inv >> FIX for zi, x, y in zip(self.zf, a, b)])
        return self.table[k]


class _TanhRow:
    """tanh(sqrt(s) z): V, W by the trapezoid rule, and the Hermite coefficients b_k (odd k) on demand."""

    def __init__(self, s, grids):
        d = mp.pi / (2 * mp.sqrt(s))  # distance of the nearest pole of tanh(sqrt(s) z) from the real axis
        level = max(0, int(math.ceil(2 * math.log2(float(mp.mpf("0.4") / (d * mp.mpf("0.063")))))))
        if level not in grids:  # h = 0.4 / sqrt(2)^level <= 0.063 d: exp(-2 pi d / h) < 1e-43
            grids[level] = _Grid(mp.mpf("0.4") / mp.sqrt(2) ** level)
        self.grid = grid = grids[level]
        rs = mp.sqrt(s)
        th = [mp.tanh(rs * zi) for zi in grid.z]
        self.f = [_fix(wi * t) for wi, t in zip(grid.w, th)]
        self.v = mp.fsum(wi * t * t for wi, t in zip(grid.w, th))
        self.w = grid.w0 + mp.fsum(wi * (1 - t * t) ** 2 for wi, t in zip(grid.w, th))
        self.b = {}

    def coef(self, k):
        hit = self.b.get(k)
        if hit is None:
            acc = sum(x * y for x, y in zip(self.f, self.grid.row(k)))
            hit = self.b[k] = mp.ldexp(mp.mpf(acc), -2 * FIX)
        return hit


def _tanh_pair(r1, r2, c, s1, s2):
    """Mehler: T = sum_{k odd} c^k b_k b_k',  Tdot = sum_{k odd} k c^(k-1) b_k b_k' / sqrt(s1 s2)."""
    lead = abs(r1.coef(1) * r2.coef(1))
    t = tdot = mp.mpf(0)
    ck1 = mp.mpf(1)  # c^(k-1)
    small = 0
    k = 1
    while small < 4 and k < 6000:
        term = r1.coef(k) * r2.coef(k) * ck1
        t += term * c
        tdot += k * term
        small = small + 1 if abs(term) * k <= SERIES_TOL * lead else 0
        ck1 *= c * c
        k += 2
    if k >= 6000:
        raise ArithmeticError("Mehler series did not converge")
    return t, tdot / mp.sqrt(s1 * s2)


def _pair(act, s1, s2, k12, herm):
    """(T, Tdot) at the covariance [[s1, k12], [k12, s2]]."""
    if act == "relu":
        r = mp.sqrt(s1 * s2)
        c = max(mp.mpf(-1), min(mp.mpf(1), k12 / r))
        t = mp.acos(c)
        return r * (mp.sin(t) + (mp.pi - t) * c) / (2 * mp.pi), (mp.pi - t) / (2 * mp.pi)
    if act == "erf":
        a = (1 + 2 * s1) * (1 + 2 * s2)
        return 2 / mp.pi * mp.asin(2 * k12 / mp.sqrt(a)), 4 / (mp.pi * mp.sqrt(a - 4 * k12 * k12))
    if act == "tanh":
        rows = herm["rows"]
        r1, r2 = rows[id(s1)], rows[id(s2)]
        if s1 == s2 and k12 == s1:
            return r1.v, r1.w
        return _tanh_pair(r1, r2, k12 / mp.sqrt(s1 * s2), s1, s2)
    raise ValueError(act)


def reference(act, X, sw2, sb2, depths, dps=80):
    """{depth: dict(kappa, nngp_kappa, lambda_min, lambda_max, nngp_lambda_min, K, Theta)} of a depth-L network
    (K^{L+1}, Theta^{L+1}) on the rows of X (float64, converted exactly), as mpmath numbers (K, Theta:
    lists of rows)."""
    depths = sorted(set(int(x) for x in depths))
    with mp.workdps(dps):
        X = np.asarray(X, dtype=np.float64)
        m, d = X.shape
        herm = {"grids": {}, "rows": {}}
        xm = [[mp.mpf(float(v)) for v in row] for row in X]
        sw2m, sb2m = mp.mpf(sw2), mp.mpf(sb2)
        k = [[sw2m * mp.fdot(xm[a], xm[b]) / d + sb2m for b in range(m)] for a in range(m)]
        th = [row[:] for row in k]
        out = {}
        for depth in range(1, depths[-1] + 1):
            if act == "tanh":
                herm["rows"] = {id(k[a][a]): _TanhRow(k[a][a], herm["grids"]) for a in range(m)}
            kn = [[None] * m for _ in range(m)]
            tn = [[None] * m for _ in range(m)]
            for a in range(m):
                for b in range(a, m):
                    t, tdot = _pair(act, k[a][a], k[b][b], k[a][b], herm)
                    kn[a][b] = kn[b][a] = sw2m * t + sb2m
                    tn[a][b] = tn[b][a] = kn[a][b] + sw2m * tdot * th[a][b]
            k, th = kn, tn
            if depth in depths:
                ev = sorted(mp.eigsy(mp.matrix(th), eigvals_only=True))
                evk = sorted(mp.eigsy(mp.matrix(k), eigvals_only=True))
                out[depth] = dict(kappa=ev[-1] / ev[0], nngp_kappa=evk[-1] / evk[0], lambda_min=ev[0],
                                  lambda_max=ev[-1], nngp_lambda_min=evk[0], K=k, Theta=th)
        return out


def tanh_gaussian_check(s, c, dps=40):
    """(T, Tdot) of tanh at equal variances s and correlation c by direct 2-D mpmath quadrature, and by the
    Hermite route: a self-test of the reference (slow: seconds)."""
    with mp.workdps(dps):
        s, c = mp.mpf(s), mp.mpf(c)
        rs = mp.sqrt(s)
        sc = mp.sqrt(1 - c * c)
        dens = 1 / (2 * mp.pi)

        def integrand(f):
            return lambda x, y: f(rs * x) * f(rs * (c * x + sc * y)) * dens * mp.exp(-(x * x + y * y) / 2)

        lim = [-12, -4, 0, 4, 12]
        t = mp.quad(integrand(mp.tanh), lim, lim)
        tdot = mp.quad(integrand(lambda u: mp.sech(u) ** 2), lim, lim)
        s2 = +s  # a distinct object: the pair route, not the diagonal shortcut
        herm = {"grids": {}}
        herm["rows"] = {id(s): _TanhRow(s, herm["grids"]), id(s2): _TanhRow(s2, herm["grids"])}
        return (t, tdot), _pair("tanh", s, s2, c * s, herm)


def as_float(x) -> float:
    return float(x) if mp.isfinite(x) else math.inf
