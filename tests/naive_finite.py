"""Full-weight Monte Carlo of two-input statistics of finite networks, independent of ``phasecli``.

Plain vectorized numpy, straight from THEORY.md ("Network and parameterization"): W, b ~ N(0, 1),

    h^1 = sqrt(sw2 / d) W^1 x + sqrt(sb2) b^1,   h^{l+1} = sqrt(sw2 / M) W^{l+1} phi(h^l) + sqrt(sb2) b^{l+1},

every weight matrix drawn in full.  Activations come from ``empirical_ntk.activation_fns``
(also independent of phasecli).  For two inputs x1, x2 with q^1 = q0 and c^1 = c0 (built
here from two random orthonormal directions) and every depth L asked, per network:

- q = |h^L(x1)|^2 / M and c = cos(h^L(x1), h^L(x2)), h^L the input of the L-th nonlinearity;
- Theta(x1, x1) of the depth-L network with scalar readout f = h^{L+1}_0 (row 0 of W^{L+1}),
  by backpropagation: sum_{l=1}^{L+1} |delta^l|^2 (sw2 / n_{l-1} |x^{l-1}|^2 + sb2),
  delta^{L+1} = 1, delta^l = phi'(h^l) * sqrt(sw2 / M) W^{l+1 T} delta^{l+1}.

All depths share one stack of layers (the depth-L network uses layers 1..L and row 0 of
W^{L+1} as readout); the backward passes of all depths run together (a stack of delta
rows multiplied by each W).  Several configurations (activation, sw2, sb2) share the same
raw weights (common random numbers).  Cost O(S L M^2) normals and O(S L^2 M^2) flops.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from empirical_ntk import activation_fns


def inputs(sw2, sb2, q0, c0, d, rng):
    """x1, x2 in R^d with sw2 |x|^2 / d + sb2 = q0 and (sw2 x1.x2 / d + sb2) / q0 = c0."""
    radius = math.sqrt(d * (q0 - sb2) / sw2)
    cos = (q0 * c0 - sb2) / (q0 - sb2) if q0 > sb2 else 1.0
    basis, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    e1, e2 = basis[:, 0], basis[:, 1]
    return np.stack([radius * e1, radius * (cos * e1 + math.sqrt(max(0.0, 1 - cos * cos)) * e2)])


def sample_many(configs, width, depths, samples, *, q0=1.0, c0=0.5, seed=0, d=8, chunk=8, slope=0.01):
    """{config: {"q", "c", "ntk": arrays (samples, len(depths))}} for configs (activation, sw2, sb2).

    BLAS runs on one thread: these are many small products, which OpenBLAS threads slow down."""
    with threadpool_limits(1):
        return _sample_many(configs, width, depths, samples, q0, c0, seed, d, chunk, slope)


def _sample_many(configs, width, depths, samples, q0, c0, seed, d, chunk, slope):
    depths = sorted(set(int(L) for L in depths))
    lmax = depths[-1]
    M = width
    out = {cfg: {k: np.empty((samples, len(depths))) for k in ("q", "c", "ntk")} for cfg in configs}
    for start in range(0, samples, chunk):
        n = min(chunk, samples - start)
        rng = np.random.default_rng([seed, start])
        W = [rng.standard_normal((n, M, d))] + [rng.standard_normal((n, M, M)) for _ in range(lmax)]
        b = [rng.standard_normal((n, M)) for _ in range(lmax)]
        X_rng = np.random.default_rng([seed, 10**9])
        for cfg in configs:
            act, sw2, sb2 = cfg
            phi, dphi = activation_fns(act, slope)
            X = inputs(sw2, sb2, q0, c0, d, np.random.default_rng(X_rng.integers(2**32)))
            res = _network_stats(phi, dphi, sw2, sb2, X, W, b, depths, M)
            for key in ("q", "c", "ntk"):
                out[cfg][key][start:start + n] = res[key]
    return out


def _network_stats(phi, dphi, sw2, sb2, X, W, b, depths, M):
    n, d = W[0].shape[0], X.shape[1]
    lmax = depths[-1]
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)
    h = sw / math.sqrt(d) * np.matmul(X, np.swapaxes(W[0], 1, 2)) + sb * b[0][:, None, :]  # (n, 2, M)
    hs, xs = [], []
    for layer in range(1, lmax + 1):
        hs.append(h)
        xs.append(phi(h))
        if layer < lmax:
            h = sw / math.sqrt(M) * np.matmul(xs[-1], np.swapaxes(W[layer], 1, 2)) + sb * b[layer][:, None, :]
    col = {L: k for k, L in enumerate(depths)}
    res = {key: np.empty((n, len(depths))) for key in ("q", "c", "ntk")}
    for L in depths:
        h1, h2 = hs[L - 1][:, 0], hs[L - 1][:, 1]
        n1, n2 = np.sum(h1 * h1, axis=1), np.sum(h2 * h2, axis=1)
        res["q"][:, col[L]] = n1 / M
        res["c"][:, col[L]] = np.sum(h1 * h2, axis=1) / np.sqrt(n1 * n2)
    # s[l] = sw2 / n_l |x^l(x1)|^2 + sb2 multiplies |delta^{l+1}|^2; s[0] uses the input itself
    s = [sw2 / d * np.sum(X[0] ** 2) + sb2 + np.zeros(n)] + [sw2 / M * np.sum(x[:, 0] ** 2, axis=1) + sb2 for x in xs]
    theta = {L: s[L].copy() for L in depths}  # readout layer L + 1
    stack, D = [], None
    for layer in range(lmax, 0, -1):
        g = dphi(hs[layer - 1][:, 0])  # phi'(h^layer(x1)), (n, M)
        if D is not None:  # delta^layer of the deeper networks from delta^{layer+1} through W^{layer+1}
            D = g[:, None, :] * (sw / math.sqrt(M) * np.matmul(D, W[layer]))
        if layer in theta:
            new = (g * (sw / math.sqrt(M) * W[layer][:, 0, :]))[:, None, :]  # readout row 0 of W^{layer+1}
            D = new if D is None else np.concatenate([D, new], axis=1)
            stack.append(layer)
        norms = np.sum(D * D, axis=2)  # (n, k)
        for k, L in enumerate(stack):
            theta[L] += norms[:, k] * s[layer - 1]
    for L in depths:
        res["ntk"][:, col[L]] = theta[L]
    return res
