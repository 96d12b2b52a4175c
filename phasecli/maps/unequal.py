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

from dataclasses import dataclass

import numpy as np

from phasecli import validate as V
from phasecli.validate import InputError


@dataclass
class DeviationMaps:
    """Per-pair values (1-D arrays): dt, et, tdot and the absolute error bounds err_dt, err_et."""

    dt: np.ndarray
    et: np.ndarray
    tdot: np.ndarray
    err_dt: np.ndarray
    err_et: np.ndarray


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
    from phasecli.maps import unequal_kernels as RK

    act = V.activation(activation)
    s = np.ascontiguousarray(V.variances("s", s))
    slope = V.slope(slope)
    if act.kind == "smooth":
        eng = _smooth_engine(act.name, slope, s)
        f, g = eng._coefficients(s, eng._rule(float(s.max())))
        wk = _weights(f.shape[2])
        return np.einsum("ark,k->a", f * f, wk), np.einsum("ark,k->a", g * g, wk)
    v, w = np.empty_like(s), np.empty_like(s)
    RK.diag_rows(RK.MODE_CLOSED if act.kind == "closed" else RK.MODE_PIECEWISE, act.code, slope, s, v, w)
    return v, w


def deviation_maps(activation: str, s1, s2, eps, slope: float = 0.01) -> DeviationMaps:
    """dt, et, tdot (and error bounds) for each pair (s1[i], s2[i], eps[i]); numbers broadcast.

    Closed forms (erf, relu, leaky_relu, abs, linear) have full relative accuracy; piecewise
    activations (elu, selu, hard_tanh) keep an absolute floor ~1e-13 sqrt(V1 V2); smooth ones come
    from the angular expansion (relative ~1e-13)."""
    from phasecli.maps import unequal_kernels as RK
    from phasecli.ntk.engines import fc

    act = V.activation(activation)
    slope = V.slope(slope)
    s1, s2, eps = _pairs(s1, s2, eps)
    n = s1.size
    if act.kind == "smooth":
        both = np.concatenate([s1, s2])
        eng = _smooth_engine(act.name, slope, both)
        rule = eng._rule(float(both.max()))
        f1, g1 = eng._coefficients(s1, rule)
        f2, g2 = eng._coefficients(s2, rule)
        wk = _weights(f1.shape[2])
        out = [np.empty(n) for _ in range(5)]
        for i in range(n):  # each pair as a 1 x 1 block
            v1, w1 = np.einsum("ark,k->a", f1[i:i + 1] ** 2, wk), np.einsum("ark,k->a", g1[i:i + 1] ** 2, wk)
            v2, w2 = np.einsum("ark,k->a", f2[i:i + 1] ** 2, wk), np.einsum("ark,k->a", g2[i:i + 1] ** 2, wk)
            vals = fc.smooth_pair_maps(f1[i:i + 1], g1[i:i + 1], f2[i:i + 1], g2[i:i + 1], v1, w1, v2, w2,
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


def _weights(kmax):
    wk = np.full(kmax, 2.0)
    wk[0] = 1.0
    return wk


def _smooth_engine(activation, slope, s):
    """A RawEngine shell that knows the activation (for its cached angular rules and coefficients)."""
    from phasecli.ntk.engines import fc

    x = np.ones((1, 1))
    return fc.RawEngine(activation, x, None, 1.0, 0.0, slope, None)
