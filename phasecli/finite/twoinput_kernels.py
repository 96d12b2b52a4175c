"""numba kernels of the exact two-input sampler (``phasecli.finite.twoinput``; derivation in its docstring).

One network per call of ``_network``; ``_batch`` runs independent networks in parallel (each
writes its own output row, so the result does not depend on the number of threads).  The
network's standard normals arrive in ``z``, layer by layer, ``BLOCK`` vectors of length M per
layer l (1-based, offset (l - 1) BLOCK M):

    0: A, 1: B   layer 1: h^1(x1) = sqrt(Q) A, h^1(x2) = sqrt(Q) (C A + sqrt(1 - C^2) B)
                 layer l >= 2: Z = W^l U^{l-1} (the weights' projections on the span of x^{l-1})
    2: bias      b^l (layer l >= 2; unused in layer 1, whose bias is inside the 2x2 covariance)
    3: xi        noise of the part of W^{l+1} orthogonal to that span, for backpropagation
    4: w         the readout of the depth-l network
"""

from __future__ import annotations

import math

import numpy as np

from phasecli.activations.functions import dphi as _dphi, phi as _phi
from phasecli.runtime.jit import njit, prange

BLOCK = 5
_PARALLEL_TOL = 1e-13  # |x2 - (x2.u1) u1| below this fraction of |x2|: x2 counted parallel to x1


@njit(cache=True)
def _basis(x1, x2, u1, u2):
    """Orthonormal u1, u2 (zero vectors where the span has lower dimension) and the coordinates
    x1 = a1 u1 + b1 u2, x2 = a2 u1 + b2 u2.  Returns (a1, b1, a2, b2)."""
    m = x1.size
    n1 = 0.0
    n2 = 0.0
    for j in range(m):
        n1 += x1[j] * x1[j]
        n2 += x2[j] * x2[j]
    n1 = math.sqrt(n1)
    n2 = math.sqrt(n2)
    if n1 == 0.0:
        for j in range(m):
            u1[j] = x2[j] / n2 if n2 > 0.0 else 0.0
            u2[j] = 0.0
        return 0.0, 0.0, n2, 0.0
    for j in range(m):
        u1[j] = x1[j] / n1
    p = 0.0
    for j in range(m):
        p += u1[j] * x2[j]
    for j in range(m):
        u2[j] = x2[j] - p * u1[j]
    p2 = 0.0  # second Gram-Schmidt pass: u2 orthogonal to u1 to rounding
    for j in range(m):
        p2 += u1[j] * u2[j]
    r = 0.0
    for j in range(m):
        u2[j] -= p2 * u1[j]
        r += u2[j] * u2[j]
    r = math.sqrt(r)
    if r <= _PARALLEL_TOL * n2:
        for j in range(m):
            u2[j] = 0.0
        return n1, 0.0, p + p2, 0.0
    for j in range(m):
        u2[j] /= r
    return n1, 0.0, p + p2, r


@njit(cache=True)
def _network(code, slope, sw2, sb2, q1, c1, m, depths, z, q_out, c_out, ntk_out):
    """q = |h^L(x1)|^2 / M, c = cos(h^L(x1), h^L(x2)) and Theta(x1, x1) at every depth L in ``depths``
    (sorted, 1-based) of one network of width ``m``, from its normals ``z``."""
    lmax = depths[-1]
    aw = math.sqrt(sw2 / m)
    sb = math.sqrt(sb2)
    u1 = np.zeros((lmax, m))
    u2 = np.zeros((lmax, m))
    eta = np.zeros((lmax, m))
    dp = np.empty((lmax, m))
    s = np.empty(lmax + 1)  # s[l] = sw2/M |x^l(x1)|^2 + sb2 (weights + bias of layer l+1); s[0] = q^1
    s[0] = q1
    h1 = np.empty(m)
    h2 = np.empty(m)
    x1 = np.empty(m)
    x2 = np.empty(m)
    sq = math.sqrt(q1)
    sc = math.sqrt(max(1.0 - c1 * c1, 0.0))
    for j in range(m):
        h1[j] = sq * z[j]
        h2[j] = sq * (c1 * z[j] + sc * z[m + j])
    k = 0
    for layer in range(1, lmax + 1):
        n11 = 0.0
        n22 = 0.0
        n12 = 0.0
        g11 = 0.0
        for j in range(m):
            n11 += h1[j] * h1[j]
            n22 += h2[j] * h2[j]
            n12 += h1[j] * h2[j]
            x1[j] = _phi(code, h1[j], slope)
            x2[j] = _phi(code, h2[j], slope)
            dp[layer - 1, j] = _dphi(code, h1[j], slope)
            g11 += x1[j] * x1[j]
        s[layer] = sw2 / m * g11 + sb2
        if layer == depths[k]:
            q_out[k] = n11 / m
            c_out[k] = n12 / (math.sqrt(n11) * math.sqrt(n22)) if n11 > 0.0 and n22 > 0.0 else math.nan
            ntk_out[k] = _backward(layer, m, aw, z, u1, u2, eta, dp, s)
            k += 1
        if layer == lmax:
            break
        a1, b1, a2, b2 = _basis(x1, x2, u1[layer - 1], u2[layer - 1])
        base = (layer - 1) * BLOCK * m
        p1 = 0.0
        p2 = 0.0
        for j in range(m):
            xi = z[base + 3 * m + j]
            p1 += u1[layer - 1, j] * xi
            p2 += u2[layer - 1, j] * xi
        for j in range(m):
            eta[layer - 1, j] = z[base + 3 * m + j] - p1 * u1[layer - 1, j] - p2 * u2[layer - 1, j]
        nxt = layer * BLOCK * m
        for j in range(m):
            za = z[nxt + j]
            zb = z[nxt + m + j]
            bias = sb * z[nxt + 2 * m + j]
            h1[j] = aw * (a1 * za + b1 * zb) + bias
            h2[j] = aw * (a2 * za + b2 * zb) + bias
    return 0


@njit(cache=True)
def _step(m, aw, dp, u1, u2, eta, a0, a1, nd, za, zb):
    """delta_j = aw phi'_j (u1_j a0 + u2_j a1 + nd eta_j): returns (|delta|^2, za.delta, zb.delta).
    Four interleaved partial sums (fixed order: the result does not depend on the machine's threads)."""
    acc = np.zeros(12)
    j = 0
    while j + 4 <= m:
        for r in range(4):
            d = aw * dp[j + r] * (u1[j + r] * a0 + u2[j + r] * a1 + nd * eta[j + r])
            acc[r] += d * d
            acc[4 + r] += za[j + r] * d
            acc[8 + r] += zb[j + r] * d
        j += 4
    while j < m:
        d = aw * dp[j] * (u1[j] * a0 + u2[j] * a1 + nd * eta[j])
        acc[0] += d * d
        acc[4] += za[j] * d
        acc[8] += zb[j] * d
        j += 1
    return ((acc[0] + acc[1]) + (acc[2] + acc[3]), (acc[4] + acc[5]) + (acc[6] + acc[7]),
            (acc[8] + acc[9]) + (acc[10] + acc[11]))


@njit(cache=True)
def _backward(depth, m, aw, z, u1, u2, eta, dp, s):
    """Theta(x1, x1) of the depth-``depth`` network: sum over layers of |delta^l|^2 s[l-1], delta the
    backpropagated df/dh^l, with W^{l+1 T} delta = U^l (Z^{l+1 T} delta) + |delta| eta^l."""
    base = (depth - 1) * BLOCK * m
    zeros = np.zeros(m)
    # the readout: delta^L = aw phi'(h^L) w (u = 0, nd = 1, eta = w); delta^{L+1} = 1 gives s[depth]
    nd2, a0, a1 = _step(m, aw, dp[depth - 1], zeros, zeros, z[base + 4 * m:base + 5 * m], 0.0, 0.0, 1.0,
                        z[base:base + m], z[base + m:base + 2 * m])
    theta = s[depth] + nd2 * s[depth - 1]
    for layer in range(depth - 1, 0, -1):
        base = (layer - 1) * BLOCK * m
        nd2, a0, a1 = _step(m, aw, dp[layer - 1], u1[layer - 1], u2[layer - 1], eta[layer - 1], a0, a1,
                            math.sqrt(nd2), z[base:base + m], z[base + m:base + 2 * m])
        theta += nd2 * s[layer - 1]
    return theta


@njit(cache=True, parallel=True)
def _batch(code, slope, sw2, sb2, q1, c1, m, depths, z, q_out, c_out, ntk_out):
    """``_network`` for every row of ``z`` (one network each), in parallel; row s writes row s of the outputs."""
    for i in prange(z.shape[0]):
        _network(code, slope, sw2, sb2, q1, c1, m, depths, z[i], q_out[i], c_out[i], ntk_out[i])
