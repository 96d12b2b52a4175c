"""Slow, obvious reference for the trained-network ensemble and the residual predictor (imports nothing
from phasecli).

Kernels from ``naive_generalize`` (closed forms, plain recursion on train and test rows together);
the ensemble's mean and covariance by neural-tangents' formulas written with explicit matrix inverses
(``gradient_descent_mse_ensemble(..., compute_cov=True)``); the argmax probability per test row by
adaptive quadrature (``scipy.integrate.quad`` on the whole line); the infinite-depth predictor from the
large-depth limits of THEORY.md (Xiao et al. Table 1): chaotic 0, critical a / (1 - a + m a) with
a = 1/3 (smooth phi) or 1/4 (phi' jumps), ordered p* / (m p* + ridge), p* = q* / (1 - chi_1).
"""

import math

import numpy as np
from scipy.integrate import quad

import naive_generalize as NG


def targets(y, classes):
    return (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(float) - 1.0 / len(classes)


def argmax_probability(mean, label, std):
    """P(argmax_j (mean_j + std z_j) = label), z_j independent standard normal, by quad."""
    shifts = [float((mean[label] - mean[j]) / std) for j in range(mean.size) if j != label]

    def integrand(z):
        out = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        for s in shifts:
            out *= 0.5 * math.erfc(-(s + z) / math.sqrt(2.0))
        return out

    return quad(integrand, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13, limit=400)[0]


def ensemble(activation, X_train, y_train, X_test, y_test, sw2, sb2, depth, *, nngp=False, time=None, ridge=0.0,
             normalize=True):
    """(ensemble accuracy, RMS std, mean (n_test, k), Y_train) of the infinite ensemble at one depth."""
    classes = np.unique(y_train)
    Y = targets(y_train, classes)
    m = X_train.shape[0]
    K, Theta = NG.kernels(activation, np.vstack([X_train, X_test]), sw2, sb2, depth, normalize=normalize)
    M = K if nngp else Theta
    A = M[:m, :m] + ridge * np.eye(m)
    B = M[m:, :m]
    if time is None:
        F = F2 = np.linalg.inv(A)
    else:
        lam, V = np.linalg.eigh(A)
        eta = 2.0 / lam[-1]
        F = V @ np.diag((1.0 - np.exp(-eta * lam * time)) / lam) @ V.T
        F2 = V @ np.diag((1.0 - np.exp(-2.0 * eta * lam * time)) / lam) @ V.T
    mean = B @ F @ Y
    K_xx, K_dX = K[m:, m:], K[m:, :m]
    if nngp:
        cov = K_xx - K_dX @ F2 @ K_dX.T
    else:
        cross = B @ F @ K_dX.T
        cov = K_xx + B @ F @ K[:m, :m] @ F.T @ B.T - cross - cross.T
    var = np.maximum(np.diag(cov), 0.0)
    labels = np.searchsorted(classes, y_test)
    probs = [argmax_probability(mean[i], labels[i], np.sqrt(var[i])) for i in range(len(y_test))]
    return float(np.mean(probs)), float(np.sqrt(np.mean(var))), mean, Y


def delta(activation, X_train, y_train, X_test, sw2, sb2, depth, *, phase, ridge=0.0, slope_jumps=False):
    """RMS of (P(Theta^l) - P(Theta*)) Y_train over test rows and outputs, over RMS(Y_train) (t = inf, NTK)."""
    classes = np.unique(y_train)
    Y = targets(y_train, classes)
    m = X_train.shape[0]
    _, Theta = NG.kernels(activation, np.vstack([X_train, X_test]), sw2, sb2, depth)
    mu = Theta[m:, :m] @ np.linalg.solve(Theta[:m, :m] + ridge * np.eye(m), Y)
    if phase == "chaotic":
        gamma = 0.0
    elif phase == "critical":
        a = 0.25 if slope_jumps else 1.0 / 3.0
        gamma = a / (1.0 - a + m * a)
    else:
        q = NG.q_star(activation, sw2, sb2)
        chi_1 = {"erf": lambda: sw2 * 4.0 / (np.pi * np.sqrt(1.0 + 4.0 * q)),
                 "relu": lambda: sw2 / 2.0}[activation]()
        p_star = q / (1.0 - chi_1)
        gamma = p_star / (m * p_star + ridge)
    residual = mu - gamma * Y.sum(axis=0)[None, :]
    return float(np.sqrt(np.mean(residual ** 2)) / np.sqrt(np.mean(Y ** 2)))
