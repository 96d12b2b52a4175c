"""Slow, obvious reference for residual networks with optional pre-LayerNorm (imports nothing from phasecli).

The model (docs/theory.md, "Residual networks and LayerNorm"): h^0 = W^0 x sw / sqrt(d) + sb b^0, then for
l = 1..L  h^l = h^(l-1) + alpha (W^l phi(n(h^(l-1))) sw / sqrt(N) + sb b^l), readout a dense layer on
phi(n(h^L)).  In infinite width, with n = LayerNorm: K -> K_ab / sqrt(K_aa K_bb), Theta -> Theta_ab / sqrt(K_aa K_bb).

Dense 2-D arrays, closed-form Gaussian expectations (erf: arcsine kernel; relu: arc-cosine kernel of degree 1)
or a scipy.integrate quadrature for any other phi given as a Python function.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate
from scipy.special import erf


def erf_maps(K):
    """(T, Tdot) of phi = erf on the covariance block K (dense, symmetric)."""
    d = 1.0 + 2.0 * np.diag(K)
    den = np.sqrt(np.outer(d, d))
    arg = np.clip(2.0 * K / den, -1.0, 1.0)
    T = 2.0 / math.pi * np.arcsin(arg)
    Tdot = 4.0 / math.pi / np.sqrt(np.outer(d, d) - 4.0 * K * K)
    return T, Tdot


def relu_maps(K):
    """(T, Tdot) of phi = relu: the arc-cosine kernel of degree 1 (Cho & Saul) and of degree 0."""
    s = np.sqrt(np.diag(K))
    root = np.outer(s, s)
    c = np.clip(K / root, -1.0, 1.0)
    np.fill_diagonal(c, 1.0)  # exactly: sqrt(K_aa)^2 may round off K_aa, and arccos(1 - u) ~ sqrt(2 u)
    theta = np.arccos(c)
    T = root / (2.0 * math.pi) * (np.sin(theta) + (math.pi - theta) * c)
    Tdot = (math.pi - theta) / (2.0 * math.pi)
    return T, Tdot


def quad_maps(phi, dphi, K):
    """(T, Tdot) by scipy quadrature of E[f(u) g(v)] over (u, v) ~ N(0, [[Kaa, Kab], [Kab, Kbb]]):
    u = sqrt(Kaa) z1, v = sqrt(Kbb)(c z1 + sqrt(1 - c^2) z2), inner integral over z2 by quad."""
    m = K.shape[0]
    T = np.empty_like(K)
    Td = np.empty_like(K)
    gauss = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)  # noqa: E731

    def expect(f, g, kaa, kbb, kab):
        sa, sb = math.sqrt(kaa), math.sqrt(kbb)
        c = max(-1.0, min(1.0, kab / (sa * sb)))
        r = math.sqrt(max(0.0, 1.0 - c * c))

        def outer(z1):
            inner = integrate.quad(lambda z2: g(sb * (c * z1 + r * z2)) * gauss(z2), -np.inf, np.inf,
                                   epsabs=1e-13, epsrel=1e-12, limit=200)[0]
            return f(sa * z1) * gauss(z1) * inner

        return integrate.quad(outer, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    for a in range(m):
        for b in range(a, m):
            T[a, b] = T[b, a] = expect(phi, phi, K[a, a], K[b, b], K[a, b])
            Td[a, b] = Td[b, a] = expect(dphi, dphi, K[a, a], K[b, b], K[a, b])
    return T, Td


MAPS = {"erf": erf_maps, "relu": relu_maps}


def layer_norm(K, Theta):
    """LayerNorm over the features in infinite width: both kernels divided by sqrt(K_aa K_bb)."""
    s = np.sqrt(np.diag(K))
    root = np.outer(s, s)
    return K / root, Theta / root


def resnet_kernels(activation, X, sw2, sb2, depth, alpha, layer_norm_pre, maps=None, stream=False):
    """(K, Theta) of the depth-``depth`` residual network's output (readout included) on the rows of X
    (used as given: no normalization); with ``stream`` the NNGP is that of the residual stream h^depth
    instead (before any normalization; Theta still the network's)."""
    maps = maps or MAPS[activation]
    d = X.shape[1]
    K = sw2 * X @ X.T / d + sb2
    Th = K.copy()
    a2 = alpha * alpha

    def branch(K, Th):
        Kn, Thn = layer_norm(K, Th) if layer_norm_pre else (K, Th)
        T, Td = maps(Kn)
        return sw2 * T + sb2, sw2 * Td * Thn

    for _ in range(depth):
        k_b, th_b = branch(K, Th)
        K, Th = K + a2 * k_b, Th + a2 * (k_b + th_b)
    k_b, th_b = branch(K, Th)
    return (K if stream else k_b), k_b + th_b


def scale_rows(X, q0, sw2, sb2):
    """Rows rescaled so that the first layer's variance sw2 |x|^2 / d + sb2 equals q0."""
    d = X.shape[1]
    norms = np.sqrt((X * X).sum(axis=1))
    return X / norms[:, None] * np.sqrt(d * (q0 - sb2) / sw2)


def spectra(K):
    """(lambda_max, lambda_min, kappa) of a symmetric matrix."""
    w = np.linalg.eigvalsh(K)
    return w[-1], w[0], w[-1] / w[0]


def resnet_kernels_mp(activation, X, sw2, sb2, depths, alpha, layer_norm_pre, dps=40):
    """{depth: (K, Theta)} of the network outputs (readout included) in mpmath at ``dps`` digits, rounded to
    float64 at the end: the high-precision reference where float64 recursions (neural-tangents' arccos near
    c = 1) cannot hold.  ``alpha`` fixed over the depths (call once per depth for alpha = 1/sqrt(L)); erf or relu."""
    import mpmath as mp

    mp.mp.dps = dps
    m, d = X.shape
    Xm = [[mp.mpf(float(v)) for v in row] for row in X]
    sw2m, sb2m, a2 = mp.mpf(sw2), mp.mpf(sb2), mp.mpf(alpha) ** 2
    K = [[sw2m * mp.fsum(Xm[a][k] * Xm[b][k] for k in range(d)) / d + sb2m for b in range(m)] for a in range(m)]
    Th = [row[:] for row in K]

    def maps(kaa, kbb, kab, same):
        if activation == "erf":
            da, db = 1 + 2 * kaa, 1 + 2 * kbb
            return 2 / mp.pi * mp.asin(2 * kab / mp.sqrt(da * db)), 4 / mp.pi / mp.sqrt(da * db - 4 * kab * kab)
        root = mp.sqrt(kaa * kbb)
        c = mp.mpf(1) if same else max(mp.mpf(-1), min(mp.mpf(1), kab / root))
        th = mp.acos(c)
        return root / (2 * mp.pi) * (mp.sin(th) + (mp.pi - th) * c), (mp.pi - th) / (2 * mp.pi)

    def branch():
        B = [[None] * m for _ in range(m)]
        G = [[None] * m for _ in range(m)]
        for a in range(m):
            for b in range(a, m):
                if layer_norm_pre:
                    root = mp.sqrt(K[a][a] * K[b][b])
                    t, td = maps(mp.mpf(1), mp.mpf(1), K[a][b] / root, a == b)
                    thn = Th[a][b] / root
                else:
                    t, td = maps(K[a][a], K[b][b], K[a][b], a == b)
                    thn = Th[a][b]
                B[a][b] = B[b][a] = sw2m * t + sb2m
                G[a][b] = G[b][a] = sw2m * td * thn
        return B, G

    out = {}
    want = sorted(int(x) for x in depths)
    for layer in range(0, want[-1] + 1):
        B, G = branch()
        if layer in want:
            out[layer] = (np.array([[float(B[a][b]) for b in range(m)] for a in range(m)]),
                          np.array([[float(B[a][b] + G[a][b]) for b in range(m)] for a in range(m)]))
        for a in range(m):
            for b in range(m):
                K[a][b] += a2 * B[a][b]
                Th[a][b] += a2 * (B[a][b] + G[a][b])
    return out
