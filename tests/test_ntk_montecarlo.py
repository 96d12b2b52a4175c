"""Finite-width Monte Carlo check of phasecli.ntk against real random networks.

The networks come from ``tests/empirical_ntk.py`` (numpy, NTK parameterization, exact
parameter gradients; it does not import phasecli).  For each configuration below,
``SEEDS`` independent networks of width ``WIDTH`` give, at every depth L = 1..LMAX,

- the empirical NNGP: the second moment (1/N) sum_i z^{L+1}_i(x) z^{L+1}_i(x') of a
  width-N readout layer, whose mean tends to K^{L+1};
- the empirical NTK of the scalar readout z^{L+1}_0, sum over all parameters of
  df(x)/dp df(x')/dp, whose mean tends to Theta^{L+1}.

Acceptance, entry by entry (train x train and test x train blocks, both kernels):

    |mean_s - phasecli| <= Z * SE + BIAS * (L + 1) / N * max_a ref_aa

SE is the standard error of the mean over the seeds (sample standard deviation /
sqrt(S)).  Z = 4.5: there are 3 configs x 5 depths x 2 kernels x (10 + 8) entries = 540
comparisons, and P(|t_31| > 4.5) ~ 9e-5, so ~0.05 expected false rejections.  The
finite-width bias of the means is O(L / N) relative; measured with 3000 seeds at
N = 64 for these configurations it is <= 0.5 (L + 1) / N (most of that is noise), so
BIAS = 1 is a generous allowance (0.6 % at L = 5, N = 1024).  The same criterion
rejects phasecli's kernels of the neighbouring depths L - 1 and L + 1 (tested), so it
would catch an off-by-one in the depth convention; a kernel with Tdot scaled by 1.02
fails it too (checked by hand while writing this test).

The second group checks the finite-width "randomness ratio" of THEORY.md (003_...):
r = E[Theta(x, x)^2] / E[Theta(x, x)]^2 is ~1 at width 1024, decreases with width,
grows with depth, grows faster in the chaotic phase, and for relu depends on depth
and width through L / N.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import empirical_ntk as E
from phasecli import meanfield as mf
from phasecli import ntk

WIDTH = 1024
LMAX = 5
DEPTHS = list(range(1, LMAX + 1))
SEEDS = range(32)
Z = 4.5
BIAS = 1.0
D_IN = 32
M_TRAIN = 4

# one configuration per phase: (activation, sw2, sb2)
CONFIGS = {
    "erf": ("erf", 2.0, 0.1),  # chaotic: chi_1 = 1.118, q* = 1.046
    "tanh": ("tanh", 1.76, 0.05),  # edge of chaos: chi_1 = 0.9998, q* = 0.569
    "relu": ("relu", 1.8, 0.1),  # ordered: chi_1 = 0.9, q* = 1
}


def unit_inputs(d=D_IN, seed=0):
    """6 unit-norm rows with varied overlaps: train x0, -x0, 0.6 x0 + 0.8 g, x3; test ~x3, g'."""
    g = np.random.default_rng(seed).standard_normal((6, d))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    x = g.copy()
    x[1] = -g[0]  # c^1 = -1 on the pair (0, 1): negative off-diagonals for odd phi
    x[2] = 0.6 * g[0] + 0.8 * g[2]
    x[4] = 0.9 * g[3] + 0.44 * g[4]  # test point close to a train point
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def q_star(activation, sw2, sb2):
    q = float(mf.solve_phase(activation, [sw2], [sb2]).q_star[0, 0])
    assert math.isfinite(q) and q > sb2
    return q


def normalized(activation, sw2, sb2, x_unit):
    """Rows rescaled so that q^1 = sw2 |x|^2 / d + sb2 = q* (THEORY.md's default)."""
    d = x_unit.shape[1]
    return x_unit * math.sqrt(d * (q_star(activation, sw2, sb2) - sb2) / sw2)


def phasecli_kernels(activation, sw2, sb2, X, depths, normalize=False):
    """{depth: (K, Theta)} on the stacked [train; test] rows (test x test block NaN)."""
    Xtr, Xte = X[:M_TRAIN], X[M_TRAIN:]
    m = X.shape[0]
    out = {}
    for depth, K, T, Kx, Tx in ntk.kernel_pass(activation, Xtr, sw2, sb2, depths, X_test=Xte,
                                               normalize=normalize):
        full = []
        for train, cross in ((K, Kx), (T, Tx)):
            A = np.full((m, m), np.nan)
            A[:M_TRAIN, :M_TRAIN] = train
            A[M_TRAIN:, :M_TRAIN] = cross
            A[:M_TRAIN, M_TRAIN:] = np.asarray(cross).T
            full.append(A)
        out[int(depth)] = tuple(full)
    return out


def deviation(samples, ref, depth):
    """(excess, |mean - ref|, allowed) over the entries where ref is defined; excess > 0 fails."""
    S = samples.shape[0]
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / math.sqrt(S)
    scale = np.nanmax(np.abs(np.diag(ref)))  # the diagonal is the same for all rows (q^1 = q*)
    allowed = Z * se + BIAS * (depth + 1) / WIDTH * scale
    err = np.abs(mean - ref)
    mask = np.isfinite(ref)
    return np.where(mask, err - allowed, -np.inf), err, allowed


@pytest.fixture(scope="module")
def mc():
    x_unit = unit_inputs()
    configs = {name: (act, normalized(act, sw2, sb2, x_unit), sw2, sb2)
               for name, (act, sw2, sb2) in CONFIGS.items()}
    samples = E.monte_carlo(configs, WIDTH, DEPTHS, SEEDS)
    ref = {name: phasecli_kernels(act, sw2, sb2, X, list(range(1, LMAX + 2)))
           for name, (act, X, sw2, sb2) in configs.items()}
    return configs, samples, ref


# --------------------------------------------------------------------------- the network itself
@pytest.mark.parametrize("activation", ["tanh", "erf", "relu", "softplus"])
def test_closed_ntk_formula_matches_finite_differences(activation):
    rng = np.random.default_rng(7)
    net = E.MLP.sample(3, 5, 3, 1.7, 0.2, rng, readout_width=2, draw_dtype=np.float64)
    X = rng.standard_normal((4, 3))
    for depth in (1, 2, 3):
        J = E.finite_difference_jacobian(net, X, depth, activation)
        theta = net.ntk(X, depth, activation)
        np.testing.assert_allclose(J @ J.T, theta, rtol=1e-7, atol=1e-9 * np.abs(theta).max())
        grads = [net.param_gradients(x, depth, activation) for x in X]
        explicit = np.array([[E.ntk_from_gradients(a, b) for b in grads] for a in grads])
        np.testing.assert_allclose(explicit, theta, rtol=1e-12, atol=1e-14)


def test_multi_depth_pass_matches_single_depth():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 8))
    net = E.MLP.sample(8, 40, 4, 1.9, 0.1, rng)
    for activation in ("erf", "relu", "tanh"):
        many = net.kernels(X, [1, 2, 3, 4], activation)
        some = net.kernels(X, [2, 4], activation)
        for L, (K, T) in many.items():
            np.testing.assert_allclose(T, net.ntk(X, L, activation), rtol=1e-12)
            np.testing.assert_allclose(K, net.nngp(X, L, activation), rtol=1e-12)
        for L in (2, 4):
            np.testing.assert_allclose(some[L][1], many[L][1], rtol=1e-12)


# --------------------------------------------------------------------------- phasecli conventions
@pytest.mark.parametrize("name", list(CONFIGS))
def test_default_normalization_puts_q1_at_q_star(name):
    activation, sw2, sb2 = CONFIGS[name]
    x_unit = unit_inputs()
    raw = x_unit[:M_TRAIN] * np.array([[0.5], [2.0], [1.0], [3.0]])  # arbitrary row norms
    Xn = normalized(activation, sw2, sb2, x_unit)[:M_TRAIN]
    a = list(ntk.kernel_pass(activation, raw, sw2, sb2, [1, 3]))
    b = list(ntk.kernel_pass(activation, Xn, sw2, sb2, [1, 3], normalize=False))
    for (da, Ka, Ta, *_), (db, Kb, Tb, *_) in zip(a, b):
        assert da == db
        np.testing.assert_allclose(Ka, Kb, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(Ta, Tb, rtol=1e-10, atol=1e-12)
    # with q^1 = q* the NNGP diagonal stays at q* at every depth
    np.testing.assert_allclose(np.diag(a[1][1]), q_star(activation, sw2, sb2), rtol=1e-8)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_spectra_are_those_of_kernel_pass(name):
    activation, sw2, sb2 = CONFIGS[name]
    X = normalized(activation, sw2, sb2, unit_inputs())[:M_TRAIN]
    spec = ntk.ntk_spectra(activation, X, sw2, sb2, DEPTHS, normalize=False)
    for i, (depth, _, T, *_) in enumerate(ntk.kernel_pass(activation, X, sw2, sb2, DEPTHS, normalize=False)):
        ev = np.linalg.eigvalsh(T)
        assert int(spec.depth[i]) == depth
        np.testing.assert_allclose(spec.lambda_max[i], ev[-1], rtol=1e-9)
        np.testing.assert_allclose(spec.lambda_min[i], ev[0], rtol=1e-6, atol=1e-9 * ev[-1])


# --------------------------------------------------------------------------- Monte Carlo agreement
@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("kernel", ["nngp", "ntk"])
def test_finite_width_means_match_infinite_width(mc, name, kernel):
    _, samples, ref = mc
    i = 0 if kernel == "nngp" else 1
    failures = []
    for L in DEPTHS:
        excess, err, allowed = deviation(samples[name][L][i], ref[name][L][i], L)
        if np.any(excess > 0):
            a, b = np.unravel_index(np.argmax(excess), excess.shape)
            failures.append(f"L={L} entry ({a},{b}): MC mean {samples[name][L][i].mean(0)[a, b]:.6g} "
                            f"vs phasecli {ref[name][L][i][a, b]:.6g}, |diff| {err[a, b]:.3g} > "
                            f"allowed {allowed[a, b]:.3g}")
    assert not failures, f"{name} {kernel}:\n" + "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_criterion_rejects_neighbouring_depths(mc, name):
    """The tolerance is tight enough to tell Theta^{L+1} from Theta^L and Theta^{L+2}."""
    _, samples, ref = mc
    for L in DEPTHS:
        for wrong in (L - 1, L + 1):
            if wrong < 1:
                continue
            excess, _, _ = deviation(samples[name][L][1], ref[name][wrong][1], L)
            assert np.max(excess) > 0, f"{name}: depth-{L} NTK samples also accept depth {wrong}'s kernel"


# --------------------------------------------------------------------------- randomness ratio
def ratio_sweep(activation, sw2, sb2, widths, depths, seeds, x=None):
    """{N: {L: E[Theta(x,x)^2] / E[Theta(x,x)]^2}}; x defaults to a row with |x|^2 = d."""
    x = unit_inputs()[0] * math.sqrt(D_IN) if x is None else x
    out = {}
    for N in widths:
        diag = E.diagonal_ntk_samples(activation, x, sw2, sb2, N, depths, seeds)
        out[N] = {L: E.randomness_ratio(v) for L, v in diag.items()}
    return out


@pytest.mark.slow
def test_randomness_ratio_near_one_at_width_1024(mc):
    _, samples, ref = mc
    for name in CONFIGS:
        for L in DEPTHS:
            diag = samples[name][L][1][:, 0, 0]
            r = E.randomness_ratio(diag)
            assert 1.0 <= r < 1.03, f"{name} L={L}: E[Theta^2]/E[Theta]^2 = {r:.4f} at width {WIDTH}"


@pytest.mark.slow
def test_randomness_ratio_decreases_with_width(mc):
    """tanh at the edge of chaos, depth 4: r - 1 falls with N (16, 64, 256, then 1024 from mc)."""
    activation, sw2, sb2 = CONFIGS["tanh"]
    L = 4
    x = normalized(activation, sw2, sb2, unit_inputs())[0]  # the fixture's input 0 (q^1 = q*)
    sweep = ratio_sweep(activation, sw2, sb2, [16, 64, 256], [L], range(400), x=x)
    r = [sweep[N][L] for N in (16, 64, 256)]
    r.append(E.randomness_ratio(mc[1]["tanh"][L][1][:, 0, 0]))  # width 1024, 32 seeds
    excess = [v - 1 for v in r]
    assert all(a > b for a, b in zip(excess, excess[1:])), f"r - 1 over N = 16, 64, 256, 1024: {excess}"
    assert excess[0] > 8 * excess[2], f"r - 1 should scale roughly like 1/N: {excess}"


@pytest.mark.slow
def test_randomness_ratio_grows_with_depth():
    depths = [1, 2, 4, 8, 16]
    for activation, sw2, sb2 in [("tanh", 4.0, 0.05), ("relu", 2.0, 0.0)]:
        r = ratio_sweep(activation, sw2, sb2, [128], depths, range(300))[128]
        excess = [r[L] - 1 for L in depths]
        assert all(b > a for a, b in zip(excess, excess[1:])), f"{activation}: r - 1 over depths {depths}: {excess}"


@pytest.mark.slow
def test_randomness_ratio_chaotic_exceeds_ordered_and_relu_scales_with_depth_over_width():
    seeds = range(300)
    chaotic = ratio_sweep("tanh", 4.0, 0.05, [128], [8], seeds)[128][8] - 1  # chi_1 = 1.34
    ordered = ratio_sweep("tanh", 1.0, 0.05, [128], [8], seeds)[128][8] - 1  # chi_1 < 1
    assert chaotic > 4 * ordered, (chaotic, ordered)
    # relu at sw2 = 2, sb2 = 0 (Hanin & Nica): a function of L / N
    a = ratio_sweep("relu", 2.0, 0.0, [32], [2], seeds)[32][2] - 1
    b = ratio_sweep("relu", 2.0, 0.0, [128], [8], seeds)[128][8] - 1
    assert 1 / 1.5 < a / b < 1.5, (a, b)
