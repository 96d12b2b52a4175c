"""The trained-network ensemble (ensemble_accuracy, ensemble_std) and the residual predictor (delta) of
``generalize``, against the independent reference in tests/naive_ensemble.py (neural-tangents' formulas
with explicit inverses, adaptive quadrature, Table 1 limits)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import naive_ensemble as NE  # noqa: E402

from phasecli.ntk import predictor  # noqa: E402


def _data(seed=1, m=24, m_test=10, d=6, k=3):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(m, d)), rng.integers(0, k, m), rng.normal(size=(m_test, d)), rng.integers(0, k, m_test))


# ordered, chaotic (erf) and critical (relu sw2 = 2, sb2 = 0; erf on its critical line below)
POINTS = [("erf", 1.0, 0.1), ("erf", 3.0, 0.1), ("relu", 2.0, 0.0), ("relu", 1.5, 0.1)]


@pytest.mark.parametrize("activation,sw2,sb2", POINTS)
@pytest.mark.parametrize("nngp", [False, True])
@pytest.mark.parametrize("time", [None, 2.5])
def test_ensemble_matches_reference(activation, sw2, sb2, nngp, time):
    X, y, Xt, yt = _data()
    depths = [1, 3, 8]
    r = predictor.ntk_generalization(activation, X, y, Xt, yt, sw2, sb2, depths, nngp=nngp, time=time)
    assert set(r.status) == {"ok"}
    for i, depth in enumerate(depths):
        acc, std, mean, _ = NE.ensemble(activation, X, y, Xt, yt, sw2, sb2, depth, nngp=nngp, time=time)
        assert abs(r.ensemble_accuracy[i] - acc) < 1e-8, (depth, r.ensemble_accuracy[i], acc)
        assert abs(r.ensemble_std[i] - std) <= 1e-8 * std, (depth, r.ensemble_std[i], std)


def test_ensemble_with_ridge_and_data_as_given():
    X, y, Xt, yt = _data(seed=4)
    r = predictor.ntk_generalization("erf", X, y, Xt, yt, 1.2, 0.2, [2, 6], ridge=0.3, normalize=False)
    for i, depth in enumerate([2, 6]):
        acc, std, _, _ = NE.ensemble("erf", X, y, Xt, yt, 1.2, 0.2, depth, ridge=0.3, normalize=False)
        assert abs(r.ensemble_accuracy[i] - acc) < 1e-8
        assert abs(r.ensemble_std[i] - std) <= 1e-8 * std


@pytest.mark.parametrize("activation,sw2,sb2,phase,jumps", [("erf", 3.0, 0.1, "chaotic", False),
                                                           ("erf", 1.0, 0.1, "ordered", False),
                                                           ("relu", 1.5, 0.1, "ordered", True),
                                                           ("relu", 2.0, 0.0, "critical", True)])
@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_delta_matches_reference(activation, sw2, sb2, phase, jumps, ridge):
    X, y, Xt, yt = _data(seed=2)
    depths = [1, 4, 12]
    r = predictor.ntk_generalization(activation, X, y, Xt, yt, sw2, sb2, depths, ridge=ridge)
    assert r.phase == phase
    for i, depth in enumerate(depths):
        want = NE.delta(activation, X, y, Xt, sw2, sb2, depth, phase=phase, ridge=ridge, slope_jumps=jumps)
        assert abs(r.delta[i] - want) <= 1e-8 * max(want, 1e-3), (depth, r.delta[i], want)


def test_delta_uses_the_infinite_time_predictor():
    """delta is Xiao et al.'s P(Theta) (t = inf) even when the reported predictor is at a finite time."""
    X, y, Xt, yt = _data(seed=3)
    at_inf = predictor.ntk_generalization("erf", X, y, Xt, yt, 3.0, 0.1, [2, 5])
    at_t = predictor.ntk_generalization("erf", X, y, Xt, yt, 3.0, 0.1, [2, 5], time=1.0)
    np.testing.assert_allclose(at_t.delta, at_inf.delta, rtol=1e-10)
    assert not np.allclose(at_t.test_mse, at_inf.test_mse)


def test_chaotic_delta_is_the_prediction_scale_in_train_units():
    """P(Theta*) = 0 in the chaotic phase: delta is the mean predictor's RMS over RMS(Y_train)."""
    X, y, Xt, yt = _data(seed=5)
    r = predictor.ntk_generalization("erf", X, y, Xt, yt, 4.0, 0.05, [3, 9], keep_predictions=True)
    Y = NE.targets(y, np.unique(y))
    want = np.sqrt(np.mean(r.predictions ** 2, axis=(1, 2))) / np.sqrt(np.mean(Y ** 2))
    np.testing.assert_allclose(r.delta, want, rtol=1e-12)


def test_ensemble_accuracy_falls_to_chance_in_the_deep_chaotic_phase():
    """Balanced labels: the ensemble's variance does not shrink with depth while mu's input-dependent part
    decays like (chi_c / chi_1)^l, so its accuracy tends to 1/k; the mean predictor's need not."""
    rng = np.random.default_rng(7)
    k, per = 3, 8
    centres = rng.normal(size=(k, 5)) * 3
    y = np.repeat(np.arange(k), per)
    X = centres[y] + rng.normal(size=(k * per, 5))
    yt = np.repeat(np.arange(k), 4)
    Xt = centres[yt] + rng.normal(size=(k * 4, 5))
    r = predictor.ntk_generalization("erf", X, y, Xt, yt, 4.0, 0.05, [1, 100])  # xi_star = 1.7
    assert r.ensemble_accuracy[0] > 0.8
    assert abs(r.ensemble_accuracy[1] - 1.0 / k) < 0.05
    assert r.test_accuracy[1] > 0.8  # the argmax of mu keeps the vanishing input-dependent part


def test_cnn_ensemble_matches_a_dense_reference():
    """CNN-F / CNN-P: the test variances K(x, x) come from the engine; the ensemble built from the dense
    kernels of tests/naive_cnn.py with the same formulas gives the same columns."""
    import naive_cnn as NC

    rng = np.random.default_rng(0)
    image = (4, 4, 2)
    X, Xt = rng.normal(size=(6, 32)), rng.normal(size=(4, 32))
    y, yt = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 1, 2, 1])
    classes = np.unique(y)
    Y = NE.targets(y, classes)
    for arch, pooled in (("cnn-f", False), ("cnn-p", True)):
        r = predictor.ntk_generalization("erf", X, y, Xt, yt, 2.5, 0.1, [2], normalize=False, architecture=arch,
                                         image_shape=image)
        K, Theta = NC.cnn_kernels("erf", np.vstack([X, Xt]), image, 3, 2.5, 0.1, [2], pooled)[2]
        F = np.linalg.inv(Theta[:6, :6])
        mean = Theta[6:, :6] @ F @ Y
        cross = Theta[6:, :6] @ F @ K[6:, :6].T
        var = np.diag(K[6:, 6:] + Theta[6:, :6] @ F @ K[:6, :6] @ F @ Theta[6:, :6].T - cross - cross.T)
        probs = [NE.argmax_probability(mean[i], int(yt[i]), math.sqrt(var[i])) for i in range(4)]
        assert abs(r.ensemble_accuracy[0] - np.mean(probs)) < 1e-8, arch
        assert abs(r.ensemble_std[0] - math.sqrt(np.mean(var))) < 1e-8 * math.sqrt(np.mean(var)), arch


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=2, max_size=6), st.floats(1e-3, 50.0), st.integers(0, 5))
def test_argmax_probability_matches_quad(means, std, label):
    mean = np.array(means)
    label = label % mean.size
    got = predictor.argmax_probability(mean[None, :], np.array([label]), np.array([std]))[0]
    assert abs(got - NE.argmax_probability(mean, label, std)) < 1e-9


def test_argmax_probability_limits():
    mean = np.array([[0.3, 0.1, -0.2], [0.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    p = predictor.argmax_probability(mean, np.array([0, 1, 0]), np.array([0.0, 1e6, 0.0]))
    assert p[0] == 1.0  # no noise: the mean's argmax
    assert abs(p[1] - 1.0 / 3.0) < 1e-9  # equal means: every class equally likely
    assert p[2] == 0.0
    probs = [predictor.argmax_probability(np.array([[0.2, -0.1, 0.4, 0.0]]), np.array([j]), np.array([0.7]))[0]
             for j in range(4)]
    assert abs(sum(probs) - 1.0) < 1e-12


@pytest.mark.parametrize("time", [None, 2.0])
def test_test_batches_give_the_same_columns(time):
    """Each further test batch factors the train block again (nothing m x m kept per depth): same rows."""
    X, y, Xt, yt = _data(seed=3, m=30, m_test=25)
    whole = predictor.ntk_generalization("erf", X, y, Xt, yt, 3.0, 0.1, [1, 4], time=time)
    batched = predictor.ntk_generalization("erf", X, y, Xt, yt, 3.0, 0.1, [1, 4], time=time, batch_size=7)
    for column in ("ensemble_accuracy", "ensemble_std", "delta", "test_accuracy", "test_mse"):
        np.testing.assert_allclose(getattr(batched, column), getattr(whole, column), rtol=1e-12, atol=1e-15)
