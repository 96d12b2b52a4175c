"""A slow, obviously-correct NNGP / NTK oracle, independent of ``phasecli``.

Written straight from /work/shared/THEORY.md ("NNGP and NTK on a data set"); nothing is
imported from phasecli.  Activations and 1-D Gaussian quadrature come from the
mean-field oracle ``naive.py`` (itself independent of phasecli).

- ``pair(act, s11, s22, s12)``: (E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) for
  (u1, u2) ~ N(0, [[s11, s12], [s12, s22]]) by nested adaptive ``scipy.integrate.quad``
  (u1 = sqrt(s11) z1, u2 = sqrt(s22) (c z1 + sqrt(1 - c^2) z2)), split at the kinks;
  the textbook closed forms for erf (arcsine kernel), relu (arc-cosine kernel of
  Cho & Saul) and abs (``naive.abs_pair_closed``) are used for those three.
- ``kernels(...)``: the plain per-layer recursion on the stacked rows [X; X_test]:
  K^1 = sw2 X X^T / d + sb2, K^{l+1} = sw2 T(K^l) + sb2,
  Theta^{l+1} = K^{l+1} + sw2 Tdot(K^l) * Theta^l; a depth-L network has K^{L+1},
  Theta^{L+1}.  Dropout (keep rate rho) on the last hidden layer multiplies the
  same-input diagonal of T and of Tdot * Theta by 1/rho at the last step.
- eigenvalues with ``numpy.linalg.eigvalsh``.

Speed is not a goal (~0.07 s per pair expectation for quad activations).
"""

from __future__ import annotations

import math

import numpy as np

import naive as nv


def _erf_pair(s11, s22, s12):
    a = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22)
    t = 2.0 / math.pi * math.asin(max(-1.0, min(1.0, 2.0 * s12 / math.sqrt(a))))
    td = 4.0 / (math.pi * math.sqrt(a - 4.0 * s12 * s12))
    return t, td


def _relu_pair(s11, s22, s12):
    n = math.sqrt(s11 * s22)
    c = max(-1.0, min(1.0, s12 / n))
    th = math.acos(c)
    return n / (2.0 * math.pi) * (math.sin(th) + (math.pi - th) * c), (math.pi - th) / (2.0 * math.pi)


def _abs_pair(s11, s22, s12):
    if s11 == s22 and s12 == s11:
        return s11, 1.0
    n = math.sqrt(s11 * s22)
    t, td = nv.abs_pair_closed(1.0, s12 / n)
    return n * t, td


def pair(act, s11, s22, s12, slope=0.01):
    """(T, Tdot) for a general 2x2 covariance."""
    if act == "erf":
        return _erf_pair(s11, s22, s12)
    if act == "relu":
        return _relu_pair(s11, s22, s12)
    if act == "abs":
        return _abs_pair(s11, s22, s12)
    if s11 == s22 and s12 == s11:
        return nv.length_map(act, s11, slope), nv.dphi2(act, s11, slope)
    f, g, kinks = nv.ACTS[act]
    sq1, sq2 = math.sqrt(s11), math.sqrt(s22)
    c = max(-1.0, min(1.0, s12 / (sq1 * sq2)))
    s = math.sqrt((1.0 - c) * (1.0 + c))

    def inner(h, z1):
        m = c * z1
        if s == 0.0:
            return h(sq2 * m, slope)
        breaks = [(k / sq2 - m) / s for k in kinks]
        return nv.gauss(lambda z2: h(sq2 * (m + s * z2), slope), breaks)

    outer_breaks = [k / sq1 for k in kinks]
    if c != 0.0:
        for k in kinks:
            z0 = k / (sq2 * c)
            w = s / abs(c)
            outer_breaks += [z0 + sign * j * w for j in (0.0, 0.5, 2.0, 8.0, 32.0) for sign in (1, -1)]

    def outer(h):
        def integrand(z1):
            a = h(sq1 * z1, slope)
            return 0.0 if a == 0.0 else a * inner(h, z1)

        return nv.gauss(integrand, outer_breaks)

    return outer(f), outer(g)


def q_star(act, sw2, sb2, q0=1.0, slope=0.01):
    return nv.q_star(act, sw2, sb2, q0=q0, slope=slope)


def normalize_rows(X, sw2, sb2, q):
    """Rows scaled so that sw2 |x|^2 / d + sb2 = q."""
    X = np.asarray(X, dtype=float)
    d = X.shape[1]
    target = math.sqrt(d * (q - sb2) / sw2)
    return X * (target / np.linalg.norm(X, axis=1))[:, None]


def kernels(act, X, sw2, sb2, depths, X_test=None, dropout=None, slope=0.01):
    """{depth: (K_train, Theta_train, K_test_train, Theta_test_train)} (test blocks None without X_test).

    X (and X_test) are used as given: normalize them first with ``normalize_rows`` for
    the default setting of phasecli.
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    A = X if X_test is None else np.vstack([X, np.asarray(X_test, dtype=float)])
    d = A.shape[1]
    N = A.shape[0]
    K = sw2 * (A @ A.T) / d + sb2
    Th = K.copy()
    out = {}
    for depth in range(1, max(depths) + 1):
        T = np.empty_like(K)
        Td = np.empty_like(K)
        for i in range(N):
            for j in range(i, N):
                t, td = pair(act, K[i, i], K[j, j], K[i, j], slope)
                T[i, j] = T[j, i] = t
                Td[i, j] = Td[j, i] = td
        Kn = sw2 * T + sb2
        Thn = Kn + sw2 * Td * Th
        if depth in depths:
            Ko, Tho = Kn.copy(), Thn.copy()
            if dropout is not None:
                extra = 1.0 / dropout - 1.0
                for i in range(n):  # train diagonal only; different inputs have independent masks
                    Ko[i, i] += extra * sw2 * T[i, i]
                    Tho[i, i] += extra * sw2 * (T[i, i] + Td[i, i] * Th[i, i])
            out[depth] = (Ko[:n, :n], Tho[:n, :n], None if X_test is None else Ko[n:, :n],
                          None if X_test is None else Tho[n:, :n])
        K, Th = Kn, Thn
    return out


def spectrum(A):
    """(lambda_max, lambda_min, lambda_bulk, kappa) with numpy.linalg.eigvalsh."""
    w = np.linalg.eigvalsh(A)
    m = w.size
    return w[-1], w[0], (np.trace(A) - w[-1]) / (m - 1), w[-1] / w[0]
