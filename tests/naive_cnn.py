"""A slow, obvious CNN NNGP / NTK recursion, independent of ``phasecli`` (the CNN oracle).

Straight from /work/shared/THEORY.md ("Convolutional networks"): the kernel is held as a
full array K[a, b, h1, w1, h2, w2] over every pair of inputs and every pair of positions,

    K^1_ab(i, j)      = sw2 mean_delta [ sum_c x_a(i+delta, c) x_b(j+delta, c) / C ] + sb2,   Theta^1 = K^1
    K^{l+1}(i, j)     = sw2 mean_delta T(K^l)(i+delta, j+delta) + sb2
    Theta^{l+1}(i, j) = K^{l+1}(i, j) + sw2 mean_delta [Tdot(K^l) * Theta^l](i+delta, j+delta)
    NNGP = sw2 R[T(K^L)] + sb2,  NTK = NNGP + sw2 R[Tdot(K^L) * Theta^L]

with T, Tdot from (K_aa(i, i), K_bb(j, j), K_ab(i, j)) entry by entry (``naive_ntk.pair``:
closed forms for erf / relu and leaky_relu through relu, nested quad otherwise), the shifts by ``numpy.roll`` (circular
padding) and R the mean over (i, i) (CNN-F) or over all (i, j) (CNN-P).  With
``dps`` the same recursion runs in mpmath at that many digits (erf and relu only).
"""

from __future__ import annotations

import itertools

import numpy as np

import naive_ntk as nn


def _mp_pair(act, s11, s22, s12):
    import mpmath as mp

    if act == "erf":
        a = (1 + 2 * s11) * (1 + 2 * s22)
        return 2 / mp.pi * mp.asin(2 * s12 / mp.sqrt(a)), 4 / (mp.pi * mp.sqrt(a - 4 * s12 * s12))
    if act == "relu":
        n = mp.sqrt(s11 * s22)
        c = max(mp.mpf(-1), min(mp.mpf(1), s12 / n))
        th = mp.acos(c)
        return n / (2 * mp.pi) * (mp.sin(th) + (mp.pi - th) * c), (mp.pi - th) / (2 * mp.pi)
    raise ValueError(f"mpmath oracle has erf and relu only, not {act}")


def cnn_kernels(act, X, image, filter_size, sw2, sb2, depths, pooled, slope=0.01, dps=None):
    """{depth: (NNGP m x m, NTK m x m)} of CNN-F (pooled=False) or CNN-P networks with L conv layers."""
    height, width, channels = image
    m = X.shape[0]
    half = filter_size // 2
    shifts = list(itertools.product(range(-half, half + 1), repeat=2))
    if dps is not None:
        import mpmath as mp

        mp.mp.dps = dps
        conv = np.vectorize(mp.mpf, otypes=[object])
        x = conv(np.asarray(X, dtype=float).reshape(m, height, width, channels))
        sw2, sb2 = mp.mpf(sw2), mp.mpf(sb2)

        def pair(s11, s22, s12):
            return _mp_pair(act, s11, s22, s12)
    else:
        x = np.asarray(X, dtype=float).reshape(m, height, width, channels)

        def pair(s11, s22, s12):
            if act == "leaky_relu":
                # phi = slope x + (1 - slope) relu(x): E[u1 relu(u2)] = s12 / 2, so
                # T = slope s12 + (1 - slope)^2 T_relu and Tdot = slope + (1 - slope)^2 Tdot_relu
                t, td = nn.pair("relu", s11, s22, s12)
                w = (1.0 - slope) ** 2
                return slope * s12 + w * t, slope + w * td
            return nn.pair(act, s11, s22, s12, slope)

    def box(arr):
        tot = None
        for dh, dw in shifts:
            rolled = np.roll(arr, shift=(-dh, -dw, -dh, -dw), axis=(2, 3, 4, 5))
            tot = rolled if tot is None else tot + rolled
        return tot / len(shifts)

    # input covariances: x_a(i) . x_b(j) / C over every pair of inputs and positions
    prod = np.einsum("aijc,bklc->abijkl", x, x) / channels
    k = sw2 * box(prod) + sb2
    th = k.copy()
    out = {}
    grid = list(itertools.product(range(height), range(width)))
    for depth in range(1, max(depths) + 1):
        t = np.empty_like(k)
        td = np.empty_like(k)
        for a in range(m):
            for b in range(a, m):
                for (h1, w1), (h2, w2) in itertools.product(grid, grid):
                    if not pooled and (h1, w1) != (h2, w2):
                        t[a, b, h1, w1, h2, w2] = td[a, b, h1, w1, h2, w2] = 0.0
                    else:
                        v = pair(k[a, a, h1, w1, h1, w1], k[b, b, h2, w2, h2, w2], k[a, b, h1, w1, h2, w2])
                        t[a, b, h1, w1, h2, w2], td[a, b, h1, w1, h2, w2] = v
                    t[b, a, h2, w2, h1, w1] = t[a, b, h1, w1, h2, w2]
                    td[b, a, h2, w2, h1, w1] = td[a, b, h1, w1, h2, w2]
        if depth in depths:
            if pooled:
                r_t, r_tdth = t.mean(axis=(2, 3, 4, 5)), (td * th).mean(axis=(2, 3, 4, 5))
            else:
                dg_t = np.stack([t[:, :, h, w, h, w] for h, w in grid])
                dg_tt = np.stack([td[:, :, h, w, h, w] * th[:, :, h, w, h, w] for h, w in grid])
                r_t, r_tdth = dg_t.mean(axis=0), dg_tt.mean(axis=0)
            nngp = sw2 * r_t + sb2
            out[depth] = (nngp, nngp + sw2 * r_tdth)
        k = sw2 * box(t) + sb2
        th = k + sw2 * box(td * th)
    return out


def spectrum(mat, dps=None):
    """(lambda_max, lambda_min) of a symmetric matrix (mpmath eigsy with dps)."""
    if dps is None:
        w = np.linalg.eigvalsh(np.asarray(mat, dtype=float))
        return float(w[-1]), float(w[0])
    import mpmath as mp

    mp.mp.dps = dps
    w = mp.eigsy(mp.matrix(mat.tolist()), eigvals_only=True)
    w = sorted(w)
    return w[-1], w[0]


def _erf_maps(s11, s22, s12):
    """Elementwise (T, Tdot) of erf: the arcsine kernel (numpy arrays)."""
    a = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22)
    t = 2.0 / np.pi * np.arcsin(np.clip(2.0 * s12 / np.sqrt(a), -1.0, 1.0))
    td = 4.0 / (np.pi * np.sqrt(a - 4.0 * s12 * s12))
    return t, td


def cnn_kernels_erf(X, image, filter_size, sw2, sb2, depths, pooled):
    """``cnn_kernels`` for erf, vectorized over every pair of inputs and positions (fast enough for depth 1000):
    the same recursion on the full array K[a, b, h1, w1, h2, w2] (CNN-P), or on its same-position entries
    K[a, b, h, w] (CNN-F: the flatten readout and the box mean of entries (i, i) need those only)."""
    height, width, channels = image
    m = X.shape[0]
    half = filter_size // 2
    shifts = list(itertools.product(range(-half, half + 1), repeat=2))
    x = np.asarray(X, dtype=float).reshape(m, height, width, channels)
    axes = (2, 3, 4, 5) if pooled else (2, 3)

    def box(arr):
        tot = 0.0
        for dh, dw in shifts:
            tot = tot + np.roll(arr, shift=(-dh, -dw) * (len(axes) // 2), axis=axes)
        return tot / len(shifts)

    if pooled:
        prod = np.einsum("aijc,bklc->abijkl", x, x) / channels
    else:
        prod = np.einsum("aijc,bijc->abij", x, x) / channels
    k = sw2 * box(prod) + sb2
    th = k.copy()
    idx = np.arange(m)
    out = {}
    for depth in range(1, max(depths) + 1):
        if pooled:
            diag = np.einsum("aaijij->aij", k)  # K_aa(i, i): (m, H, W)
            s11 = diag[:, None, :, :, None, None]
            s22 = diag[None, :, None, None, :, :]
        else:
            diag = k[idx, idx]  # (m, H, W)
            s11, s22 = diag[:, None], diag[None, :]
        t, td = _erf_maps(s11, s22, k)
        if depth in depths:
            r_t, r_tdth = t.mean(axis=axes), (td * th).mean(axis=axes)
            nngp = sw2 * r_t + sb2
            out[depth] = (nngp, nngp + sw2 * r_tdth)
        k = sw2 * box(t) + sb2
        th = k + sw2 * box(td * th)
    return out
