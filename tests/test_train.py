"""`train` (issue 10): finite-network gradient descent at multiples of eta_max, against independent oracles.

Oracles: ``naive_ntk`` (the infinite-width NTK by quadrature / closed forms) for eta_max,
``naive_train`` (a plain-numpy trainer with its own backprop and NTK) for the training runs,
finite differences for the gradients.  Sizes are those of the issue (40 digits, width 512,
5 networks); the number of steps is kept small enough for the time budget and still covers
the catapult (its loss peak comes within ~10 steps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import naive_ntk
import naive_train as NT
from phasecli.ntk import predictor as generalize
from phasecli.finite import network
from phasecli.finite import train as core

WIDTH, SAMPLES, M = 512, 5, 40
# (activation, sw2, sb2, depth, steps, lr factors: lazy, catapult, divergent)
ARCHS = {
    "erf-1": ("erf", 1.5, 0.05, 1, 60, {"lazy": 0.5, "catapult": 1.5, "divergent": 2.5}),
    "relu-3": ("relu", 2.0, 0.0, 3, 20, {"lazy": 0.5, "catapult": 2.0, "divergent": 8.0}),
}


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """The oracle's small matrix products too: two BLAS threads on a busy 2-core machine are many times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    from importlib.resources import files

    X, y = generalize.load_labelled(str(files("phasecli") / "data" / "digits_train.csv"), -1)
    return X[:M], y[:M]


def _setup(digits, arch, **kw):
    act, sw2, sb2, depth, steps, _ = ARCHS[arch]
    X, y = digits
    return core.prepare(act, X, y, sw2=sw2, sb2=sb2, depth=depth, width=kw.get("width", WIDTH),
                        samples=kw.get("samples", SAMPLES), seed=kw.get("seed", 0), n_steps=kw.get("steps", steps))


@pytest.fixture(scope="module")
def runs(digits):
    """phasecli's runs and the independent trainer's runs of the SAME initial networks, per architecture."""
    out = {}
    for arch, (act, sw2, sb2, depth, steps, lrs) in ARCHS.items():
        setup = _setup(digits, arch)
        nets = core.draw_networks(setup)
        params = [[(nets.W[l][s], nets.b[l][s]) for l in range(depth + 1)] for s in range(SAMPLES)]
        ours = {regime: core.train_at(f, setup) for regime, f in lrs.items()}
        theirs = {regime: [NT.run(p, setup.X, setup.Y, act, sw2, sb2, f * setup.eta_max, steps) for p in params]
                  for regime, f in lrs.items()}
        out[arch] = (setup, ours, theirs)
    return out


@pytest.mark.parametrize("arch", list(ARCHS))
def test_eta_is_lr_factor_times_two_over_the_infinite_width_lambda_max(digits, arch):
    act, sw2, sb2, depth, _, _ = ARCHS[arch]
    setup = _setup(digits, arch, steps=0, width=8, samples=1)
    X = naive_ntk.normalize_rows(digits[0], sw2, sb2, naive_ntk.q_star(act, sw2, sb2))
    theta = naive_ntk.kernels(act, X, sw2, sb2, [depth])[depth][1]
    lam = np.linalg.eigvalsh(theta)[-1]
    assert abs(setup.eta_max - 2.0 / lam) <= 1e-8 * (2.0 / lam)
    run = core.train_at(1.7, setup)
    assert run.eta == pytest.approx(1.7 * 2.0 / lam, rel=1e-8)
    # the networks are trained on the rows the kernel was computed on (scaled so q^1 = q*)
    assert np.allclose(setup.X, X, rtol=1e-13, atol=0)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_same_networks_give_the_same_runs_as_the_independent_trainer(runs, arch):
    setup, ours, theirs = runs[arch]
    for regime, run in ours.items():
        ref = theirs[regime]
        for s in range(SAMPLES):
            assert run.net_diverged[s] == ref[s]["diverged"]
            if ref[s]["diverged"]:
                continue
            # measured: <= 7e-13 relative (loss curves through the catapult), <= 1e-15 for the kernels
            assert np.allclose(run.losses[:, s], ref[s]["losses"], rtol=1e-9, atol=0), (arch, regime, s)
            assert run.net_drift[s] == pytest.approx(ref[s]["drift"], rel=1e-9)
            assert run.net_lambda_init[s] == pytest.approx(ref[s]["lambda_init"], rel=1e-10)
            assert run.net_lambda_final[s] == pytest.approx(ref[s]["lambda_final"], rel=1e-9)
        assert run.regime == NT.classify(ref) == regime
        assert run.diverged == np.mean([r["diverged"] for r in ref])
        assert run.final_loss == pytest.approx(np.median([r["final_loss"] for r in ref]), rel=1e-9)
        assert run.peak_loss_ratio == pytest.approx(np.median([r["peak_ratio"] for r in ref]), rel=1e-9)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_regimes_as_independently_drawn_networks_classify_them(runs, arch):
    setup, ours, _ = runs[arch]
    act, sw2, sb2, depth, steps, lrs = ARCHS[arch]
    rng = np.random.default_rng(12345)
    params = [NT.draw(setup.X.shape[1], WIDTH, depth, setup.outputs, rng) for _ in range(SAMPLES)]
    # medians within sampling error: lambda_max of the other draw's initial NTKs (spread sets the scale)
    lam = np.array([np.linalg.eigvalsh(NT.ntk(p, setup.X, act, sw2, sb2))[-1] for p in params])
    err = 3 * 1.2533 * lam.std(ddof=1) / math.sqrt(SAMPLES) * math.sqrt(2)
    assert abs(ours["lazy"].lambda_max_init - np.median(lam)) <= err
    for regime, f in lrs.items():
        short = min(steps, 12)  # the regime shows within the catapult's first few steps
        theirs = [NT.run(p, setup.X, setup.Y, act, sw2, sb2, f * setup.eta_max, short, kernels=False)
                  for p in params]
        assert NT.classify(theirs) == ours[regime].regime == regime, (arch, regime)


def test_lazy_kernel_barely_moves_for_erf(runs):
    _, ours, _ = runs["erf-1"]
    assert ours["lazy"].kernel_drift < 0.05
    assert ours["lazy"].peak_loss_ratio == 1.0 and ours["lazy"].eta_lambda_init < 2


@pytest.mark.parametrize("arch", list(ARCHS))
def test_catapult_band_the_kernel_drops_until_eta_lambda_below_two(runs, arch):
    _, ours, _ = runs[arch]
    run = ours["catapult"]
    assert run.eta_lambda_init > 2.0 and run.peak_loss_ratio > 1.0
    assert run.lambda_max_final < run.lambda_max_init
    assert run.eta * run.lambda_max_final < 2.1
    assert run.kernel_drift > 5 * ours["lazy"].kernel_drift
    assert run.diverged == 0.0 and ours["divergent"].diverged > 0.5
    assert math.isinf(ours["divergent"].final_loss)


def test_gradients_against_finite_differences():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 4))
    Y = rng.standard_normal((5, 3))
    for act, sw2, sb2 in (("erf", 1.5, 0.05), ("relu", 2.0, 0.1), ("tanh", 1.2, 0.2)):
        nets = network.draw(act, sw2, sb2, depth=2, width=7, dim=4, outputs=3, samples=1, seed=1)
        params = [(nets.W[l][0], nets.b[l][0]) for l in range(3)]
        loss, grad = network.gradients(nets, X, Y)
        assert loss[0] == pytest.approx(NT.loss_and_grad(params, X, Y, act, sw2, sb2)[0], rel=1e-13)
        h = 1e-6
        for l in range(3):
            for arr, g in ((nets.W[l], grad.W[l]), (nets.b[l], grad.b[l])):
                flat, gflat = arr.reshape(-1), g.reshape(-1)
                for i in range(0, flat.size, max(1, flat.size // 6)):
                    keep = flat[i]
                    flat[i] = keep + h
                    up = NT.loss_and_grad([(nets.W[k][0], nets.b[k][0]) for k in range(3)], X, Y, act, sw2, sb2)[0]
                    flat[i] = keep - h
                    down = NT.loss_and_grad([(nets.W[k][0], nets.b[k][0]) for k in range(3)], X, Y, act, sw2, sb2)[0]
                    flat[i] = keep
                    assert gflat[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7), (act, l, i)


def test_empirical_ntk_is_j_j_transpose_and_its_mean_is_the_infinite_width_kernel(digits):
    # exactness on a small network: phasecli's NTK, the oracle's layer formula and an explicit J J^T
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 3))
    nets = network.draw("erf", 1.5, 0.05, depth=2, width=6, dim=3, outputs=2, samples=1, seed=2)
    params = [(nets.W[l][0], nets.b[l][0]) for l in range(3)]
    J = NT.jacobian(params, X, "erf", 1.5, 0.05)
    assert np.allclose(network.ntk(nets, X)[0], J @ J.T, rtol=1e-12, atol=1e-12)
    assert np.allclose(NT.ntk(params, X, "erf", 1.5, 0.05), J @ J.T, rtol=1e-12, atol=1e-12)
    # the mean over networks tends to the infinite-width Theta (x) I_k: 10 digits, width 512, 16 networks
    Xd = naive_ntk.normalize_rows(digits[0][:10], 1.5, 0.05, naive_ntk.q_star("erf", 1.5, 0.05))
    theta_inf = naive_ntk.kernels("erf", Xd, 1.5, 0.05, [1])[1][1]
    nets = network.draw("erf", 1.5, 0.05, depth=1, width=512, dim=Xd.shape[1], outputs=2, samples=16, seed=7)
    theta = network.ntk(nets, Xd).reshape(16, 10, 2, 10, 2)
    same = theta[:, :, 0, :, 0]  # output 0 with itself
    cross = theta[:, :, 0, :, 1]  # different outputs: mean 0
    mean, se = same.mean(0), same.std(0, ddof=1) / 4
    assert np.all(np.abs(mean - theta_inf) <= 4.5 * se + 2e-3 * theta_inf.max())
    assert np.abs(cross.mean(0)).max() <= 4.5 * cross.std(0, ddof=1).max() / 4 + 1e-3 * theta_inf.max()


def test_accuracy_in_small_forward_passes_equals_one_pass_and_the_oracle(monkeypatch):
    rng = np.random.default_rng(11)
    X, labels = rng.standard_normal((23, 5)), rng.integers(0, 3, 23)
    nets = network.draw("tanh", 1.3, 0.1, depth=2, width=9, dim=5, outputs=3, samples=1, seed=4)
    params = [(nets.W[l][0], nets.b[l][0]) for l in range(3)]
    whole = core.predict(nets, X)
    monkeypatch.setattr(core, "FORWARD_BYTES", 3 * 8 * (2 * 9 + 3) * 4)  # passes of 4 rows
    assert np.array_equal(core.predict(nets, X), whole)
    assert core.accuracy(nets, X, labels) == NT.accuracy(params, X, labels, np.arange(3), "tanh", 1.3, 0.1)


@pytest.mark.parametrize("X_test,y_test,y,param,needle", [
    (np.ones((3, 4)), [0, 1, 0], None, "X_test", "labelled training data"),
    (np.ones((3, 5)), [0, 1, 0], [0, 1, 0, 1], "X_test", "5 features"),
    (np.ones((3, 4)), [0, 2, 0], [0, 1, 0, 1], "y_test", "[2] never occur"),
    (np.ones((3, 4)), [0, 0.5, 0], [0, 1, 0, 1], "y_test", "integer"),
    (np.ones((3, 4)), [0, 1], [0, 1, 0, 1], "y_test", "one integer label per example"),
    (np.ones((3, 4)), None, [0, 1, 0, 1], "y_test", "both"),
])
def test_prepare_refuses_bad_test_sets(X_test, y_test, y, param, needle):
    from phasecli.errors import InputError

    X = np.random.default_rng(0).standard_normal((4, 4))
    with pytest.raises(InputError) as exc:
        core.prepare("erf", X, None if y is None else np.array(y), sw2=1.5, sb2=0.05, width=4, samples=1, n_steps=1,
                     X_test=X_test, y_test=None if y_test is None else np.array(y_test))
    assert exc.value.param == param and needle in str(exc.value)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_initial_kernel_in_every_row_diverged_or_not(runs, arch):
    """lambda_max_empirical: the median over ALL networks of the oracle's initial NTK lambda_max, the same in every
    row; lambda_max_init: over the non-diverged ones, over all when every one diverged (never NaN)."""
    setup, ours, _ = runs[arch]
    act, sw2, sb2, depth, _, _ = ARCHS[arch]
    nets = core.draw_networks(setup)
    lam = np.array([np.linalg.eigvalsh(NT.ntk([(nets.W[l][s], nets.b[l][s]) for l in range(depth + 1)], setup.X,
                                              act, sw2, sb2))[-1] for s in range(SAMPLES)])
    for regime, run in ours.items():
        assert run.lambda_max_empirical == pytest.approx(np.median(lam), rel=1e-10)
        assert run.eta_empirical_factor == pytest.approx(run.eta * np.median(lam) / 2, rel=1e-10)
        assert run.lambda_max_inf == setup.lambda_max_inf
        alive = ~run.net_diverged
        assert run.lambda_max_init == pytest.approx(np.median(lam[alive] if alive.any() else lam), rel=1e-10)
        assert np.allclose(run.net_lambda_init, lam, rtol=1e-10, atol=0)
        assert run.status == ("ok" if alive.any() else "all networks diverged")
    assert ours["divergent"].diverged > 0.5 and math.isfinite(ours["divergent"].lambda_max_init)
