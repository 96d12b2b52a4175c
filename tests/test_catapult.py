"""`catapult`: the two-scalar map against an independent mpmath iteration, and the issue's claims (issue 10)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasecli import catapult_dynamics as dynamics
import naive_catapult as naive

# (lambda0, f0, n): the default, a small wide-lambda net, a large n, a negative f0 with large lambda0
CASES = [(1.0, 1.0, 1000), (2.5, 0.3, 50), (0.1, 2.0, 100_000), (10.0, -1.5, 7)]
LR_GRID = [0.3, 0.9, 0.999, 1.0, 1.2, 1.5, 1.8, 1.95, 1.999, 2.0 + 1e-3, 2.5]


def _points():
    pts = []
    for lambda0, f0, n in CASES:
        star = dynamics.lazy_catapult_boundary(lambda0=lambda0, f0=f0, width=n)
        lrs = list(LR_GRID) + [star * (1 - 1e-7), star * (1 + 1e-7)]
        for lr in lrs:
            for tol in (1e-12, 1e-5):
                pts.append((lr, lambda0, f0, n, 3000, tol))
    # T right at the convergence step (converged) and one below it (unconverged), and tol right at a step's loss
    for lr in (0.9, 1.5):
        ref = naive.run(lr, 1.0, 1.0, 1000, 3000, 1e-12)
        pts += [(lr, 1.0, 1.0, 1000, ref["steps"], 1e-12), (lr, 1.0, 1.0, 1000, ref["steps"] - 1, 1e-12)]
        losses = naive.trajectory_losses(lr, 1.0, 1.0, 1000, 40)
        k = 30
        pts += [(lr, 1.0, 1.0, 1000, 3000, float(losses[k] * (1 + 1e-7))),
                (lr, 1.0, 1.0, 1000, 3000, float(losses[k] * (1 - 1e-7)))]
    pts += [(1.0, 1.0, 1e-7, 1000, 10, 1e-12), (1.5, 1.0, 0.0, 1000, 10, 1e-12), (2.0, 1.0, 1.0, 1000, 0, 1e-12)]
    return pts


def _rel(a, b):
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if mpmath.isinf(a) or mpmath.isinf(b):
        return 0.0 if a == b else math.inf
    return float(abs(a - b) / max(abs(a), abs(b), mpmath.mpf("1e-300")))


def test_map_matches_mpmath_iteration_exactly_on_regime_steps_peak_step():
    points = _points()
    checked, skipped, worst = 0, [], 0.0
    regimes = set()
    for lr, lambda0, f0, n, T, tol in points:
        ref, ok = naive.conditioned(lr, lambda0, f0, n, T, tol)
        if not ok:
            skipped.append((lr, lambda0, f0, n))
            continue
        got = dynamics.catapult([lr], lambda0=lambda0, f0=f0, width=n, n_steps=T, tol=tol)
        where = f"lr={lr!r} lambda0={lambda0} f0={f0} n={n} T={T} tol={tol!r}"
        assert got.regime[0] == ref["regime"], where
        assert got.steps[0] == ref["steps"], where
        assert got.peak_step[0] == ref["peak_step"], where
        err = _rel(got.peak_loss[0], ref["peak_loss"])
        if ref["regime"] != "divergent":
            err = max(err, _rel(got.final_lambda[0], ref["final_lambda"]), _rel(got.final_loss[0], ref["final_loss"]))
        assert err < 1e-9, where
        worst = max(worst, err)
        checked += 1
        regimes.add(ref["regime"])
    assert regimes == {"lazy", "catapult", "unconverged", "divergent"}
    # only runs with a chaotic transient (u = eta lambda near 4, lr_factor near 2) may be ill-conditioned
    assert len(skipped) <= 0.15 * len(points), skipped
    assert all(1.9 <= p[0] < 2.0 for p in skipped), skipped
    print(f"\n{checked} runs checked against mpmath, worst relative error {worst:.2e}, {len(skipped)} chaotic skipped")


@pytest.mark.parametrize("lambda0,f0,n", [(1.0, 1.0, 100), (1.0, 1.0, 1000), (1.0, 1.0, 10_000),
                                          (1.0, 1.0, 100_000), (0.5, 0.2, 300), (3.0, -2.0, 64)])
def test_lazy_catapult_boundary_is_one_plus_order_f0_squared_over_n(lambda0, f0, n):
    star = dynamics.lazy_catapult_boundary(lambda0=lambda0, f0=f0, width=n)
    a = 2 * f0 * f0 / (n * lambda0 * lambda0)
    assert star > 1.0 and abs((star - 1.0) / a - 1.0) < 3 * a  # 1 + a + 2a^2 + ...
    runs = dynamics.catapult([star * (1 - 1e-6), star * (1 + 1e-6)], lambda0=lambda0, f0=f0, width=n)
    assert list(runs.regime) == ["lazy", "catapult"]
    # and the oracle agrees on both sides
    assert naive.run(star * (1 - 1e-6), lambda0, f0, n, 10000, 1e-12)["regime"] == "lazy"
    assert naive.run(star * (1 + 1e-6), lambda0, f0, n, 10000, 1e-12)["regime"] == "catapult"
    # lr_factor 1 (eta = 2 / lambda0) is still lazy: the boundary is above it, not at it
    assert dynamics.catapult([1.0], lambda0=lambda0, f0=f0, width=n).regime[0] == "lazy"


def test_unconverged_pockets_inside_the_catapult_band():
    lr = np.linspace(1.3, 1.9, 1201)
    runs = dynamics.catapult(lr)
    unconverged = np.flatnonzero(runs.regime == "unconverged")
    assert unconverged.size > 0
    i = int(unconverged[0])
    assert runs.regime[i - 1] == "catapult"
    # in a pocket the catapult has pushed eta * lambda nearly to 0: convergence is too slow for T steps
    assert 0 < runs.eta_lambda_final[i] < 1e-3
    ref = naive.run(float(lr[i]), 1.0, 1.0, 1000, 10000, 1e-12)
    assert ref["regime"] == "unconverged"
    assert naive.run(float(lr[i - 1]), 1.0, 1.0, 1000, 10000, 1e-12)["regime"] == "catapult"
    # the band itself: everything between the boundary and 2 either catapults or sits in a pocket
    assert set(runs.regime) == {"catapult", "unconverged"}
    assert np.mean(runs.regime == "catapult") > 0.9


@pytest.mark.parametrize("lambda0,n", [(1.0, 1000), (3.0, 1000), (0.1, 5000), (1.7, 20_000)])
def test_lr_factor_two_is_bounded_chaos(lambda0, n):
    bound = n * lambda0 ** 2 / 8  # x_t <= 4 <=> loss_t <= n lambda0^2 / 8
    runs = dynamics.catapult([2.0], lambda0=lambda0, f0=1.0, width=n, n_steps=20000)
    assert runs.regime[0] == "unconverged" and runs.steps[0] == 20000
    assert runs.eta_lambda_final[0] == pytest.approx(4.0, rel=1e-15)
    assert 0.99 * bound < runs.peak_loss[0] <= bound * (1 + 1e-12)
    loss, lam = dynamics.catapult_trajectory(2.0, lambda0=lambda0, f0=1.0, width=n, n_steps=20000)
    assert np.all(np.isfinite(loss)) and loss.max() <= bound * (1 + 1e-12)
    assert np.allclose(lam, lambda0, rtol=1e-15)
    # an initial output beyond the invariant interval (x_0 > 4) escapes even at lr_factor 2
    big = math.sqrt(n) * lambda0  # x_0 = 16 f0^2 / (n lambda0^2) = 16
    assert dynamics.catapult([2.0], lambda0=lambda0, f0=big, width=n).regime[0] == "divergent"


def test_divergent_above_two_and_catapult_peak_grows_with_lr():
    runs = dynamics.catapult([1.2, 1.5, 1.8, 2.01, 2.5, 4.0])
    assert list(runs.regime) == ["catapult"] * 3 + ["divergent"] * 3
    assert np.all(np.diff(runs.peak_loss[:3]) > 0)
    assert np.all(runs.eta_lambda_final[:3] < 2.0)  # the kernel dropped until eta lambda < 2
    assert np.all(np.isinf(runs.final_loss[3:])) and np.all(runs.peak_step[3:] == runs.steps[3:])


def test_parallel_and_serial_kernels_agree():
    lr = np.linspace(0.9, 2.1, 2001)  # 2001 x 10001 map steps: the prange kernel
    assert lr.size * 10001 >= dynamics.PARALLEL_MIN_STEPS
    whole = dynamics.catapult(lr)
    parts = [dynamics.catapult(lr[i:i + 100]) for i in range(0, lr.size, 100)]  # the serial kernel
    for name in ("regime", "steps", "peak_step", "final_loss", "final_lambda", "peak_loss"):
        assert np.array_equal(getattr(whole, name), np.concatenate([getattr(p, name) for p in parts])), name


def test_trajectory_agrees_with_summary():
    for lr in (0.7, 1.5, 2.2):
        runs = dynamics.catapult([lr])
        loss, lam = dynamics.catapult_trajectory(lr)
        assert loss.size == runs.steps[0] + 1
        assert loss[-1] == runs.final_loss[0] and (lam[-1] == runs.final_lambda[0] or runs.regime[0] == "divergent")
        assert int(np.argmax(loss)) == runs.peak_step[0]
        finite = loss[:-1] if runs.regime[0] == "divergent" else loss
        ref = naive.trajectory_losses(lr, 1.0, 1.0, 1000, min(finite.size - 1, 12))
        assert max(_rel(a, b) for a, b in zip(finite, ref)) < 1e-12


@settings(max_examples=60, deadline=None, database=None)
@given(lr=st.floats(0.05, 2.4), f0=st.floats(-3, 3).filter(lambda v: v == 0 or abs(v) > 1e-100),  # no subnormal loss
       n=st.integers(1, 10 ** 6), lambda0=st.floats(0.01, 100),
       k=st.integers(0, 6), tol=st.sampled_from([1e-12, 1e-8, 1e-3]), T=st.integers(0, 400))
def test_invariances_and_definitions(lr, f0, n, lambda0, k, tol, T):
    runs = dynamics.catapult([lr], lambda0=lambda0, f0=f0, width=n, n_steps=T, tol=tol)
    # f0 -> s f0, n -> s^2 n, tol -> s^2 tol with s = 2^k: the same run, losses times s^2 (bit for bit)
    s = 2.0 ** k
    scaled = dynamics.catapult([lr], lambda0=lambda0, f0=f0 * s, width=n * 4 ** k, n_steps=T, tol=tol * s * s)
    assert scaled.regime[0] == runs.regime[0] and scaled.steps[0] == runs.steps[0]
    assert scaled.peak_step[0] == runs.peak_step[0]
    assert scaled.peak_loss[0] == runs.peak_loss[0] * s * s
    flipped = dynamics.catapult([lr], lambda0=lambda0, f0=-f0, width=n, n_steps=T, tol=tol)
    assert flipped.regime[0] == runs.regime[0] and flipped.steps[0] == runs.steps[0]
    regime, steps, peak_step = runs.regime[0], runs.steps[0], runs.peak_step[0]
    assert 0 <= peak_step <= steps <= T
    if regime in ("lazy", "catapult"):
        assert runs.final_loss[0] < tol and runs.peak_loss[0] >= runs.loss0 * (1 - 1e-15)
        assert (peak_step > 0) == (regime == "catapult")
    elif regime == "unconverged":
        assert steps == T and not runs.final_loss[0] < tol
    else:
        assert np.isinf(runs.final_loss[0]) and peak_step == steps


@pytest.mark.parametrize("kwargs,param", [(dict(lr_factor=[0.0]), "lr_factor"), (dict(lr_factor=[np.nan]), "lr_factor"),
                                          (dict(lr_factor=[1.0], lambda0=0.0), "lambda0"),
                                          (dict(lr_factor=[1.0], width=0), "width"),
                                          (dict(lr_factor=[1.0], width=2.5), "width"),
                                          (dict(lr_factor=[1.0], n_steps=-1), "steps"),
                                          (dict(lr_factor=[1.0], tol=0.0), "tol"),
                                          (dict(lr_factor=[1.0], f0=math.inf), "f0")])
def test_bad_input_names_the_parameter(kwargs, param):
    with pytest.raises(dynamics.InputError) as info:
        dynamics.catapult(**kwargs)
    assert info.value.param == param
