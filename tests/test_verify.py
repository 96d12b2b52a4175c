"""``phasecli verify``'s numeric core against independent oracles.

- theory columns (q^L, c^L, Theta^{L+1}) against a recursion written here on top of the
  quadrature oracle ``naive.py`` (closed forms for relu and erf): relative error <= 1e-8;
- the exact two-input sampler against full-weight networks of ``phasecli.finite.network``:
  same distribution (means and variances of q, c, Theta within 4 combined standard errors);
- q_mean, ntk_mean and ratio against the independent full-weight Monte Carlo
  ``naive_finite.py`` within 4 combined standard errors (tanh ordered / critical / chaotic,
  relu at (2, 0), widths 32 and 512, depths 1..20), and convergence to the theory with width;
- the delta-method ratio_se against the spread of the ratio over replicates, and invariants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive as nv
import naive_finite as NF
from phasecli.errors import InputError
from phasecli.finite import network as N
from phasecli.finite import twoinput as T
from phasecli.finite import verify as VF

TANH_POINTS = {"ordered": 1.0, "critical": 1.76, "chaotic": 4.0}


def oracle_theory(act, sw2, sb2, depth_max, q0, c0):
    """(q^L, c^L, Theta^{L+1}(x1, x1)) for L = 1..depth_max, from naive.py's quadrature / closed forms."""
    q, k12, theta = q0, q0 * c0, q0
    out = []
    for _ in range(depth_max):
        c = k12 / q
        if act == "relu":
            t, _ = nv.relu_pair_closed(q, c)
            phi2, dphi2 = q / 2.0, 0.5
        elif act == "erf":
            t, _ = nv.erf_pair_closed(q, c)
            phi2, dphi2 = nv.erf_pair_closed(q, 1.0)
        else:
            t, _ = nv.pair(act, q, c)
            phi2, dphi2 = nv.length_map(act, q), nv.dphi2(act, q)
        q_next = sw2 * phi2 + sb2
        theta_next = q_next + sw2 * dphi2 * theta
        out.append((q, c, theta_next))
        q, k12, theta = q_next, sw2 * t + sb2, theta_next
    return np.array(out).T


@pytest.mark.parametrize("act, sw2, sb2, depth, q0, c0", [
    ("tanh", 1.0, 0.05, 4, 1.0, 0.5),
    ("tanh", 1.76, 0.05, 4, 1.0, 0.5),
    ("tanh", 4.0, 0.05, 4, 0.7, -0.3),
    ("relu", 2.0, 0.0, 30, 1.0, 0.5),
    ("relu", 3.0, 0.2, 30, 2.0, 0.9),
    ("erf", 2.5, 0.1, 30, 1.5, 0.2),
    ("erf", 0.5, 0.3, 30, 1.0, 0.5),
])
def test_theory_columns_match_quadrature(act, sw2, sb2, depth, q0, c0):
    depths = np.arange(1, depth + 1)
    got = np.array(VF.theory(act, sw2, sb2, depths, q0=q0, c0=c0))
    ref = oracle_theory(act, sw2, sb2, depth, q0, c0)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


def _stats(x):
    x = x[np.isfinite(x)]
    n = x.size
    var = x.var(ddof=1)
    return x.mean(), math.sqrt(var / n), var, math.sqrt(max(np.mean((x - x.mean()) ** 4) - var * var, 0.0) / n)


@pytest.mark.parametrize("act, sw2, sb2", [("tanh", 4.0, 0.05), ("relu", 2.0, 0.0), ("gelu", 1.5, 0.2)])
def test_sampler_has_the_distribution_of_full_weight_networks(act, sw2, sb2):
    """Means and variances of q, c, Theta: the O(M) sampler against network.py's full weights."""
    width, depths, q0, c0 = 12, [1, 3, 8], 1.0, 0.3
    fast = T.sample(act, sw2, sb2, width=width, depths=depths, samples=20000, seed=1, q0=q0, c0=c0)
    X = T.two_inputs(sw2, sb2, q0=q0, c0=c0, dim=5)
    for k, L in enumerate(depths):
        nets = N.draw(act, sw2, sb2, depth=L, width=width, dim=5, samples=6000, seed=2)
        with np.errstate(invalid="ignore"):
            h = N.forward(nets, X).pre[L - 1]
            n1, n2 = np.sum(h[:, 0] ** 2, axis=1), np.sum(h[:, 1] ** 2, axis=1)
            full = {"q": n1 / width, "c": np.sum(h[:, 0] * h[:, 1], axis=1) / np.sqrt(n1 * n2),
                    "ntk": N.ntk_diagonal(nets, X)[:, 0, 0]}
        for name, ref in full.items():
            m1, se1, v1, vse1 = _stats(getattr(fast, name)[:, k])
            m2, se2, v2, vse2 = _stats(ref)
            assert abs(m1 - m2) <= 4 * math.hypot(se1, se2), (name, L, m1, m2)
            assert abs(v1 - v2) <= 4 * math.hypot(vse1, vse2), (name, L, v1, v2)


def test_sampler_rows_do_not_depend_on_other_depths_chunks_or_threads():
    import numba

    a = T.sample("tanh", 2.0, 0.1, width=40, depths=[3, 9], samples=30, seed=7)
    b = T.sample("tanh", 2.0, 0.1, width=40, depths=[1, 3, 5], samples=20, seed=7, first=10)
    np.testing.assert_array_equal(a.ntk[10:, 0], b.ntk[:, 1])
    np.testing.assert_array_equal(a.q[10:, 0], b.q[:, 1])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        c = T.sample("tanh", 2.0, 0.1, width=40, depths=[3, 9], samples=30, seed=7)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(a.ntk, c.ntk)
    d = T.sample("tanh", 2.0, 0.1, width=40, depths=[3, 9], samples=30, seed=8)
    assert not np.any(a.ntk == d.ntk)


CONFIGS = [("tanh", TANH_POINTS["ordered"], 0.05), ("tanh", TANH_POINTS["critical"], 0.05),
           ("tanh", TANH_POINTS["chaotic"], 0.05), ("relu", 2.0, 0.0)]
DEPTHS = [1, 2, 5, 10, 20]


@pytest.mark.parametrize("width, oracle_samples, samples", [(32, 1500, 3000), (128, 160, 1000), (512, 24, 500)])
def test_statistics_match_independent_monte_carlo(width, oracle_samples, samples):
    """q_mean, ntk_mean and ratio within 4 combined standard errors of naive_finite.py's networks."""
    oracle = NF.sample_many(CONFIGS, width, DEPTHS, oracle_samples, seed=3, chunk=max(2, min(128, 2**19 // width**2)))
    for cfg in CONFIGS:
        act, sw2, sb2 = cfg
        res = next(VF.run(act, [sw2], [sb2], [width], DEPTHS, samples=samples, seed=4))
        ref = oracle[cfg]
        for k, L in enumerate(DEPTHS):
            for name in ("q", "ntk"):
                m, se = ref[name][:, k].mean(), ref[name][:, k].std(ddof=1) / math.sqrt(oracle_samples)
                got, got_se = getattr(res, f"{name}_mean")[k], getattr(res, f"{name}_se")[k]
                assert abs(got - m) <= 4 * math.hypot(se, got_se), (cfg, width, L, name, got, m)
            r, r_se, share = VF.ratio_statistics(ref["ntk"][:, k:k + 1])
            if max(share[0], res.max_share[k]) <= 0.05:  # beyond, the delta-method standard error is not reliable
                assert abs(res.ratio[k] - r[0]) <= 4 * math.hypot(r_se[0], res.ratio_se[k]), (cfg, width, L, r)


def test_means_converge_to_theory_and_ratio_to_one_with_width():
    results = [next(VF.run("tanh", [TANH_POINTS["critical"]], [0.05], [width], [10], samples=samples, seed=5))
               for width, samples in ((16, 8000), (64, 2000), (256, 2000), (1024, 2000))]
    excess = np.array([r.ratio[0] - 1 for r in results])
    widths = np.array([r.width for r in results])
    assert np.all(np.diff(excess) < 0)
    scaled = (excess * widths)[1:]  # ratio - 1 = O(depth / width) once width >> depth
    assert scaled.max() / scaled.min() < 1.5, scaled
    bias = np.array([abs(r.q_mean[0] / r.q_theory[0] - 1) for r in results])
    assert bias[0] > 4 * results[0].q_se[0] / results[0].q_theory[0]  # width 16: visibly off the theory
    wide = results[-1]
    for name in ("q", "c", "ntk"):
        mean, se, th = (getattr(wide, f"{name}_{s}")[0] for s in ("mean", "se", "theory"))
        assert abs(mean - th) <= 4 * se + 0.003 * abs(th), (name, mean, th, se)
    assert wide.trust[0] is True


def test_ratio_standard_error_covers_the_spread_of_replicates():
    """Exponential Theta: ratio = E[X^2] / E[X]^2 = 2; the delta-method se matches the replicates' spread."""
    rng = np.random.default_rng(0)
    samples = rng.exponential(size=(2000, 300))
    ratio, se, share = VF.ratio_statistics(samples)
    assert abs(ratio.std() / se.mean() - 1) < 0.15
    assert 0.9 < np.mean(np.abs(ratio - 2) <= 2 * se) <= 1.0
    assert abs(ratio.mean() - 2) < 4 * ratio.std() / math.sqrt(ratio.size)
    assert np.all((share >= 1 / 2000) & (share <= 1))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=40), st.floats(1e-6, 1e6))
def test_ratio_is_at_least_one_and_scale_free(values, scale):
    x = np.array(values)[:, None]
    r, se, share = VF.ratio_statistics(x)
    r2, se2, share2 = VF.ratio_statistics(scale * x)
    assert r[0] >= 1 - 1e-12
    np.testing.assert_allclose([r2[0], share2[0]], [r[0], share[0]], rtol=1e-9, atol=1e-15)
    # se comes from a difference of moments: scaling moves it by rounding of that difference (5e-14 seen)
    np.testing.assert_allclose(se2[0], se[0], rtol=1e-9, atol=1e-12 * r[0])
    assert 1 / len(values) - 1e-12 <= share[0] <= 1


def test_trust_verdicts():
    tol = 0.1
    ntk_mean, ratio = np.array([1.0, 1.2, 1.0, 1.0, np.inf]), np.array([1.01, 1.0, 1.09, 1.5, 1])
    ratio_se, share = np.array([0.001, 0.0, 0.01, 0.1, 0]), np.array([0.001, 0.001, 0.001, 0.2, 0.0])
    trust, reason = VF._verdicts(ntk_mean, np.ones(5), ratio, ratio_se, share, tol)
    assert list(trust) == [True, False, False, None, None]
    assert reason[0] == "" and "ntk_mean +20% off theory" in reason[1] and "ratio" in reason[2]
    assert "heavy tail" in reason[3] and "overflow" in reason[4]


def test_two_inputs_have_the_asked_kernel_and_impossible_ones_are_refused():
    X = T.two_inputs(2.0, 0.3, q0=1.4, c0=-0.2, dim=6)
    K = 2.0 * X @ X.T / 6 + 0.3
    np.testing.assert_allclose(K, 1.4 * np.array([[1, -0.2], [-0.2, 1]]), rtol=1e-14)
    for q0, c0, sb2 in ((1.0, 0.5, 2.0), (0.5, 1.0, 0.6)):
        with pytest.raises(InputError, match="exist only when q0 >= sb2") as info:
            T.two_inputs(1.0, sb2, q0=q0, c0=c0)
        assert info.value.param == "q0"
    # q0 possible, c0 not: c^1 lies in [2 sb2 / q0 - 1, 1] = [0, 1] here, and c0 is blamed
    with pytest.raises(InputError, match=r"\[0, 1\]") as info:
        T.two_inputs(1.0, 0.5, q0=1.0, c0=-0.9)
    assert info.value.param == "c0"
    assert np.all(T.two_inputs(1.0, 0.5, q0=0.5, c0=1.0) == 0)  # q0 = sb2: zero inputs, c0 must be 1


def test_chunked_tasks_give_identical_rows(monkeypatch):
    kw = dict(samples=300, seed=9)
    whole = list(VF.run("erf", [1.2, 3.0], [0.1], [16, 48], [2, 6], **kw))
    monkeypatch.setattr(VF, "TASK_WORK", 5000)  # many small tasks
    tasks, _, _ = VF.plan("erf", [1.2, 3.0], [0.1], [16, 48], [2, 6], **kw)
    assert len(tasks) > 20
    parts = list(VF.run("erf", [1.2, 3.0], [0.1], [16, 48], [2, 6], **kw))
    for a, b in zip(whole, parts):
        for name in ("q_mean", "c_se", "ntk_mean", "ratio", "ratio_se", "max_share"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
