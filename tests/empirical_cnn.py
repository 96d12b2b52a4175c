"""Finite-channel CNNs in NTK parameterization: empirical NNGP and NTK with exact gradients (independent of phasecli).

Circular K x K convolutions, stride 1, n channels per layer, L conv layers each followed
by phi, then a Dense(1) readout on the flattened (CNN-F) or globally average-pooled
(CNN-P) last layer; W, b ~ N(0, 1):

    z^1(i, o)     = sigma_w / sqrt(K^2 C) sum_{delta, c} W^1[delta, c, o] x(i + delta, c) + sigma_b b^1_o
    z^{l+1}(i, o) = sigma_w / sqrt(K^2 n) sum_{delta, c} W^{l+1}[delta, c, o] phi(z^l(i + delta, c)) + sigma_b b_o
    f = sigma_w / sqrt(d n) sum_{i, c} w[i, c] phi(z^L(i, c)) + sigma_b b          (flatten)
    f = sigma_w / sqrt(n) sum_c w[c] mean_i phi(z^L(i, c)) + sigma_b b            (pooling)

The NTK of one network is sum over all parameters of df(x)/dp df(x')/dp, from backprop:
g^l = df/dz^l, g^l(i, c) = phi'(z^l(i, c)) sum_{delta, o} sigma_w / sqrt(K^2 n) W^{l+1}[delta, c, o]
g^{l+1}(i - delta, o), and df/dW^l[delta, c, o] = sigma_w / sqrt(K^2 n_{l-1}) sum_i g^l(i, o) h^{l-1}(i + delta, c).
``nngp`` is the exact average over the readout weights of f(x) f(x').
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def _act(name):
    if name == "erf":
        return special.erf, lambda u: 2.0 / math.sqrt(math.pi) * np.exp(-u * u)
    if name == "relu":
        return lambda u: np.maximum(u, 0.0), lambda u: (u > 0).astype(float)
    if name == "tanh":
        return np.tanh, lambda u: 1.0 / np.cosh(u) ** 2
    raise ValueError(name)


def _offsets(k):
    half = k // 2
    return [(dh, dw) for dh in range(-half, half + 1) for dw in range(-half, half + 1)]


def _gather(h, dh, dw):
    """h(i + delta) for every position i: h has shape (H, W, channels)."""
    return np.roll(h, shift=(-dh, -dw), axis=(0, 1))


def _scatter(g, dh, dw):
    """g(i - delta): the adjoint of ``_gather``."""
    return np.roll(g, shift=(dh, dw), axis=(0, 1))


def sample_kernels(act, X, image, k, sw2, sb2, depth, width, pooled, rng):
    """(NNGP, NTK) m x m of one random network of ``width`` channels (NNGP averaged over the readout)."""
    phi, dphi = _act(act)
    height, wid, chans = image
    d = height * wid
    m = X.shape[0]
    offs = _offsets(k)
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)
    weights, biases = [], []
    fan = chans
    for _ in range(depth):
        weights.append(rng.standard_normal((len(offs), fan, width)))
        biases.append(rng.standard_normal(width))
        fan = width
    w_out = rng.standard_normal(width if pooled else (height, wid, width))
    feats, grads_w, grads_b = [], [], []
    for a in range(m):
        h = X[a].reshape(height, wid, chans)
        hs, zs = [h], []
        for lw, lb in zip(weights, biases):
            z = sb * lb + sw / math.sqrt(len(offs) * h.shape[2]) * sum(
                _gather(h, dh, dw) @ lw[t] for t, (dh, dw) in enumerate(offs))
            zs.append(z)
            h = phi(z)
            hs.append(h)
        feats.append(h)
        if pooled:
            g = sw / math.sqrt(width) * w_out[None, None, :] / d * dphi(zs[-1])
        else:
            g = sw / math.sqrt(d * width) * w_out * dphi(zs[-1])
        gw, gb = [None] * depth, [None] * depth
        for layer in range(depth - 1, -1, -1):
            h_in = hs[layer]
            scale = sw / math.sqrt(len(offs) * h_in.shape[2])
            gw[layer] = np.stack([scale * np.einsum("ijc,ijo->co", _gather(h_in, dh, dw), g) for dh, dw in offs])
            gb[layer] = sb * g.sum(axis=(0, 1))
            if layer:
                back = sum(_scatter(g @ weights[layer][t].T, dh, dw) for t, (dh, dw) in enumerate(offs))
                g = scale * back * dphi(zs[layer - 1])
        grads_w.append(gw)
        grads_b.append(gb)
    ntk = np.zeros((m, m))
    nngp = np.zeros((m, m))
    for a in range(m):
        for b in range(m):
            ha, hb = feats[a], feats[b]
            if pooled:
                read = sw2 / width * ha.mean(axis=(0, 1)) @ hb.mean(axis=(0, 1))
            else:
                read = sw2 / (d * width) * float(np.sum(ha * hb))
            nngp[a, b] = read + sb2
            tot = read + sb2
            for layer in range(depth):
                tot += float(np.sum(grads_w[a][layer] * grads_w[b][layer]))
                tot += float(grads_b[a][layer] @ grads_b[b][layer])
            ntk[a, b] = tot
    return nngp, ntk


def finite_difference_ntk(act, X, image, k, sw2, sb2, depth, width, pooled, rng, h=1e-6):
    """The NTK of one network by central differences of f over every parameter (slow; tiny networks only)."""
    phi, _ = _act(act)
    height, wid, chans = image
    d = height * wid
    offs = _offsets(k)
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)
    shapes = []
    fan = chans
    for _ in range(depth):
        shapes += [(len(offs), fan, width), (width,)]
        fan = width
    shapes += [(width,) if pooled else (height, wid, width), ()]
    params = [rng.standard_normal(s) for s in shapes]

    def f(x, ps):
        h = x.reshape(height, wid, chans)
        for layer in range(depth):
            lw, lb = ps[2 * layer], ps[2 * layer + 1]
            z = sb * lb + sw / math.sqrt(len(offs) * h.shape[2]) * sum(
                _gather(h, dh, dw) @ lw[t] for t, (dh, dw) in enumerate(offs))
            h = phi(z)
        w_out, b_out = ps[-2], ps[-1]
        if pooled:
            return sw / math.sqrt(width) * float(h.mean(axis=(0, 1)) @ w_out) + sb * float(b_out)
        return sw / math.sqrt(d * width) * float(np.sum(h * w_out)) + sb * float(b_out)

    jac = np.zeros((X.shape[0], sum(int(np.prod(s)) for s in shapes)))
    col = 0
    for p in params:
        flat = p.reshape(-1) if p.ndim else None
        for idx in range(max(1, p.size)):
            for a in range(X.shape[0]):
                if p.ndim:
                    old = flat[idx]
                    flat[idx] = old + h
                    up = f(X[a], params)
                    flat[idx] = old - h
                    dn = f(X[a], params)
                    flat[idx] = old
                else:
                    params[-1] = p + h
                    up = f(X[a], params)
                    params[-1] = p - h
                    dn = f(X[a], params)
                    params[-1] = p
                jac[a, col] = (up - dn) / (2 * h)
            col += 1
    return jac @ jac.T, params


def backprop_ntk_with(act, X, image, k, sw2, sb2, depth, width, pooled, params):
    """``sample_kernels``' NTK for given parameters (the list ``finite_difference_ntk`` returns)."""

    class Fixed:
        def __init__(self, ps):
            self.ps = list(ps)

        def standard_normal(self, shape):
            return self.ps.pop(0).copy()

    return sample_kernels(act, X, image, k, sw2, sb2, depth, width, pooled, Fixed(params[:-1]))[1]
