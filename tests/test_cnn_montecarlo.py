"""Finite-channel random CNNs (tests/empirical_cnn.py, exact gradients) against the infinite-channel kernels."""

from __future__ import annotations

import numpy as np
import pytest

import empirical_cnn as ec
from phasecli import ntk

IMAGE = (4, 4, 2)
WIDTH = 128
SAMPLES = 16


def test_backprop_ntk_equals_finite_differences():
    X = np.random.default_rng(0).standard_normal((2, 18))
    for pooled in (False, True):
        fd, params = ec.finite_difference_ntk("tanh", X, (3, 3, 2), 3, 1.7, 0.2, 2, 3, pooled, np.random.default_rng(1))
        bp = ec.backprop_ntk_with("tanh", X, (3, 3, 2), 3, 1.7, 0.2, 2, 3, pooled, params)
        assert np.abs(fd - bp).max() <= 1e-8 * np.abs(fd).max()


@pytest.fixture(scope="module")
def draws():
    """Empirical (NNGP, NTK) of SAMPLES random depth-2 CNNs per (activation, architecture), seeds 0..SAMPLES-1."""
    X = np.random.default_rng(11).standard_normal((3, int(np.prod(IMAGE))))
    out = {}
    for act, sw2, sb2 in (("erf", 1.6, 0.1), ("relu", 1.8, 0.1)):
        for pooled in (False, True):
            ks = [ec.sample_kernels(act, X, IMAGE, 3, sw2, sb2, 2, WIDTH, pooled, np.random.default_rng(s))
                  for s in range(SAMPLES)]
            out[(act, pooled)] = (X, sw2, sb2, np.array([k[0] for k in ks]), np.array([k[1] for k in ks]))
    return out


@pytest.mark.parametrize("act", ["erf", "relu"])
@pytest.mark.parametrize("pooled", [False, True])
def test_wide_cnn_means_match_infinite_channel_kernels(draws, act, pooled):
    """Mean over networks within 4.5 standard errors of K and Theta for every entry (9 per kernel);
    the NTK at the wrong depth (1 or 3 instead of 2) is rejected by the same criterion."""
    X, sw2, sb2, nngp, th = draws[(act, pooled)]
    arch = "cnn-p" if pooled else "cnn-f"
    layers = {L.depth: L for L in ntk.kernel_pass(act, X, sw2, sb2, [1, 2, 3], normalize=False, architecture=arch,
                                                  image_shape=IMAGE)}
    se_k = nngp.std(axis=0, ddof=1) / np.sqrt(SAMPLES)
    se_t = th.std(axis=0, ddof=1) / np.sqrt(SAMPLES)
    z_k = np.abs(nngp.mean(axis=0) - layers[2].K_train) / se_k
    z_t = np.abs(th.mean(axis=0) - layers[2].Theta_train) / se_t
    assert z_k.max() < 4.5 and z_t.max() < 4.5, (z_k.max(), z_t.max())
    for wrong in (1, 3):
        assert (np.abs(th.mean(axis=0) - layers[wrong].Theta_train) / se_t).max() > 4.5
