"""Finite random residual networks (with optional pre-LayerNorm) on two inputs: q^L, c^L and Theta(x1, x1).

The network of docs/theory.md section 17 at width N, drawn explicitly (N x N Gaussian weights per block):

    h^0 = sw / sqrt(d) W^0 x + sb b^0,   h^l = h^(l-1) + alpha (sw / sqrt(N) W^l phi(n(h^(l-1))) + sb b^l),
    f   = sw / sqrt(N) w . phi(n(h^L)) + sb b

n the identity or LayerNorm over the N features (mean subtracted, divided by the root mean square, no gain
or bias).  The two inputs are ``twoinput.two_inputs`` (first-layer variance q0, correlation c0); the
first layer is drawn exactly as its N i.i.d. Gaussian pairs (h^0_j(x1), h^0_j(x2)).  Per network and
depth L: q = |h^L(x1)|^2 / N and c = cos(h^L(x1), h^L(x2)) of the residual stream (before any
normalization), and Theta(x1, x1) of the depth-L network by backpropagation,

    Theta = |delta^0|^2 q0 + sum_l alpha^2 |delta^l|^2 (sw2 |x^(l-1)|^2 / N + sb2) + sw2 |x^L|^2 / N + sb2,

x^l = phi(n(h^l)), delta^l = df/dh^l: delta^L = J_n(h^L) (phi'(n(h^L)) sw w / sqrt(N)),
delta^(l-1) = delta^l + J_n(h^(l-1)) (phi'(n(h^(l-1))) alpha sw W^l^T delta^l / sqrt(N)), J_n the
(symmetric) Jacobian of n: (I - 11^T / N - n n^T / N) / s for LayerNorm (s the root mean square).
With a numeric alpha the depth-L network is the first L blocks of one stack with its own readout w_L;
with alpha = 1/sqrt(L) every depth is its own network.  Cost O(L N^2) per network and depth list.

Random stream: network i of ``seed`` draws from ``network_rng(seed, i)`` (for ``residual_scale='depth'``
the depths' networks follow each other in that stream).
"""

from __future__ import annotations

import math

import numpy as np

from phasecli import meanfield
from phasecli import validate as V
from phasecli.finite.network import dphi as dphi_fn
from phasecli.finite.network import layer_norm, layer_norm_back
from phasecli.finite.network import network_rng
from phasecli.finite.network import phi as phi_fn
from phasecli.finite.twoinput import TwoInputSamples, check_inputs


def _alphas(residual_scale, depths):
    return [1.0 / math.sqrt(L) if residual_scale == "depth" else float(residual_scale) for L in depths]


def theory(activation, sw2, sb2, depths, *, q0=1.0, c0=0.5, slope=0.01, residual_scale=1.0, layer_norm="none"):
    """Infinite-width (q^L, c^L, Theta(x1, x1)) of the residual stream / network at each depth L
    (docs/theory.md section 17, on the 2x2 kernel of the two inputs)."""
    depths = V.depths(depths)
    ln = layer_norm == "pre"
    q_out, c_out, ntk_out = (np.full(depths.size, np.nan) for _ in range(3))
    for i, (L, alpha) in enumerate(zip(depths, _alphas(residual_scale, depths))):
        if residual_scale != "depth" and i > 0:
            break
        a2 = alpha * alpha
        q1, q2, k12, th = q0, q0, q0 * c0, q0  # the two inputs' variances are equal at every layer

        def branch(q, k, theta):
            s = q if ln else 1.0  # LayerNorm: unit variance, correlation k / q
            qq, kk = (1.0, k / q) if ln else (q, k)
            t, td = meanfield.pair_expectations(activation, qq, qq, [kk, qq], slope=slope)
            b12, b11 = sw2 * float(t[0]) + sb2, sw2 * float(t[1]) + sb2
            g11 = sw2 * float(td[1]) * theta / s
            return b11, b12, g11

        todo = [int(x) for x in depths] if residual_scale != "depth" else [int(L)]
        for layer in range(0, max(todo) + 1):
            b11, b12, g11 = branch(q1, k12, th)
            if layer in todo:
                j = list(depths).index(layer) if residual_scale != "depth" else i
                q_out[j], c_out[j], ntk_out[j] = q1, k12 / q1, b11 + g11
            q1, k12, th = q1 + a2 * b11, k12 + a2 * b12, th + a2 * (b11 + g11)
    return q_out, c_out, ntk_out


def _norm(h, ln):
    """(n(h), s): LayerNorm over axis 0 (features) for each column (``network.layer_norm``), or h itself (s = None)."""
    if not ln:
        return h, None
    n, s = layer_norm(h, axis=0)
    return n, s[0]


def _norm_back(g, n, s, ln):
    """J_n^T g for LayerNorm (symmetric J) at the column's n, s (``network.layer_norm_back``); g without it."""
    if not ln:
        return g
    return layer_norm_back(g, n, s, axis=0)


def _network(rng, activation, sw2, sb2, width, depths, alpha, q0, c0, slope, ln):
    """q, c, Theta of one network stack at ``depths`` (a numeric alpha)."""
    sw = math.sqrt(sw2)
    sb = math.sqrt(sb2)
    N = width
    lmax = max(depths)
    # the first layer: N i.i.d. pairs with covariance q0 [[1, c0], [c0, 1]]
    z = rng.standard_normal((N, 2))
    h = np.empty((N, 2))
    h[:, 0] = math.sqrt(q0) * z[:, 0]
    h[:, 1] = math.sqrt(q0) * (c0 * z[:, 0] + math.sqrt(max(0.0, 1.0 - c0 * c0)) * z[:, 1])
    hs, xs, ns, ss, Ws = [h], [], [], [], []
    out = {}
    for layer in range(0, lmax + 1):
        n, s = _norm(hs[-1], ln)
        x = phi_fn(activation, n, slope=slope)
        ns.append(n)
        ss.append(s)
        xs.append(x)
        if layer in depths:
            # readout of the depth-`layer` network, its own w; backpropagate through blocks layer..1
            w = rng.standard_normal(N)
            theta = sw2 * float(x[:, 0] @ x[:, 0]) / N + sb2
            g = dphi_fn(activation, n[:, 0], slope=slope) * (sw * w / math.sqrt(N))
            delta = _norm_back(g[:, None], n[:, :1], None if s is None else s[:1], ln)[:, 0]
            for l in range(layer, 0, -1):
                xp = xs[l - 1][:, 0]
                theta += alpha * alpha * float(delta @ delta) * (sw2 * float(xp @ xp) / N + sb2)
                back = Ws[l - 1].T @ delta * (alpha * sw / math.sqrt(N))
                g = dphi_fn(activation, ns[l - 1][:, 0], slope=slope) * back
                sl = None if ss[l - 1] is None else ss[l - 1][:1]
                delta = delta + _norm_back(g[:, None], ns[l - 1][:, :1], sl, ln)[:, 0]
            theta += float(delta @ delta) * q0
            hl = hs[layer]
            q = float(hl[:, 0] @ hl[:, 0]) / N
            c = float(hl[:, 0] @ hl[:, 1]) / math.sqrt(float(hl[:, 0] @ hl[:, 0]) * float(hl[:, 1] @ hl[:, 1]))
            out[layer] = (q, c, theta)
        if layer == lmax:
            break
        W = rng.standard_normal((N, N))
        b = rng.standard_normal(N)
        Ws.append(W)
        hs.append(hs[-1] + alpha * (W @ x * (sw / math.sqrt(N)) + sb * b[:, None]))
    return out


def sample(activation, sw2, sb2, *, width, depths, samples, seed=0, first=0, q0=1.0, c0=0.5, slope=0.01,
           residual_scale=1.0, layer_norm="none") -> TwoInputSamples:
    """q, c, Theta(x1, x1) (arrays networks x depths) of residual networks first .. first + samples - 1."""
    V.activation(activation)
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    q0 = V.q0(q0)
    c0 = V.number("c0", c0, lo=-1.0, hi=1.0)
    width = V.integer("width", width, lo=2)
    depths = V.depths(depths, "depths")
    check_inputs(sw2, sb2, q0, c0)
    ln = layer_norm == "pre"
    q = np.empty((samples, depths.size))
    c = np.empty_like(q)
    theta = np.empty_like(q)
    want = [int(x) for x in depths]
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(samples):
            rng = network_rng(seed, first + i)
            if residual_scale == "depth":
                for j, L in enumerate(want):
                    q[i, j], c[i, j], theta[i, j] = _network(rng, activation, sw2, sb2, width, [L],
                                                             1.0 / math.sqrt(L), q0, c0, slope, ln)[L]
            else:
                res = _network(rng, activation, sw2, sb2, width, want, float(residual_scale), q0, c0, slope, ln)
                for j, L in enumerate(want):
                    q[i, j], c[i, j], theta[i, j] = res[L]
    return TwoInputSamples(activation, sw2, sb2, width, depths, q0, c0, seed, first, q, c, theta)


def _haar(rng, n):
    """sqrt(n) times a Haar-orthogonal matrix (Q of QR, columns times sign(diag R))."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r)) * math.sqrt(n)


def _jacobian_stack(rng, activation, sw2, sb2, width, depths, alpha, q0, slope, ln, weights):
    """[mean lambda, mean lambda^2, max, min] of J J^T at each depth of ``depths``, J = dh^L / dh^0 of one random
    residual stack on one input with first-layer variance q0."""
    sw, sb, N = math.sqrt(sw2), math.sqrt(sb2), width
    h = math.sqrt(q0) * rng.standard_normal(N)
    jac = np.eye(N)
    stats = {}
    for layer in range(1, max(depths) + 1):
        n, s = _norm(h[:, None], ln)
        n = n[:, 0]
        x = phi_fn(activation, n, slope=slope)
        W = _haar(rng, N) if weights == "orthogonal" else rng.standard_normal((N, N))
        b = rng.standard_normal(N)
        # d h^l / d h^(l-1) = I + alpha sw / sqrt(N) W diag(phi'(n)) J_n; J_n J = (J - mean - n (n . J) / N) / s
        inner = jac if not ln else (jac - jac.mean(axis=0) - np.outer(n, n @ jac) / N) / s[0]
        jac = jac + (alpha * sw / math.sqrt(N)) * (W @ (dphi_fn(activation, n, slope=slope)[:, None] * inner))
        h = h + alpha * (sw / math.sqrt(N) * (W @ x) + sb * b)
        if layer in depths:
            lam = np.linalg.svd(jac, compute_uv=False) ** 2
            stats[layer] = (lam.mean(), np.mean(lam * lam), lam.max(), lam.min())
    return stats


def jacobian_statistics(activation, sw2, sb2, depths, *, weights="gaussian", width, seed=0, index=0, q0=1.0,
                        slope=0.01, residual_scale=1.0, layer_norm="none"):
    """Statistics of one random residual network's input-output Jacobian J = dh^L / dh^0 at every depth (the
    Monte Carlo side of ``jacobian --empirical --architecture resnet``), in the format of
    ``finite.jacobian.network_statistics``: {"stats": (n_depths, 4) [mean lambda, mean lambda^2, max, min],
    "q": NaN, "d2": NaN, "eigenvalues": []}.  Network ``index`` of ``seed`` draws from ``network_rng(seed,
    index)``; with ``residual_scale='depth'`` each depth is its own stack, one after the other in that stream."""
    from phasecli.runtime.blas import single_threaded as single_threaded_blas

    depths = [int(d) for d in V.depths(depths)]
    ln = layer_norm == "pre"
    rng = network_rng(seed, index)
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
        if residual_scale == "depth":
            found = {}
            for L in depths:
                found.update(_jacobian_stack(rng, activation, sw2, sb2, width, [L], 1.0 / math.sqrt(L), q0, slope,
                                             ln, weights))
        else:
            found = _jacobian_stack(rng, activation, sw2, sb2, width, depths, float(residual_scale), q0, slope, ln,
                                    weights)
    return {"stats": np.array([found[L] for L in depths]), "q": math.nan, "d2": math.nan, "eigenvalues": []}
