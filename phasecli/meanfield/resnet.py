"""What replaces the fixed-point picture for residual networks at depth L (docs/theory.md section 17).

Residual networks have no fixed point in general: the variance q^l grows (without LayerNorm or
scaling) and the correlation c^l of two inputs approaches 1 polynomially.  On a (sw2, sb2) grid, for two
inputs with first-layer variance q0 and correlation c0, ``resnet_depth_grid`` reports at depth L:

- q_depth = q^L and c_depth = c^L of the residual stream h^L (before any LayerNorm);
- grad_growth = prod_{l=1}^{L} chi_l, chi_l = 1 + alpha^2 sw2 E[phi'(n(h^(l-1)))^2] / s_(l-1) with s = q^(l-1)
  under LayerNorm (its Jacobian divides by the root mean square) and 1 without: the growth of
  E|dL/dh|^2 from h^L back to h^0 (the cross terms of skip and branch vanish in infinite width);
- c_exponent: p in 1 - c^l ~ l^(-p), the least-squares slope of log(1 - c^l) against log l over
  l in [L/4, L] (Yang & Schoenholz 2017), where such a power law exists; otherwise NaN and
  ``exponent_status`` says why: 'alpha_depends_on_depth' (--residual-scale depth: l is not a depth of one
  network), 'too_shallow' (L < 8), 'c_reached_1' (1 - c^l is 0 in float64), 'no_decay' (1 - c^l tends to a
  constant, exponent below 0.05), 'not_power_law' (log-log residual above 0.05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli import validate as V
from phasecli.results import Rows

MIN_FIT_DEPTH = 8
MIN_EXPONENT = 0.05
MAX_FIT_RMS = 0.05


@dataclass
class ResnetDepthGrid(Rows):
    """One row per (sw2, sb2), sw2 outer: the quantities of the module at depth ``depth``."""

    activation: str
    sw2: np.ndarray
    sb2: np.ndarray
    depth: np.ndarray
    residual_scale: np.ndarray
    layer_norm: str
    q_depth: np.ndarray
    c_depth: np.ndarray
    grad_growth: np.ndarray
    c_exponent: np.ndarray
    exponent_status: np.ndarray
    status: np.ndarray

    def row_count(self) -> int:
        return int(self.sw2.size)


def _fit_exponent(one_minus_c, depth, scale):
    """(p, status) of 1 - c^l ~ l^-p over l in [L/4, L]; one_minus_c[l] for l = 0..L."""
    if scale == "depth":
        return math.nan, "alpha_depends_on_depth"
    if depth < MIN_FIT_DEPTH:
        return math.nan, "too_shallow"
    ls = np.arange(max(1, depth // 4), depth + 1)
    y = one_minus_c[ls]
    if not np.all(np.isfinite(y)) or np.any(y <= 0.0):
        return math.nan, "c_reached_1"
    x, ly = np.log(ls), np.log(y)
    slope, intercept = np.polyfit(x, ly, 1)
    rms = float(np.sqrt(np.mean((ly - (slope * x + intercept)) ** 2)))
    if -slope < MIN_EXPONENT:
        return math.nan, "no_decay"
    if rms > MAX_FIT_RMS:
        return math.nan, "not_power_law"
    return float(-slope), "ok"


def resnet_depth_grid(activation, sw2, sb2, depth, *, q0=1.0, c0=0.5, slope=0.01, residual_scale=1.0,
                      layer_norm="none", progress=None) -> ResnetDepthGrid:
    """The rows of the module for every (sw2, sb2) (sw2 outer), at one depth L.  ``progress(done, total)``,
    if given, is called after every layer (units: cells x layers)."""
    from phasecli.activations import ACTIVATIONS
    from phasecli.expectations.mehler_pairs import moments, pair_maps
    from phasecli.finite.twoinput import check_inputs
    from phasecli.ntk.engines.resnet import check_layer_norm, check_residual_scale

    V.activation(activation)
    code = ACTIVATIONS[activation].code
    sw2 = V.variances("sw2", sw2)
    sb2 = V.variances("sb2", sb2)
    depth = int(V.depths([depth])[0])
    q0 = V.q0(q0)
    c0 = V.number("c0", c0, lo=-1.0, hi=1.0)
    slope = V.slope(slope)
    scale = check_residual_scale(residual_scale)
    ln = check_layer_norm(layer_norm) == "pre"
    alpha = 1.0 / math.sqrt(depth) if scale == "depth" else scale
    a2 = alpha * alpha
    A, B = (g.ravel() for g in np.meshgrid(sw2, sb2, indexing="ij"))
    n = A.size
    status = np.array(["ok"] * n, dtype=object)
    for b in np.unique(B):
        try:
            check_inputs(1.0, float(b), q0, c0)
        except ValueError:
            status[B == b] = "q0_below_sb2"
    q = np.full(n, q0)
    k = np.full(n, q0 * c0)
    growth = np.ones(n)
    one_minus_c = np.full((depth + 1, n), 1.0 - c0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for layer in range(1, depth + 1):
            s = q if ln else np.ones(n)
            qq = np.ones(n) if ln else q
            kk = k / q if ln else k
            kk = np.clip(kk, -qq, qq)
            ok = np.isfinite(qq) & np.isfinite(kk)
            t12, t11, d11 = (np.full(n, np.nan) for _ in range(3))
            if ok.any():
                # the off-diagonal pair by Mehler's series (smooth activations; quadrature where its tail is not
                # pinned) or the closed form; the diagonal (c = 1) by the 1-D moments
                qo = qq[ok]
                t12[ok] = pair_maps(code, slope, qo, qo, np.clip(kk[ok] / qo, -1.0, 1.0))[0]
                t11[ok], d11[ok] = moments(code, slope, qo)
            growth = growth * (1.0 + a2 * A * d11 / s)
            q_new = q + a2 * (A * t11 + B)
            k = k + a2 * (A * t12 + B)
            q = q_new
            # 1 - c from the two terms, without cancelling: (q - k) / q
            one_minus_c[layer] = (q - k) / q
            if progress is not None:
                progress(layer * n, depth * n)
    c_final = k / q
    overflow = ~np.isfinite(q) | ~np.isfinite(growth)
    status[(status == "ok") & overflow] = "overflow"
    exponent = np.full(n, np.nan)
    exp_status = np.empty(n, dtype=object)
    for i in range(n):
        if status[i] != "ok":
            exp_status[i] = status[i]
            continue
        exponent[i], exp_status[i] = _fit_exponent(one_minus_c[:, i], depth, scale)
    bad = status != "ok"
    for arr in (q, c_final, growth):
        arr[bad] = np.nan
    return ResnetDepthGrid(activation=activation, sw2=A, sb2=B, depth=np.full(n, depth),
                           residual_scale=np.full(n, alpha), layer_norm="pre" if ln else "none", q_depth=q,
                           c_depth=c_final, grad_growth=growth, c_exponent=exponent,
                           exponent_status=exp_status, status=status)


def stream(activation, sw2, sb2, depth, *, q0=1.0, slope=0.01, alpha=1.0, layer_norm="none"):
    """(q, chi) of one input's residual stream (docs/theory.md section 17): q[l] = q^l for l = 0..depth (q^0 =
    q0), chi[l - 1] = 1 + alpha^2 sw2 E[phi'(n(h^(l-1)))^2] / s_(l-1) for the blocks l = 1..depth (s = q^(l-1)
    under LayerNorm, else 1): the factor by which block l multiplies the mean squared singular value of
    dh^l / dh^0 (the gradient growth).  Past a float64 overflow of q: q = inf, chi = NaN.  Inputs validated."""
    from phasecli.activations import ACTIVATIONS
    from phasecli.expectations.mehler_pairs import moments

    code = ACTIVATIONS[V.activation(activation).name].code
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    q0, slope = V.q0(q0), V.slope(slope)
    ln = layer_norm == "pre"
    a2 = float(alpha) * float(alpha)  # inf for a huge alpha (float ** 2 would raise OverflowError)
    q = np.full(depth + 1, np.inf)
    chi = np.full(depth, np.nan)
    q[0] = q0
    if ln:  # the branch sees unit variance: its moments once
        phi2, dphi2 = (float(v[0]) for v in moments(code, slope, np.array([1.0])))
    for layer in range(depth):
        ql = q[layer]
        if not math.isfinite(ql):
            break
        if not ln:
            phi2, dphi2 = (float(v[0]) for v in moments(code, slope, np.array([ql])))
        gain, added = sw2 * dphi2 / (ql if ln else 1.0), sw2 * phi2 + sb2
        chi[layer] = 1.0 + (a2 * gain if gain else 0.0)  # a branch that adds nothing adds nothing, even at alpha = inf
        with np.errstate(over="ignore"):
            q[layer + 1] = ql + (a2 * added if added else 0.0)
    return q, chi
