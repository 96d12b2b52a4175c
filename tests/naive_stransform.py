"""A slow numeric S-transform oracle for the Jacobian spectrum, independent of ``phasecli``.

Written from the free-probability statement of THEORY.md ("Jacobian spectrum") with plain
Python, ``scipy.integrate.quad`` and Cauchy integrals; nothing is imported from phasecli
(q* and phi' come from ``tests/naive.py``).  Where phasecli sums power series in the
moments mu_k and inverts them term by term, this oracle works with *function values*:

1. psi_D(u) = E[d u / (1 - d u)], d = phi'(sqrt(q*) z)^2, by quad (real and imaginary parts);
2. chi_D(v) = psi_D^{-1}(v) by complex Newton iterations, S_D(v) = chi_D(v) (1 + v) / v;
3. the Taylor coefficients of log S_D(v) by the trapezoidal rule on the circle |v| = r
   (spectrally accurate for an analytic function);
4. log S_J = L (log S_D + log S_W), log S_W = -log sw2 - [log(1 + v) for Gaussian weights];
   mean = exp(-c_0), and with log S(v) = -log m_1 - (var / m_1^2) v + O(v^2):
   var = -c_1 m_1^2;
5. higher moments: psi_J(z) = chi_J^{-1}(z) by Newton on the circle |z| = rho, its Taylor
   coefficients again by the trapezoidal rule.

Accuracy: the quad calls at epsrel 1e-12, the Cauchy sums with 24 points at r = 0.2
(aliasing ~ (r / R)^24 for a singularity at distance R ~ 1): var to ~1e-10 relative.
Speed is not a goal: one law costs ~1 s.
"""

from __future__ import annotations

import cmath
import math
import warnings

import numpy as np
from scipy import integrate

import naive

RADIUS = 0.2
POINTS = 24


def _expect_complex(f, act, q):
    """E_z[f(z)] for complex-valued f, z ~ N(0, 1), split at the activation's kinks (quad on each part)."""
    sq = math.sqrt(q)
    pts = {-naive.Z, -4.0, -1.0, 0.0, 1.0, 4.0, naive.Z}
    pts.update(k / sq for k in naive.ACTS[act][2] if -naive.Z < k / sq < naive.Z)
    pts = sorted(pts)
    re = im = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            re += integrate.quad(lambda z: f(z).real * naive._pdf(z), a, b, epsabs=1e-15, epsrel=1e-12,
                                 limit=200)[0]
            im += integrate.quad(lambda z: f(z).imag * naive._pdf(z), a, b, epsabs=1e-15, epsrel=1e-12,
                                 limit=200)[0]
    return complex(re, im)


class Law:
    """The law of d = phi'(sqrt(q) z)^2 and its S-transform's log-Taylor coefficients."""

    def __init__(self, act, q, slope=0.01):
        self.act, self.q, self.slope = act, float(q), slope
        sq = math.sqrt(self.q)
        self.d = lambda z: naive.dphi(act, sq * z, slope) ** 2
        self.mu1 = _expect_complex(lambda z: complex(self.d(z)), act, self.q).real
        self._coef = None

    def psi(self, u):
        """(psi_D(u), psi_D'(u)) = (E[d u / (1 - d u)], E[d / (1 - d u)^2])."""
        val = _expect_complex(lambda z: self.d(z) * u / (1.0 - self.d(z) * u), self.act, self.q)
        der = _expect_complex(lambda z: self.d(z) / (1.0 - self.d(z) * u) ** 2, self.act, self.q)
        return val, der

    def chi(self, v):
        """psi_D^{-1}(v) by Newton from v / mu_1."""
        u = v / self.mu1
        for _ in range(60):
            val, der = self.psi(u)
            step = (val - v) / der
            u -= step
            if abs(step) < 1e-15 * abs(u):
                return u
        raise RuntimeError(f"chi_D did not converge at v={v}")

    def log_s_coefficients(self, order=4):
        """Taylor coefficients c_0..c_order of log S_D(v) (trapezoidal rule on |v| = RADIUS)."""
        if self._coef is None or self._coef.size <= order:
            theta = 2.0 * math.pi * np.arange(POINTS) / POINTS
            values = np.empty(POINTS, dtype=complex)
            for j in range(POINTS // 2 + 1):  # log S_D(conj v) = conj log S_D(v)
                v = RADIUS * cmath.exp(1j * theta[j])
                values[j] = cmath.log(self.chi(v) * (1.0 + v) / v)
                if 0 < j < POINTS - j:
                    values[POINTS - j] = values[j].conjugate()
            k = np.arange(max(order, 6) + 1)
            self._coef = np.array([np.mean(values * np.exp(-1j * kk * theta)).real / RADIUS ** kk for kk in k])
        return self._coef[: order + 1]


def _log_s_j(law, sw2, depth, weights, order):
    c = depth * law.log_s_coefficients(order).copy()
    c[0] -= depth * math.log(sw2)
    if weights == "gaussian":  # -log(1 + v) = sum_k (-1)^k v^k / k
        k = np.arange(1, order + 1)
        c[1:] -= depth * (-1.0) ** (k + 1) / k
    return c


def mean_var(law, sw2, depth, weights):
    """(mean, variance) of the eigenvalue law of J J^T from the numeric S-transform."""
    c = _log_s_j(law, sw2, depth, weights, 1)
    mean = math.exp(-c[0])
    return mean, -c[1] * mean * mean


def moments(law, sw2, depth, weights, order=3):
    """m_1..m_order of J J^T: psi_J = chi_J^{-1} by Newton on a circle, Taylor coefficients by Cauchy sums.
    (Moments of J J^T / m_1, rescaled, so that the circle's radius is scale-free.)"""
    c = _log_s_j(law, sw2, depth, weights, 6)
    m1 = math.exp(-c[0])
    c = c.copy()
    c[0] = 0.0  # S of J J^T / m_1

    def chi_j(v):  # S(v) v / (1 + v), S from its Taylor polynomial
        return cmath.exp(np.polyval(c[::-1], v)) * v / (1.0 + v)

    def dchi_j(v):
        dlog = np.polyval((np.arange(1, c.size) * c[1:])[::-1], v)
        return chi_j(v) * (dlog + 1.0 / v - 1.0 / (1.0 + v))

    rho = 0.02 / (1.0 + depth)
    n = 32
    theta = 2.0 * math.pi * np.arange(n) / n
    values = np.empty(n, dtype=complex)
    for j in range(n):
        z = rho * cmath.exp(1j * theta[j])
        v = z
        for _ in range(100):
            step = (chi_j(v) - z) / dchi_j(v)
            v -= step
            if abs(step) < 1e-16 * abs(v):
                break
        values[j] = v
    k = np.arange(1, order + 1)
    scaled = np.array([np.mean(values * np.exp(-1j * kk * theta)).real / rho ** kk for kk in k])
    return scaled * m1 ** k


def _expect_real(f, act, q):
    sq = math.sqrt(q)
    pts = {-naive.Z, -4.0, 0.0, 4.0, naive.Z}
    pts.update(k / sq for k in naive.ACTS[act][2] if -naive.Z < k / sq < naive.Z)
    pts = sorted(pts)
    total = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            total += integrate.quad(lambda z: f(z) * naive._pdf(z), a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0]
    return total


def upper_edge(law, sw2, depth, weights, d_max=1.0):
    """s2_max = min over m > 0 of z(m) = (1 + m) / (m S_J(m)) (the inverse of the moment generating
    function on the real axis), S_D(m) = chi_D(m) (1 + m) / m with chi_D(m) = psi_D^{-1}(m) by brentq
    on u in (0, 1/d_max); a coarse scan brackets the minimum, scipy's bounded search polishes it."""
    from scipy import optimize

    def psi(u):
        return _expect_real(lambda z: law.d(z) * u / (1.0 - law.d(z) * u), law.act, law.q)

    u_top = (1.0 - 1e-9) / d_max
    m_top = psi(u_top)

    def chi(m):
        return optimize.brentq(lambda u: psi(u) - m, 0.0, u_top, xtol=1e-300, rtol=1e-15)

    def log_z(log_m):
        m = math.exp(log_m)
        if m >= m_top:
            return math.inf
        log_s = math.log(chi(m) * (1.0 + m) / m) - math.log(sw2)
        if weights == "gaussian":
            log_s -= math.log1p(m)
        return math.log1p(m) - log_m - depth * log_s

    grid = np.linspace(-12.0, 8.0, 41)
    values = [log_z(g) for g in grid]
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    res = optimize.minimize_scalar(log_z, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return math.exp(res.fun)
