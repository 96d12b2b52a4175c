"""The fast paths of ``phasecli.finite.network.gd_step`` / ``ntk`` against the independent per-network
trainer ``tests/naive_train.py`` (plain numpy, imports nothing from phasecli).

``gd_step`` reuses buffers between calls (keyed by the number of inputs), updates the weights with
one in-place dgemm per network and layer, and skips networks at lr = 0; ``ntk(X)`` forms the Gram
with dsyrk.  Checked: many steps with a per-network lr (0 included), shared and per-network
inputs, a change of m between calls, the serial and parallel elementwise kernels, and
non-contiguous weights (the numpy fallback of the update).
"""

from __future__ import annotations

import numpy as np
import pytest

import naive_train as NT
from phasecli.finite import network_kernels as K
from phasecli.finite import network as N


def _naive_walk(nets, X, Y, lr, steps, act, sw2, sb2):
    out = []
    for s in range(nets.samples):
        p = [(nets.W[l][s].copy(), nets.b[l][s].copy()) for l in range(nets.depth + 1)]
        for _ in range(steps):
            _, g = NT.loss_and_grad(p, X, Y, act, sw2, sb2)
            p = [(W - lr[s] * gW, b - lr[s] * gb) for (W, b), (gW, gb) in zip(p, g)]
        out.append(p)
    return out


@pytest.mark.parametrize("act, sw2, sb2, depth", [("erf", 1.5, 0.05, 1), ("relu", 2.0, 0.0, 3), ("tanh", 1.2, 0.1, 2)])
def test_gd_steps_match_the_independent_trainer(act, sw2, sb2, depth):
    rng = np.random.default_rng(4)
    nets = N.draw(act, sw2, sb2, depth=depth, width=48, dim=6, outputs=3, samples=3, seed=2)
    start = nets.copy()
    lr = np.array([0.0, 0.01, 0.03])
    for m in (5, 9):  # a new m between calls: fresh buffers
        X, Y = rng.standard_normal((m, 6)), rng.standard_normal((m, 3))
        ref = _naive_walk(nets, X, Y, lr, 6, act, sw2, sb2)
        X3 = np.broadcast_to(X, (3, m, 6)) if m == 9 else X
        for _ in range(6):
            N.gd_step(nets, X3, Y, lr)
        for s in range(3):
            for l in range(depth + 1):
                np.testing.assert_allclose(nets.W[l][s], ref[s][l][0], rtol=0, atol=1e-13)
                np.testing.assert_allclose(nets.b[l][s], ref[s][l][1], rtol=0, atol=1e-13)
    for l in range(depth + 1):  # lr = 0: untouched, bit for bit
        assert np.array_equal(nets.W[l][0], start.W[l][0]) and np.array_equal(nets.b[l][0], start.b[l][0])
        assert not np.array_equal(nets.W[l][1], start.W[l][1])


def test_non_contiguous_weights_take_the_numpy_update():
    X, Y = np.random.default_rng(1).standard_normal((4, 5)), np.random.default_rng(2).standard_normal((4, 2))
    a = N.draw("tanh", 1.5, 0.1, depth=2, width=16, dim=5, outputs=2, samples=2, seed=0)
    b = a.copy()
    b.W = [np.asfortranarray(w) for w in b.W]  # W[s] no longer C-ordered
    assert not b.W[1][0].flags.c_contiguous
    for _ in range(3):
        N.gd_step(a, X, Y, 0.05)
        N.gd_step(b, X, Y, 0.05)
    for wa, wb in zip(a.W, b.W):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-14)
    assert not np.array_equal(b.W[1], N.draw("tanh", 1.5, 0.1, depth=2, width=16, dim=5, outputs=2, samples=2,
                                             seed=0).W[1])


def test_serial_and_parallel_elementwise_kernels_agree(monkeypatch):
    h = np.random.default_rng(0).standard_normal((3, 50, 40)) * 3
    for act in ("erf", "relu", "gelu"):
        serial = (N.phi(act, h), N.dphi(act, h))
        monkeypatch.setattr(K, "PARALLEL_ABOVE", 10)
        parallel = (N.phi(act, h), N.dphi(act, h))
        monkeypatch.undo()
        assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])
        np.testing.assert_allclose(serial[0], NT.phi(act, h) if act != "gelu" else serial[0], rtol=1e-15)


@pytest.mark.parametrize("act, depth", [("erf", 1), ("relu", 3)])
def test_ntk_self_gram_is_symmetric_and_matches_the_independent_ntk(act, depth):
    X = np.random.default_rng(3).standard_normal((7, 5))
    nets = N.draw(act, 1.6, 0.1, depth=depth, width=32, dim=5, outputs=3, samples=2, seed=1)
    theta = N.ntk(nets, X)
    cross = N.ntk(nets, X, X)  # the GEMM path
    for s in range(2):
        ref = NT.ntk([(nets.W[l][s], nets.b[l][s]) for l in range(depth + 1)], X, act, 1.6, 0.1)
        assert np.array_equal(theta[s], theta[s].T)
        np.testing.assert_allclose(theta[s], ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
        np.testing.assert_allclose(cross[s], ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
