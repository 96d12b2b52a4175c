"""Large-depth limits that depend on the inputs: the chaotic prefactors A(x) (docs/theory.md, "Large depth").

In the chaotic phase (chi_1 > 1, q* finite and stable, c* < 1) the NTK diagonal of input x grows like
A(x) chi_1^l while the off-diagonals grow only like chi_c*^l (different inputs; for the CNN also different
positions of one image), so Theta / chi_1^l -> diag(A(x)) and kappa -> max A / min A.  A(x) depends on how
the input's first-layer variances v^1(i) (one per position i; one per input for fc) approach q*:

    v^{l+1}(i) = sw2 box(Tq(v^l))(i) + sb2,        P^{l+1}(i) = v^{l+1}(i) + sw2 box(Tdq(v^l) P^l)(i)

(Tq(v) = E[phi(sqrt(v) z)^2], Tdq(v) = E[phi'(sqrt(v) z)^2], box the K x K circular mean; for fc d = 1 and
box = identity), and the readout diagonal is mean_i P^{L+1}(i) (CNN-F) or that over d plus same-image
off-position terms of order chi_c*^L (CNN-P): the pooling divides every A(x) by d alike, the ratio is the
same.  The box mean preserves the mean over positions, so with y^l = P^l / chi_1^l

    A_L = (mean_i P^L(i) + q* / (chi_1 - 1)) / chi_1^L,
    A_{L+1} - A_L = mean_i [ (v^{L+1}(i) - q*) / chi_1^{L+1} + (sw2 Tdq(v^L(i)) / chi_1 - 1) y^L(i) ],

increments of the size of v^L - q* (decaying like the length map's slope at q*): A_L is constant exactly when
every position of every input starts at q* (then A = q* / (chi_1 - 1)).  ``chaotic_prefactors`` iterates the
diagonals (the CNN engine's own numba maps: ``cnn_kernels._diag_maps`` / ``_diag_step``, carried as
r = v - q*, pi = P / p^l - 1 with p^{l+1} = q* + chi_1 p^l, p^1 = q*) until A_L has converged to float64.
"""

from __future__ import annotations

import math

import numpy as np

EPS = np.finfo(np.float64).eps
# beyond this the prefactors are NaN (the length map's slope at q* within ~2e-3 of 1, or rows that reach
# another fixed point)
MAX_LAYERS = 20_000
STABLE_LAYERS = 8  # consecutive layers with an increment below the float64 resolution


def chaotic_prefactors(code, method, slope, sw2, q_star, chi_1, v1, nb, max_layers=MAX_LAYERS):
    """A(x) (chi_1 - 1) / q* for each row of v1 (n x d first-layer variances, absolute units; nb: d x k the
    box-mean neighbours, [[0]] for fc), 1 for an input whose every position starts at q*.  NaN for all when
    the limit is not reached within ``max_layers`` layers or a variance leaves float64.  Never prints."""
    from phasecli.ntk.engines import cnn_kernels as CK

    v1 = np.ascontiguousarray(np.asarray(v1, dtype=float).reshape(len(v1), -1))
    nb = np.ascontiguousarray(np.asarray(nb, dtype=np.int64))
    n = v1.shape[0]
    if not (math.isfinite(q_star) and q_star > 0.0 and math.isfinite(chi_1) and chi_1 > 1.0):
        return np.full(n, np.nan)
    if not np.any(v1 - q_star):
        return np.ones(n)
    out = np.zeros(n)
    # an input whose every variance is 0 stays at 0 when phi(0) = 0 (sb2 = 0): its NTK row is 0 at every depth,
    # A = 0 (kappa = inf); carried along, its pi = -1 would drift away by rounding (amplified by Tdq(0) / Tdq(q*))
    zero = np.full((1, 1), -q_star)
    t0 = np.empty((1, 1)), np.empty((1, 1)), np.empty((1, 1)), np.empty((1, 1))
    CK._diag_maps(method, code, slope, q_star, zero, *t0)
    live = ~np.all(v1 == 0.0, axis=1) if t0[2][0, 0] == 0.0 else np.ones(n, dtype=bool)
    if not live.any():
        return out
    out[live] = _prefactors(code, method, slope, sw2, q_star, chi_1, np.ascontiguousarray(v1[live]), nb, max_layers)
    return out


def _prefactors(code, method, slope, sw2, q_star, chi_1, v1, nb, max_layers):
    """``chaotic_prefactors`` of inputs whose variances reach q*."""
    from phasecli.ntk.engines import cnn_kernels as CK

    n = v1.shape[0]
    r = v1 - q_star
    pi = r / q_star  # Theta^1 = K^1, p^1 = q*
    dq, ddq, tq, tdq = (np.empty_like(r) for _ in range(4))
    lp = math.log(q_star)  # log p^l
    log_chi = math.log(chi_1)
    prev = None
    stable = 0
    for depth in range(1, max_layers + 1):
        # A_l = 1 + mean pi (1 - chi_1^-l): (p^l (1 + mean pi) + q*/(chi_1 - 1)) (chi_1 - 1) / (q* chi_1^l)
        a = 1.0 + pi.mean(axis=1) * -math.expm1(-depth * log_chi)
        if not np.all(np.isfinite(a)):
            return np.full(n, np.nan)
        if prev is not None:
            # relative steps of the prefactors that matter: one below EPS * max A (an input whose diagonal dies,
            # e.g. a zero row with sb2 = 0) already puts kappa beyond 1/EPS, and it may decay to 0 for ever
            size = np.abs(a)
            keep = size >= EPS * size.max()
            step = float(np.max(np.abs(a - prev)[keep] / size[keep]))
            stable = stable + 1 if step <= EPS else 0
            if stable >= STABLE_LAYERS:
                return a
        prev = a
        CK._diag_maps(method, code, slope, q_star, r, dq, ddq, tq, tdq)
        rho = q_star * math.exp(-lp) + chi_1  # p^{l+1} / p^l
        lp_next = lp + math.log(rho)
        CK._diag_step(nb, sw2, sw2, 0.0, math.exp(-lp_next), 1.0 / rho, r, pi, dq, ddq, tdq)
        lp = lp_next
    return np.full(n, np.nan)


SERIES_BELOW = 1e-9  # the pairs' eps are iterated down to this, then the Koenigs series finishes the limit
GRID_NODES = 256  # beyond this many pairs the limit is taken on a log grid of eps and interpolated (~1e-11)
GAP_LAYERS = 5000  # iterations allowed for it (~0.1 ms each): NaN within ~0.004 of the critical line


def ordered_gap(fn, sw2, q_star, chi_1, eps1, max_layers=GAP_LAYERS):
    """G = gamma mu of the ordered phase's smallest NTK eigenvalue lambda_min ~ l chi_1^l G (fully connected,
    rows at q*, phi' continuous; docs/theory.md "Large depth"), or NaN.

    With eps' = f(eps) = sw2 D(eps) / q* = chi_1 eps - beta eps^2 + ..., beta = sw2 g / 2, g = dTdot/dc at c = 1
    (E(eps) = Tdot(1) - Tdot(1 - eps) ~ g eps): every pair's eps^l -> chi_1^l E_ab with E = h(eps^1) / chi_1,
    h(x) = lim f^n(x) / chi_1^n (Koenigs; NaN when that takes more than ``max_layers`` iterations), and
    the NTK deviation p* - Theta_ab -> l chi_1^l gamma E_ab with
    gamma = q* + sw2 p* g / chi_1, p* = q* / (1 - chi_1).  Theta = p* 11^T - (that), so lambda_min ->
    l chi_1^l gamma mu, mu the smallest eigenvalue of -E on the complement of 1.  ``eps1``: the first layer's
    1 - K_ab / q* (m x m)."""
    eps1 = np.asarray(eps1, dtype=float)
    m = eps1.shape[0]
    if m < 2 or not (0.0 < chi_1 < 1.0 and math.isfinite(q_star) and q_star > 0.0):
        return math.nan
    step = 1e-7
    e1, e2 = fn.values(np.array([step, 2.0 * step]))[:, 3] / np.array([step, 2.0 * step])
    g = 2.0 * e1 - e2  # E(eps) / eps at eps -> 0 (Richardson)
    if not math.isfinite(g):
        return math.nan
    beta = 0.5 * sw2 * g
    p_star = q_star / (1.0 - chi_1)
    gamma = q_star + sw2 * p_star * g / chi_1
    iu = np.triu_indices(m, 1)
    x = eps1[iu]
    positive = x[x > 0.0]
    if positive.size == 0:
        return 0.0
    # eps^n ~ chi_1^n eps^1: beyond the budget (near the critical line, where the asymptote also sets in only
    # at depths >> 1 / (1 - chi_1)) give NaN at once instead of iterating
    if math.log(SERIES_BELOW / positive.max()) / math.log(chi_1) > max_layers:
        return math.nan
    grid = positive.size > GRID_NODES
    nodes = np.geomspace(positive.min(), positive.max(), GRID_NODES) if grid else positive
    y = nodes.copy()
    log_scale = 0.0  # log chi_1^-n
    for _ in range(2 * max_layers):  # D(eps) < q* Tdot(1) eps: never more than the estimate above; a guard
        if y.max() <= SERIES_BELOW:
            break
        y = sw2 * fn.values(y)[:, 2] / q_star
        log_scale -= math.log(chi_1)
    else:
        return math.nan
    h_nodes = y * (1.0 - beta * y / (chi_1 * (1.0 - chi_1))) * math.exp(log_scale)  # h(y) = y - beta y^2/(chi(1-chi))
    if grid:
        from scipy.interpolate import CubicSpline

        spline = CubicSpline(np.log(nodes), np.log(h_nodes / nodes))
        h = np.zeros_like(x)
        h[x > 0.0] = x[x > 0.0] * np.exp(spline(np.log(x[x > 0.0])))
    else:
        h = np.zeros_like(x)
        h[x > 0.0] = h_nodes
    E = np.zeros((m, m))
    E[iu] = h / chi_1
    E += E.T
    # an orthonormal basis of the complement of 1 (Householder: the columns 2..m of I - 2 v v^T / v.v)
    v = np.ones(m) / math.sqrt(m)
    v[0] += 1.0
    Q = (np.eye(m) - np.outer(v, v) / v[0])[:, 1:]
    mu = float(np.linalg.eigvalsh(-(Q.T @ E @ Q))[0])
    return gamma * mu
