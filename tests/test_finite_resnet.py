"""The finite-network simulator's residual networks (``phasecli.finite.network`` with architecture='resnet').

- forward: an independent numpy residual network written here (loops over blocks, LayerNorm written out);
- gradients: central finite differences of that oracle's loss, every parameter block, with and without
  LayerNorm, alpha = 1, 0.3 and 1/sqrt(L);
- the empirical NTK: J J^T of the finite-difference Jacobian of the oracle, and ``ntk_diagonal``;
- gd_step: the same arithmetic as gradients followed by p - lr g;
- its mean over networks: the infinite-width resnet NTK of ``tests/naive_resnet.py`` (closed forms);
- draw: the fc draw is unchanged by the new options; the resnet options are validated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

import naive_resnet as NR
from phasecli.errors import InputError
from phasecli.finite import network as N

PHI = {"tanh": (np.tanh, lambda h: 1.0 - np.tanh(h) ** 2),
       "erf": (erf, lambda h: 2.0 / math.sqrt(math.pi) * np.exp(-h * h)),
       "relu": (lambda h: np.maximum(h, 0.0), lambda h: (h > 0).astype(float))}


def oracle_outputs(Ws, bs, X, activation, sw2, sb2, alpha, ln):
    """f(X) of one residual network from its raw parameters (lists of 2-D / 1-D arrays), no phasecli."""
    phi = PHI[activation][0]
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)

    def norm(h):  # over the features (columns of h: one row per input)
        if not ln:
            return h
        c = h - h.mean(axis=1, keepdims=True)
        return c / np.sqrt((c * c).mean(axis=1, keepdims=True))

    h = X @ Ws[0].T * (sw / math.sqrt(X.shape[1])) + sb * bs[0]
    for W, b in zip(Ws[1:-1], bs[1:-1]):
        h = h + alpha * (phi(norm(h)) @ W.T * (sw / math.sqrt(W.shape[1])) + sb * b)
    return phi(norm(h)) @ Ws[-1].T * (sw / math.sqrt(Ws[-1].shape[1])) + sb * bs[-1]


def nets_of(activation="tanh", ln="none", scale=1.0, **kw):
    args = dict(depth=3, width=6, dim=4, outputs=2, samples=2, seed=5)
    args.update(kw)
    return N.draw(activation, 1.7, 0.2, architecture="resnet", residual_scale=scale, layer_norm=ln, **args)


def inputs(m=3, d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((m, d))


def oracle(nets, s, X):
    return oracle_outputs([w[s] for w in nets.W], [b[s] for b in nets.b], X, nets.activation, nets.sw2, nets.sb2,
                          nets.residual_scale, nets.layer_norm == "pre")


CASES = [("tanh", "none", 1.0), ("tanh", "pre", 1.0), ("erf", "pre", 0.3), ("relu", "none", "depth"),
         ("relu", "pre", "depth"), ("erf", "none", 0.0)]


@pytest.mark.parametrize("activation,ln,scale", CASES)
def test_forward_matches_independent_network(activation, ln, scale):
    nets = nets_of(activation, ln, scale)
    X = inputs()
    out = N.forward(nets, X).outputs
    assert len(nets.W) == nets.depth + 2
    for s in range(nets.samples):
        np.testing.assert_allclose(out[s], oracle(nets, s, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation,ln,scale", CASES)
def test_gradients_match_finite_differences(activation, ln, scale):
    nets = nets_of(activation, ln, scale)
    X, Y = inputs(), np.random.default_rng(1).standard_normal((3, 2))
    _, grad = N.gradients(nets, X, Y)
    rng = np.random.default_rng(2)
    eps = 1e-6

    def loss(s):
        r = oracle(nets, s, X) - Y
        return 0.5 * np.sum(r * r)

    checked = 0
    for block, (p, g) in enumerate(zip(nets.parameters(), grad.parameters())):
        for _ in range(4):
            idx = (int(rng.integers(nets.samples)),) + tuple(int(rng.integers(n)) for n in p.shape[1:])
            old = p[idx]
            p[idx] = old + eps
            up = loss(idx[0])
            p[idx] = old - eps
            down = loss(idx[0])
            p[idx] = old
            fd = (up - down) / (2 * eps)
            assert abs(fd - g[idx]) <= 2e-6 * max(1.0, abs(fd)), (block, idx, fd, g[idx])
            checked += abs(g[idx]) > 1e-8
    assert checked > len(nets.parameters())  # most gradients are not zero (the check has teeth)


def fd_jacobian(nets, X, s, eps=1e-6):
    cols = []
    for p in nets.parameters():
        flat = p[s].reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = oracle(nets, s, X).reshape(-1)
            flat[i] = old - eps
            down = oracle(nets, s, X).reshape(-1)
            flat[i] = old
            cols.append((up - down) / (2 * eps))
    return np.array(cols).T


@pytest.mark.parametrize("activation,ln,scale", [("tanh", "none", 1.0), ("tanh", "pre", 0.7), ("erf", "pre", "depth")])
def test_ntk_equals_jacobian_gram(activation, ln, scale):
    nets = nets_of(activation, ln, scale, depth=2, width=5, dim=3)
    X, X2 = inputs(m=3, d=3, seed=4), inputs(m=2, d=3, seed=6)
    theta = N.ntk(nets, X)
    cross = N.ntk(nets, X, X2)
    for s in range(nets.samples):
        J, J2 = fd_jacobian(nets, X, s), fd_jacobian(nets, X2, s)
        np.testing.assert_allclose(theta[s], J @ J.T, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(cross[s], J @ J2.T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(N.ntk_diagonal(nets, X), np.diagonal(theta, axis1=1, axis2=2).reshape(2, 3, 2),
                               rtol=1e-12)


@pytest.mark.parametrize("ln", ["none", "pre"])
def test_gd_step_is_gradient_descent(ln):
    nets = nets_of("tanh", ln, 0.8)
    X, Y = inputs(), np.random.default_rng(1).standard_normal((3, 2))
    loss, grad = N.gradients(nets, X, Y)
    expected = [p - np.array([0.05, 0.0]).reshape((2,) + (1,) * (p.ndim - 1)) * g
                for p, g in zip(nets.parameters(), grad.parameters())]
    before = N.gd_step(nets, X, Y, np.array([0.05, 0.0]))
    np.testing.assert_array_equal(before, loss)
    for p, e in zip(nets.parameters(), expected):
        np.testing.assert_allclose(p, e, rtol=1e-13, atol=1e-15)


def test_fc_draw_and_outputs_unchanged_by_the_new_options():
    a = N.draw("tanh", 1.5, 0.1, depth=2, width=8, dim=3, outputs=2, samples=2, seed=3)
    b = N.draw("tanh", 1.5, 0.1, depth=2, width=8, dim=3, outputs=2, samples=2, seed=3, architecture="fc")
    assert len(a.W) == 3
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)
    # a resnet of the same seed draws the same stream: its first layer is the fc network's
    r = nets_of("tanh", depth=2, width=8, dim=3, seed=3)
    np.testing.assert_array_equal(r.W[0], a.W[0])
    X = inputs(d=3)
    f = N.forward(a, X).outputs
    Ws, bs = [w[0] for w in a.W], [b[0] for b in a.b]
    h = X
    for i, (W, bb) in enumerate(zip(Ws, bs)):
        h = h @ W.T * math.sqrt(1.5 / W.shape[1]) + math.sqrt(0.1) * bb
        if i < 2:
            h = np.tanh(h)
    np.testing.assert_allclose(f[0], h, rtol=1e-12)


@pytest.mark.parametrize("kw,match", [
    ({"architecture": "cnn"}, "architecture"),
    ({"architecture": "fc", "residual_scale": 0.5}, "only for architecture"),
    ({"architecture": "fc", "layer_norm": "pre"}, "only for architecture"),
    ({"architecture": "resnet", "residual_scale": -1}, "residual_scale"),
    ({"architecture": "resnet", "residual_scale": math.inf}, "residual_scale"),
    ({"architecture": "resnet", "residual_scale": "deep"}, "residual_scale"),
    ({"architecture": "resnet", "layer_norm": "post"}, "layer_norm"),
    ({"architecture": "resnet", "layer_norm": "pre", "width": 1}, "width >= 2"),
])
def test_bad_options_are_refused(kw, match):
    args = dict(depth=2, width=4, dim=3)
    args.update(kw)
    with pytest.raises(InputError, match=match):
        N.draw("tanh", 1.5, 0.1, **args)


def test_depth_scale_and_width_one_without_layer_norm():
    nets = N.draw("relu", 2.0, 0.0, depth=4, width=1, dim=2, architecture="resnet", residual_scale="depth")
    assert nets.residual_scale == 0.5 and len(nets.W) == 6
    X = inputs(m=2, d=2)
    np.testing.assert_allclose(N.forward(nets, X).outputs[0], oracle(nets, 0, X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ln", ["none", "pre"])
def test_ntk_mean_matches_infinite_width_resnet_kernel(ln):
    """Mean empirical NTK of 60 resnets of width 256 against tests/naive_resnet.py (erf closed forms):
    within 5 standard errors plus an O(L / N) finite-width allowance of 3 %."""
    depth, width, S, alpha = 3, 256, 60, 0.8
    X = inputs(m=3, d=6, seed=9)
    nets = N.draw("erf", 2.0, 0.1, depth=depth, width=width, dim=6, outputs=1, samples=S, seed=11,
                  architecture="resnet", residual_scale=alpha, layer_norm=ln)
    theta = N.ntk(nets, X)
    _, ref = NR.resnet_kernels("erf", X, 2.0, 0.1, depth, alpha, ln == "pre")[:2]
    mean, se = theta.mean(axis=0), theta.std(axis=0, ddof=1) / math.sqrt(S)
    assert np.all(np.abs(mean - ref) <= 5 * se + 0.03 * np.abs(ref)), (mean, ref, se)
