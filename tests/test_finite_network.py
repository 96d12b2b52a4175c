"""The finite-network simulator ``phasecli.finite.network`` against independent computations.

- gradients: central finite differences of the loss, every parameter block, several activations;
- the empirical NTK: the finite-difference Jacobian J J^T, and ``tests/empirical_ntk.py`` (an
  independent numpy network with its own closed-form NTK), output by output and across inputs;
- its mean over networks: the infinite-width NTK of ``tests/naive_ntk.py`` (quadrature / closed
  forms), within sampling error plus an O(L / M) finite-width allowance;
- orthogonal draws: exactly orthogonal, and Haar (E tr Q = 0, E (tr Q)^2 = 1); seeds and chunks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import empirical_ntk as E
import naive_ntk as NN
from phasecli.errors import InputError
from phasecli.finite import network as N

ACTIVATIONS = ["tanh", "relu", "gelu", "sin", "leaky_relu", "softplus", "elu", "erf"]


def small(activation="tanh", **kw):
    args = dict(depth=3, width=7, dim=4, outputs=2, samples=2, seed=5)
    args.update(kw)
    return N.draw(activation, 1.7, 0.2, **args)


def inputs(m=3, d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((m, d))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation):
    nets = small(activation)
    X, Y = inputs(), np.random.default_rng(1).standard_normal((3, 2))
    _, grad = N.gradients(nets, X, Y)
    rng = np.random.default_rng(2)
    eps = 1e-6
    for block, (p, g) in enumerate(zip(nets.parameters(), grad.parameters())):
        for _ in range(3):
            idx = (int(rng.integers(nets.samples)),) + tuple(int(rng.integers(n)) for n in p.shape[1:])
            old = p[idx]
            p[idx] = old + eps
            up = N.gradients(nets, X, Y)[0][idx[0]]
            p[idx] = old - eps
            down = N.gradients(nets, X, Y)[0][idx[0]]
            p[idx] = old
            fd = (up - down) / (2 * eps)
            assert abs(fd - g[idx]) <= 1e-6 * max(1.0, abs(fd)), (activation, block, idx, fd, g[idx])


def test_backward_is_linear_in_the_cotangent_and_matches_gradients():
    nets = small("silu")
    X = inputs()
    fwd = N.forward(nets, X)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(fwd.outputs.shape), rng.standard_normal(fwd.outputs.shape)
    ga, gb, gab = (N.backward(nets, fwd, c) for c in (a, b, 2 * a - b))
    for pa, pb, pab in zip(ga.parameters(), gb.parameters(), gab.parameters()):
        np.testing.assert_allclose(pab, 2 * pa - pb, rtol=1e-12, atol=1e-12)


def finite_difference_jacobian(nets, X, s, eps=1e-6):
    """(m k, P) Jacobian of network s's outputs by central differences over every parameter."""
    cols = []
    for p in nets.parameters():
        flat = p[s].reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = N.forward(nets, X).outputs[s].reshape(-1)
            flat[i] = old - eps
            down = N.forward(nets, X).outputs[s].reshape(-1)
            flat[i] = old
            cols.append((up - down) / (2 * eps))
    return np.array(cols).T


@pytest.mark.parametrize("activation", ["tanh", "relu", "selu", "sigmoid"])
def test_ntk_equals_jacobian_gram(activation):
    nets = small(activation, depth=2, width=5, dim=3, outputs=2, samples=2)
    X = inputs(m=3, d=3, seed=4)
    theta = N.ntk(nets, X)
    for s in range(nets.samples):
        J = finite_difference_jacobian(nets, X, s)
        np.testing.assert_allclose(theta[s], J @ J.T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(N.ntk_diagonal(nets, X), np.diagonal(theta, axis1=1, axis2=2).reshape(2, 3, 2),
                               rtol=1e-13)


@pytest.mark.parametrize("activation", ["gelu", "leaky_relu", "sin"])
def test_ntk_matches_independent_network(activation):
    """tests/empirical_ntk.py's closed-form NTK of each scalar output unit, and the cross kernel."""
    nets = N.draw(activation, 2.2, 0.3, depth=4, width=9, dim=5, outputs=3, samples=2, seed=8)
    X, X2 = inputs(m=4, d=5, seed=6), inputs(m=2, d=5, seed=7)
    theta = N.ntk(nets, X).reshape(2, 4, 3, 4, 3)
    cross = N.ntk(nets, X, X2).reshape(2, 4, 3, 2, 3)
    both = np.vstack([X, X2])
    for s in range(2):
        mlp = E.MLP([w[s] for w in nets.W], [b[s] for b in nets.b], 2.2, 0.3)
        for j in range(3):
            ref = mlp.ntk(both, 4, activation, unit=j)
            np.testing.assert_allclose(theta[s][:, j, :, j], ref[:4, :4], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(cross[s][:, j, :, j], ref[:4, 4:], rtol=1e-12, atol=1e-12)


def test_ntk_mean_matches_infinite_width_kernel():
    """Mean empirical NTK of 150 networks of width 256 against the quadrature / closed-form oracle."""
    depth, width, S = 3, 256, 150
    X = inputs(m=3, d=6, seed=9)
    X /= np.linalg.norm(X, axis=1, keepdims=True) / math.sqrt(6)
    for activation, sw2, sb2 in (("erf", 2.0, 0.1), ("relu", 2.0, 0.05)):
        nets = N.draw(activation, sw2, sb2, depth=depth, width=width, dim=6, outputs=2, samples=S, seed=11)
        theta = N.ntk(nets, X).reshape(S, 3, 2, 3, 2)
        ref = NN.kernels(activation, X, sw2, sb2, [depth])[depth][1]
        for j, i in ((0, 0), (1, 1), (0, 1)):
            block = theta[:, :, j, :, i]
            mean, se = block.mean(axis=0), block.std(axis=0, ddof=1) / math.sqrt(S)
            expected = ref if i == j else np.zeros_like(ref)
            allowance = 4.5 * se + (depth + 1) / width * np.abs(ref).max()
            assert np.all(np.abs(mean - expected) <= allowance), (activation, j, i, mean, expected, se)


def test_gd_step_is_a_gradient_step_and_lowers_the_loss():
    nets = small("tanh", samples=3)
    X, Y = inputs(), np.random.default_rng(1).standard_normal((3, 2))
    before = nets.copy()
    loss0, grad = N.gradients(before, X, Y)
    lr = np.array([0.0, 1e-3, 2e-2])
    returned = N.gd_step(nets, X, Y, lr)
    np.testing.assert_array_equal(returned, loss0)
    for p, p0, g in zip(nets.parameters(), before.parameters(), grad.parameters()):
        np.testing.assert_allclose(p, p0 - lr.reshape((3,) + (1,) * (p.ndim - 1)) * g, rtol=1e-14, atol=1e-15)
    loss1 = N.gradients(nets, X, Y)[0]
    assert loss1[0] == loss0[0] and loss1[1] < loss0[1] and loss1[2] < loss0[2]


def test_orthogonal_layers_are_exactly_orthogonal_and_haar():
    M, sw2 = 6, 1.3
    nets = N.draw("tanh", sw2, 0.1, depth=3, width=M, dim=M, outputs=1, samples=4000, seed=3, weights="orthogonal")
    for layer in (1, 2, 3):  # square: the first layer too, since dim == width
        A = nets.effective_weight(layer)
        np.testing.assert_allclose(A @ np.swapaxes(A, 1, 2), np.broadcast_to(sw2 * np.eye(M), A.shape), atol=1e-12)
    Q = nets.W[1] / math.sqrt(M)
    trace = np.trace(Q, axis1=1, axis2=2)
    # Haar measure on O(M): E tr Q = 0, E (tr Q)^2 = 1, E Q_11^2 = 1/M (a QR without the sign fix fails these)
    assert abs(trace.mean()) < 4 * trace.std() / math.sqrt(trace.size)
    assert abs((trace ** 2).mean() - 1) < 4 * (trace ** 2).std() / math.sqrt(trace.size)
    q11 = Q[:, 0, 0] ** 2
    assert abs(q11.mean() - 1 / M) < 4 * q11.std() / math.sqrt(q11.size)
    readout = N.draw("tanh", sw2, 0.1, depth=2, width=M, dim=3, samples=2, seed=3, weights="orthogonal")
    gauss = N.draw("tanh", sw2, 0.1, depth=2, width=M, dim=3, samples=2, seed=3)
    np.testing.assert_array_equal(readout.W[0], gauss.W[0])  # non-square layers stay Gaussian
    np.testing.assert_array_equal(readout.W[2], gauss.W[2])


def test_streams_per_network_seed_and_chunks():
    whole = N.draw("relu", 2, 0.1, depth=2, width=5, dim=3, outputs=2, samples=6, seed=4)
    parts = [N.draw("relu", 2, 0.1, depth=2, width=5, dim=3, outputs=2, samples=3, seed=4, first=f) for f in (0, 3)]
    for p, a, b in zip(whole.parameters(), parts[0].parameters(), parts[1].parameters()):
        np.testing.assert_array_equal(p, np.concatenate([a, b]))
    again = N.draw("relu", 2, 0.1, depth=2, width=5, dim=3, outputs=2, samples=6, seed=4)
    other = N.draw("relu", 2, 0.1, depth=2, width=5, dim=3, outputs=2, samples=6, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(whole.parameters(), again.parameters()))
    assert not any(np.allclose(a, b) for a, b in zip(whole.parameters(), other.parameters()))
    assert not np.allclose(whole.W[1][0], whole.W[1][1])  # networks differ from each other
    first = N.network_rng(4, 0).standard_normal(5 * 3)
    np.testing.assert_array_equal(whole.W[0][0].ravel(), first)  # the documented layout: W^1 first, row-major


def test_shared_and_per_network_inputs_agree():
    nets = small("erf", samples=3)
    X = inputs()
    stacked = np.broadcast_to(X, (3,) + X.shape)
    np.testing.assert_allclose(N.ntk(nets, X), N.ntk(nets, stacked), rtol=1e-14)
    np.testing.assert_allclose(N.forward(nets, X).outputs, N.forward(nets, stacked).outputs, rtol=1e-14)


def test_effective_weights_and_forward_layers():
    nets = small("tanh", depth=2)
    X = inputs()
    fwd = N.forward(nets, X)
    assert len(fwd.pre) == 3 and len(fwd.post) == 3 and len(fwd.dphi) == 2
    h2 = np.matmul(fwd.post[1], np.swapaxes(nets.effective_weight(2), 1, 2)) + math.sqrt(0.2) * nets.b[1][:, None]
    np.testing.assert_allclose(fwd.pre[1], h2, rtol=1e-13)
    np.testing.assert_allclose(fwd.dphi[0], 1 - np.tanh(fwd.pre[0]) ** 2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(N.phi("tanh", fwd.pre[0]), np.tanh(fwd.pre[0]), rtol=1e-15)
    assert nets.n_parameters == 7 * 4 + 7 + 7 * 7 + 7 + 2 * 7 + 2


@pytest.mark.parametrize("call, param", [
    (lambda: N.draw("tanh", 1, 0, depth=0, width=3, dim=2), "depth"),
    (lambda: N.draw("tanh", -1, 0, depth=1, width=3, dim=2), "sw2"),
    (lambda: N.draw("nope", 1, 0, depth=1, width=3, dim=2), "activation"),
    (lambda: N.draw("tanh", 1, 0, depth=1, width=3, dim=2, weights="haar"), "weights"),
    (lambda: N.draw("tanh", 1, 0, depth=1, width=10**5, dim=2, samples=10**4), "samples"),
    (lambda: N.forward(small(), np.zeros((3, 5))), "X"),
    (lambda: N.forward(small(), np.full((3, 4), np.nan)), "X"),
    (lambda: N.gradients(small(), inputs(), np.zeros((3, 3))), "Y"),
    (lambda: N.gd_step(small(), inputs(), np.zeros((3, 2)), -1.0), "lr"),
    (lambda: small().effective_weight(5), "layer"),
])
def test_bad_input_is_an_input_error(call, param):
    with pytest.raises(InputError) as info:
        call()
    assert info.value.param == param
