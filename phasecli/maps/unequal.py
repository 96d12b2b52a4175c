"""Two-point deviation maps at unequal variances: the validated public face of ``phasecli.maps.unequal_kernels``.

For (u1, u2) ~ N(0, [[s1, c sqrt(s1 s2)], [c sqrt(s1 s2), s2]]), eps = 1 - c (docs/theory.md section 4, "NNGP and NTK on a
data set"; docs/theory.md section 11):

    V(s) = E[phi(sqrt(s) z)^2], W(s) = E[phi'(sqrt(s) z)^2],
    dt = sqrt(V(s1) V(s2)) - T(s1, s2, c) >= 0,   et = sqrt(W(s1) W(s2)) - Tdot(s1, s2, c) >= 0,

each without the cancellation of a plain difference, with absolute error bounds.  The
data-as-given recursion (``phasecli.ntk.engines.fc.RawEngine``) carries pairs on these;
recursions on other architectures can use them too (numba callers: the kernels directly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli import validate as V
from phasecli.maps import equal as EQ
from phasecli.maps import unequal_kernels as RK
from phasecli.validate import InputError

EPS = np.finfo(np.float64).eps
SERIAL_SAMPLES = 200_000  # below this many samples / pair-coefficients the smooth maps run on one thread
TAU_SMOOTH = 1e-13  # relative error of the angular expansion's T, Tdot and deviations (data as given)


@dataclass
class DeviationMaps:
    """Per-pair values (1-D arrays): dt, et, tdot and the absolute error bounds err_dt, err_et."""

    dt: np.ndarray
    et: np.ndarray
    tdot: np.ndarray
    err_dt: np.ndarray
    err_et: np.ndarray


class AngularExpansion:
    """The angular (Fourier in the pair's angle) expansion of phi and phi' on a radial rule, for smooth
    activations at unequal variances (docs/theory.md section 11): rules cached by quarter octave of the
    largest variance, coefficients per row."""

    def __init__(self, code: int, slope: float):
        self.code = code
        self.slope = slope
        self._rules = {}

    def rule(self, s_max):
        """Radial rule and angular resolution for variances up to s_max, cached by quarter octave
        (a rule built for a larger variance only resolves more)."""
        key = math.ceil(4.0 * math.log2(max(s_max, 1e-300)))
        hit = self._rules.get(key)
        if hit is None:
            top = 2.0 ** (key / 4.0)
            rs, w = EQ.radial_rule(top, self.code)
            n, kmax = EQ.angular_resolution(self.code, self.slope, top, rs, w)
            hit = self._rules[key] = (rs, np.sqrt(w), n, kmax)
        return hit

    def coefficients(self, s, rule):
        """Angular Fourier coefficients of phi, phi' per row (radial weights folded in), as
        ``phasecli.maps.equal.angular_coefficients``; few samples on one thread."""
        rs, sw, n, kmax = rule
        scales = np.sqrt(np.maximum(s, 0.0))
        if scales.size * rs.size * n < SERIAL_SAMPLES:
            cospsi = np.cos(2.0 * np.pi * np.arange(n) / n)
            fs = np.empty((scales.size, rs.size, n))
            gs = np.empty_like(fs)
            RK.angular_samples_serial(self.code, self.slope, scales, rs, cospsi, fs, gs)
            nk = min(kmax, n // 2 + 1)
            f = np.fft.rfft(fs, axis=2)[:, :, :nk].real / n
            g = np.fft.rfft(gs, axis=2)[:, :, :nk].real / n
        else:
            f, g = EQ.angular_coefficients(self.code, self.slope, scales, rs, n, kmax)
        f *= sw[None, :, None]
        g *= sw[None, :, None]
        return np.ascontiguousarray(f), np.ascontiguousarray(g)


def smooth_pair_maps(fa, ga, fb, gb, va, wa, vb, wb, eps, wk, sym):
    """(dt, et, tdot, err_dt, err_et) on every pair from the angular expansion (rows a of fa, ga; b of fb, gb).

    T_ab(theta) = sum_k wk cos(k theta) <fa_k, fb_k> (radial weights folded into f), so
    dt = [sqrt(Va Vb) - T_ab(0)] + sum_k wk 2 sin^2(k theta / 2) <fa_k, fb_k>; the first
    bracket is (|fa - fb|^2 - (sqrt Va - sqrt Vb)^2) / 2, exactly 0 for equal variances.
    The same with g for et and tdot."""
    th = 2.0 * np.arcsin(np.sqrt(0.5 * eps))
    dang, dabs, eang, eabs = (np.zeros_like(eps) for _ in range(4))
    td = np.zeros_like(eps)
    for k in range(fa.shape[2]):
        gm = fa[:, :, k] @ fb[:, :, k].T
        hm = ga[:, :, k] @ gb[:, :, k].T
        if k == 0:
            td += hm
            continue
        half = np.sin((0.5 * k) * th)
        f2 = (2.0 * wk[k]) * half * half
        dang += f2 * gm
        dabs += f2 * np.abs(gm)
        eang += f2 * hm
        eabs += f2 * np.abs(hm)
        td += (wk[k] * np.cos(k * th)) * hm
    sf, sg = np.zeros_like(eps), np.zeros_like(eps)
    if sym:
        (RK.mismatch_sym_serial if eps.size * fa.shape[1] < SERIAL_SAMPLES else RK.mismatch_sym)(fa, ga, wk, sf, sg)
    else:
        RK.mismatch_rect(fa, ga, fb, gb, wk, sf, sg)
    out = []
    for s2, xa, xb, ang, absum in ((sf, va, vb, dang, dabs), (sg, wa, wb, eang, eabs)):
        ra, rb = np.sqrt(xa)[:, None], np.sqrt(xb)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.where(ra + rb > 0.0, (xa[:, None] - xb[None, :]) / (ra + rb), 0.0)
        mis = np.maximum(0.5 * (s2 - gap * gap), 0.0)
        err = 16.0 * EPS * (np.sqrt(s2) + np.abs(gap)) * (ra + rb) + TAU_SMOOTH * (absum + 0.5 * s2)
        val = np.maximum(mis + ang, 0.0)
        out.append((val, err + 8.0 * EPS * val))
    (dt, edt), (et, eet) = out
    return dt, et, td, edt, eet


def _pairs(s1, s2, eps):
    s1 = V.variances("s1", s1)
    s2 = V.variances("s2", s2)
    try:
        eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError("eps must be a number or a list of numbers", "eps") from None
    if eps.ndim != 1 or not np.all(np.isfinite(eps)) or np.any((eps < 0) | (eps > 2)):
        raise InputError("eps = 1 - c must be a number or 1-D list in [0, 2]", "eps")
    try:
        s1, s2, eps = np.broadcast_arrays(s1, s2, eps)
    except ValueError:
        raise InputError("s1, s2 and eps must have the same length (or length 1)", "eps") from None
    return (np.ascontiguousarray(a, dtype=np.float64) for a in (s1, s2, eps))


def diagonal_maps(activation: str, s, slope: float = 0.01):
    """(V, W) at the variances s (1-D arrays), as the deviation maps use them."""
    act = V.activation(activation)
    s = np.ascontiguousarray(V.variances("s", s))
    slope = V.slope(slope)
    if act.kind == "smooth":
        expansion = AngularExpansion(act.code, slope)
        f, g = expansion.coefficients(s, expansion.rule(float(s.max())))
        wk = angular_weights(f.shape[2])
        return np.einsum("ark,k->a", f * f, wk), np.einsum("ark,k->a", g * g, wk)
    v, w = np.empty_like(s), np.empty_like(s)
    RK.diag_rows(RK.MODE_CLOSED if act.kind == "closed" else RK.MODE_PIECEWISE, act.code, slope, s, v, w)
    return v, w


def deviation_maps(activation: str, s1, s2, eps, slope: float = 0.01) -> DeviationMaps:
    """dt, et, tdot (and error bounds) for each pair (s1[i], s2[i], eps[i]); numbers broadcast.

    Closed forms (erf, relu, leaky_relu, abs, linear) have full relative accuracy; piecewise
    activations (elu, selu, hard_tanh) keep an absolute floor ~1e-13 sqrt(V1 V2) (kinked expressions, nested
    quadrature: 1e-12); smooth ones come
    from the angular expansion (relative ~1e-13)."""

    act = V.activation(activation)
    slope = V.slope(slope)
    s1, s2, eps = _pairs(s1, s2, eps)
    n = s1.size
    if act.kind == "smooth":
        both = np.concatenate([s1, s2])
        expansion = AngularExpansion(act.code, slope)
        rule = expansion.rule(float(both.max()))
        f1, g1 = expansion.coefficients(s1, rule)
        f2, g2 = expansion.coefficients(s2, rule)
        wk = angular_weights(f1.shape[2])
        out = [np.empty(n) for _ in range(5)]
        for i in range(n):  # each pair as a 1 x 1 block
            v1, w1 = np.einsum("ark,k->a", f1[i:i + 1] ** 2, wk), np.einsum("ark,k->a", g1[i:i + 1] ** 2, wk)
            v2, w2 = np.einsum("ark,k->a", f2[i:i + 1] ** 2, wk), np.einsum("ark,k->a", g2[i:i + 1] ** 2, wk)
            vals = smooth_pair_maps(f1[i:i + 1], g1[i:i + 1], f2[i:i + 1], g2[i:i + 1], v1, w1, v2, w2,
                                       eps[i:i + 1, None], wk, sym=False)
            for o, val in zip(out, vals):
                o[i] = val[0, 0]
        return DeviationMaps(*out)
    mode = RK.MODE_CLOSED if act.kind == "closed" else RK.MODE_PIECEWISE
    v1, w1 = np.empty(n), np.empty(n)
    v2, w2 = np.empty(n), np.empty(n)
    RK.diag_rows(mode, act.code, slope, s1, v1, w1)
    RK.diag_rows(mode, act.code, slope, s2, v2, w2)
    out = np.empty((5, n))
    RK.dev_pairs(mode, act.code, slope, s1, s2, eps, v1, v2, w1, w2, out)
    return DeviationMaps(*out)


def angular_weights(kmax):
    """Weights of the angular modes in sum_k wk cos(k theta) <f_k, f_k>: 1 for k = 0, 2 above."""
    wk = np.full(kmax, 2.0)
    wk[0] = 1.0
    return wk
