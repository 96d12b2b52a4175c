"""Slow, obvious reference for the NTK / NNGP mean predictor (does not import phasecli).

Closed-form kernels (erf arcsine kernel, relu and abs arc-cosine kernels), the plain depth
recursion of THEORY.md at each depth from scratch, q* by plain forward iteration and
np.linalg.solve on the train-train kernel.
"""

import numpy as np


def erf_maps(S):
    d = np.sqrt(1.0 + 2.0 * np.diag(S))
    a = np.outer(d, d) ** 2
    T = 2.0 / np.pi * np.arcsin(np.clip(2.0 * S / np.sqrt(a), -1, 1))
    Tdot = 4.0 / (np.pi * np.sqrt(a - 4.0 * S * S))
    return T, Tdot


def relu_maps(S):
    n = np.sqrt(np.diag(S))
    c = np.clip(S / np.outer(n, n), -1, 1)
    np.fill_diagonal(c, 1.0)  # exactly: arccos(1 - 1 ulp) = 1.5e-8 would bias Tdot by 2e-9
    theta = np.arccos(c)
    T = np.outer(n, n) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * c)
    Tdot = (np.pi - theta) / (2 * np.pi)
    return T, Tdot


def abs_maps(S):
    """|x|: T = sqrt(s11 s22) (2/pi) (sqrt(1 - c^2) + c asin c), Tdot = (2/pi) asin c."""
    n = np.sqrt(np.diag(S))
    c = np.clip(S / np.outer(n, n), -1, 1)
    np.fill_diagonal(c, 1.0)
    T = np.outer(n, n) * 2.0 / np.pi * (np.sqrt((1.0 - c) * (1.0 + c)) + c * np.arcsin(c))
    Tdot = 2.0 / np.pi * np.arcsin(c)
    return T, Tdot


MAPS = {"erf": erf_maps, "relu": relu_maps, "abs": abs_maps}


def q_star(activation, sw2, sb2, q0=1.0):
    """Stable fixed point of the length map by plain iteration (closed forms)."""
    q = q0
    for _ in range(200000):
        if activation == "erf":
            new = sw2 * 2.0 / np.pi * np.arcsin(2.0 * q / (1.0 + 2.0 * q)) + sb2
        elif activation == "abs":
            new = sw2 * q + sb2  # E[|u|^2] = q
        else:
            new = sw2 * q / 2.0 + sb2
        if abs(new - q) <= 1e-16 * max(q, 1e-300):
            return new
        q = new
    return q


def kernels(activation, X, sw2, sb2, depth, normalize=True):
    """(K, Theta) of a depth-`depth` network on the rows of X (joint matrix)."""
    X = np.asarray(X, dtype=float)
    d = X.shape[1]
    if normalize:
        qs = q_star(activation, sw2, sb2)
        norms2 = np.sum(X * X, axis=1) / d
        X = X * np.sqrt((qs - sb2) / sw2 / norms2)[:, None]
    maps = MAPS[activation]
    K = sw2 * X @ X.T / d + sb2
    Theta = K.copy()
    for _ in range(depth):
        T, Tdot = maps(K)
        K_next = sw2 * T + sb2
        Theta = K_next + sw2 * Tdot * Theta
        K = K_next
    return K, Theta


def predictions(activation, X_train, y_train, X_test, sw2, sb2, depth, nngp=False, ridge=0.0, time=None):
    """mu(X_test) with targets one-hot minus 1/k, by explicit np.linalg.solve / eigh."""
    classes = np.unique(y_train)
    k = classes.size
    Y = (y_train[:, None] == classes[None, :]).astype(float) - 1.0 / k
    m = X_train.shape[0]
    K, Theta = kernels(activation, np.vstack([X_train, X_test]), sw2, sb2, depth)
    M = K if nngp else Theta
    A = M[:m, :m] + ridge * np.eye(m)
    B = M[m:, :m]
    if time is None:
        return B @ np.linalg.solve(A, Y)
    lam, V = np.linalg.eigh(A)
    eta = 2.0 / lam[-1]
    filt = (1.0 - np.exp(-eta * lam * time)) / lam
    return B @ (V @ (filt[:, None] * (V.T @ Y)))
