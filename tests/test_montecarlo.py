"""Finite-width Monte Carlo: a random tanh network (NTK parameterization, THEORY.md)
reproduces the mean-field q*, c* and chi_1 computed by phasecli.meanfield.

    z^1     = sigma_w / sqrt(d) W^1 x + sigma_b b^1
    z^{l+1} = sigma_w / sqrt(N) W^{l+1} phi(z^l) + sigma_b b^{l+1},   W, b ~ N(0, 1)

Two inputs with q^1 = 1 (= q0) and a chosen c^1 are propagated through L layers of width
N, together with a tangent vector (the Jacobian applied to a perturbation of x1):
    delta^{l+1} = sigma_w / sqrt(N) W^{l+1} (phi'(z^l) * delta^l).
Empirical q^l = |z^l|^2 / N, c^l = <z^l(x1), z^l(x2)> / (|z^l(x1)| |z^l(x2)|),
and the per-layer ratio |delta^{l+1}|^2 / |delta^l|^2 (expectation chi_1).
Layer averages after a burn-in are compared with the engine within a few standard
errors (estimated from the spread over independent seeds) plus an O(1/N) allowance
for the finite-width bias.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasecli import meanfield as mf

N = 1000  # width (and input dimension)
L = 30  # layers
BURN = 15  # layers discarded before averaging
SEEDS = range(6)
SEED_BASE = 7
Z = 4.0  # standard errors allowed
BIAS = 3.0 / N  # relative allowance for the O(1/N) finite-width bias

# (sw2, sb2, c^1): one point in each phase; the c^1 are chosen away from c*
POINTS = {
    "ordered": (1.0, 0.3, 0.3),  # chi_1 = 0.557, q* = 0.606
    "chaotic": (6.0, 0.3, 0.4),  # chi_1 = 1.511, q* = 4.144, c* = 0.338, chi_c = 0.808
}


def inputs(sw2, sb2, c1, rng, d=N):
    """x1, x2 with q^1 = sw2 |x|^2 / d + sb2 = 1 and first-layer correlation c^1 = c1."""
    norm2 = d * (1.0 - sb2) / sw2  # |x|^2
    dot = d * (c1 - sb2) / sw2  # x1 . x2 (q^1_12 = c1 * q^1 = c1)
    u, v = rng.standard_normal((2, d))
    x1 = u / np.linalg.norm(u) * math.sqrt(norm2)
    v -= (v @ x1) / norm2 * x1
    v /= np.linalg.norm(v)
    a = dot / norm2
    x2 = a * x1 + math.sqrt(norm2 - a * a * norm2) * v
    return x1, x2


def run(sw2, sb2, c1, seed):
    """Per-layer arrays: q^l (both inputs), c^l, and |delta^l|^2 / |delta^{l-1}|^2.

    Weights are drawn and multiplied in float32 (speed); the statistics are float64."""
    rng = np.random.default_rng(seed)
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)
    x1, x2 = inputs(sw2, sb2, c1, rng)
    # columns: x1, x2 (then phi(z^l)), and the tangent (a perturbation of x1)
    h = np.stack([x1, x2, rng.standard_normal(N)], axis=1).astype(np.float32)
    q, c, ratio = [], [], []
    for layer in range(L):
        w = rng.standard_normal((N, N), dtype=np.float32)
        b = rng.standard_normal(N)
        out = (sw / math.sqrt(N)) * (w @ h).astype(np.float64)
        z = out[:, :2] + sb * b[:, None]
        dz = out[:, 2]  # delta^l, from a delta^{l-1} of norm 1
        n1, n2 = z[:, 0] @ z[:, 0], z[:, 1] @ z[:, 1]
        q.append((n1 / N, n2 / N))
        c.append(z[:, 0] @ z[:, 1] / math.sqrt(n1 * n2))
        nd = dz @ dz
        if layer > 0:
            ratio.append(nd)
        a = np.tanh(z)
        # phi'(z^l(x1)) * delta^l, renormalised to |delta^l| = 1 (the map is linear)
        g = (1.0 - a[:, 0] ** 2) * dz / math.sqrt(nd)
        h = np.column_stack([a, g]).astype(np.float32)
    return np.array(q), np.array(c), np.array(ratio)


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, (sw2, sb2, c1) in POINTS.items():
        out[name] = [run(sw2, sb2, c1, SEED_BASE + 1000 * k) for k in SEEDS]
    return out


def engine(name):
    sw2, sb2, _ = POINTS[name]
    g = mf.solve_phase("tanh", [sw2], [sb2], q0=1.0)
    return {n: getattr(g, n)[0, 0] for n in g.array_names()}


def mean_and_se(per_seed):
    per_seed = np.asarray(per_seed, dtype=float)
    return per_seed.mean(), per_seed.std(ddof=1) / math.sqrt(per_seed.size)


def mean_field_c(name, steps):
    """The mean-field c^l, layers 1..steps (c-map iterated from c^1 with q^l from q^1 = 1,
    engine primitives)."""
    sw2, sb2, c = POINTS[name]
    q = 1.0
    cs = []
    for _ in range(steps):
        cs.append(c)
        t, _ = mf.correlation_expectations("tanh", q, c)
        qn = sw2 * float(mf.length_map("tanh", q)) + sb2
        c = min((sw2 * float(t) + sb2) / qn, 1.0)  # rounding can step past c = 1
        q = qn
    return np.array(cs)


@pytest.mark.parametrize("name", list(POINTS))
def test_q_star(runs, name):
    e = engine(name)
    assert e["phase"] == name and e["fixed_point"] == "stable"
    qs = e["q_star"]
    per_seed = [r[0][BURN:].mean() for r in runs[name]]  # both inputs, layers BURN..L
    m, se = mean_and_se(per_seed)
    assert abs(m - qs) <= Z * se + BIAS * qs, f"{name}: empirical q {m:.5f} +- {se:.5f}, q* {qs:.5f}"


@pytest.mark.parametrize("name", list(POINTS))
def test_c_star(runs, name):
    e = engine(name)
    cs = e["c_star"]
    per_seed = [r[1][BURN:].mean() for r in runs[name]]
    m, se = mean_and_se(per_seed)
    if name == "ordered":
        assert cs == 1.0
        # c^l -> 1 geometrically (rate chi_1); at finite width the two inputs still collapse
        assert 1.0 - m < 1e-4, f"ordered: 1 - c = {1 - m:.3g}"
        return
    # reference: the mean-field c^l (c-map iterated from c^1, q^1 = 1) averaged over the
    # same layers; it is within 0.01 of c* (the transient left after the burn-in) and
    # converges to the engine's c*
    traj = mean_field_c(name, 200)
    ref = traj[BURN:L].mean()
    assert abs(ref - cs) < 0.01 and abs(traj[-1] - cs) < 1e-9
    assert abs(m - ref) <= Z * se + BIAS, (
        f"{name}: empirical c {m:.5f} +- {se:.5f}, mean field {ref:.5f} (c* {cs:.5f})"
    )


@pytest.mark.parametrize("name", list(POINTS))
def test_chi_1(runs, name):
    e = engine(name)
    chi = e["chi_1"]
    per_seed = [r[2][BURN - 1:].mean() for r in runs[name]]
    m, se = mean_and_se(per_seed)
    assert abs(m - chi) <= Z * se + BIAS * chi, f"{name}: empirical chi_1 {m:.5f} +- {se:.5f}, engine {chi:.5f}"
    # and it is on the right side of 1
    assert (m < 1.0) == (name == "ordered")
