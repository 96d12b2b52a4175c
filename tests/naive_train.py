"""An independent finite-network gradient-descent trainer in plain numpy (imports nothing from phasecli).

Written from THEORY.md ("Network and parameterization") and issue 10: one network at a time,

    h^1 = sqrt(sw2 / d) W^1 x + sqrt(sb2) b^1,   h^{l+1} = sqrt(sw2 / N) W^{l+1} phi(h^l) + sqrt(sb2) b^{l+1},
    f = h^{L+1} (k outputs),   W, b ~ N(0, 1),   loss = 1/2 sum_{a, j} (f_j(x_a) - Y_aj)^2,

explicit backpropagation for the gradient, and the empirical NTK from the per-(example,
output) derivatives delta^l = d f_j(x_a) / d h^l:

    Theta[(a, j), (b, i)] = sum_l <delta^l_{aj}, delta^l_{bi}> (sw2 / n_{l-1} <x^{l-1}_a, x^{l-1}_b> + sb2).

``jacobian`` forms J explicitly (small networks only) so that the formula can be checked as
J J^T and J against finite differences.  ``run`` trains at one learning rate and classifies the
outcome with the rule of the issue (divergent / catapult / lazy).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

SQRT_PI = math.sqrt(math.pi)


def phi(name, x):
    if name == "erf":
        return erf(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "abs":
        return np.abs(x)
    raise ValueError(name)


def dphi(name, x):
    if name == "erf":
        return 2.0 / SQRT_PI * np.exp(-x * x)
    if name == "relu":
        return (x > 0).astype(float)
    if name == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if name == "abs":
        return np.where(x > 0, 1.0, -1.0)
    raise ValueError(name)


def draw(d, width, depth, k, rng):
    """[(W^1, b^1), ..., (W^{L+1}, b^{L+1})], all N(0, 1)."""
    shapes = [(width, d)] + [(width, width)] * (depth - 1) + [(k, width)]
    return [(rng.standard_normal(s), rng.standard_normal(s[0])) for s in shapes]


def draw_seeded(seed, index, d, width, depth, k):
    """Network ``index`` of ``seed`` as phasecli's documented streams draw it: numpy's
    SeedSequence(seed, spawn_key=(index,)) into PCG64, one standard-normal vector of all the
    parameters, laid out W^1 (row-major), b^1, W^2, b^2, ..., W^{L+1}, b^{L+1}."""
    shapes = [(width, d)] + [(width, width)] * (depth - 1) + [(k, width)]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(int(index),))))
    flat = rng.standard_normal(sum(o * i + o for o, i in shapes))
    params, offset = [], 0
    for o, i in shapes:
        W = flat[offset:offset + o * i].reshape(o, i)
        offset += o * i
        params.append((W, flat[offset:offset + o]))
        offset += o
    return params


def accuracy(params, X, labels, classes, act, sw2, sb2):
    """Fraction of the rows of X whose largest output is the column of their label in ``classes``."""
    out = forward(params, X, act, sw2, sb2)[0][-1]
    return float(np.mean(np.asarray(classes)[np.argmax(out, axis=1)] == labels))


def forward(params, X, act, sw2, sb2):
    """(pre-activations h^1..h^{L+1}, layer inputs x^0..x^L)."""
    xs, hs = [X], []
    for l, (W, b) in enumerate(params):
        h = math.sqrt(sw2 / xs[-1].shape[1]) * xs[-1] @ W.T + math.sqrt(sb2) * b
        hs.append(h)
        if l < len(params) - 1:
            xs.append(phi(act, h))
    return hs, xs


def loss_and_grad(params, X, Y, act, sw2, sb2):
    hs, xs = forward(params, X, act, sw2, sb2)
    r = hs[-1] - Y
    grads = [None] * len(params)
    g = r  # d loss / d h^{L+1}
    for l in range(len(params) - 1, -1, -1):
        W, _ = params[l]
        scale = math.sqrt(sw2 / xs[l].shape[1])
        grads[l] = (scale * g.T @ xs[l], math.sqrt(sb2) * g.sum(axis=0))
        if l > 0:
            g = (scale * g @ W) * dphi(act, hs[l - 1])
    return 0.5 * float(np.sum(r * r)), grads


def ntk(params, X, act, sw2, sb2):
    """Empirical NTK, (m k, m k), index a * k + j."""
    hs, xs = forward(params, X, act, sw2, sb2)
    m, k = hs[-1].shape
    # delta for the readout: d f_j / d h^{L+1}_i = 1[i = j]  ->  (m, k, k)
    delta = np.broadcast_to(np.eye(k), (m, k, k))
    theta = np.zeros((m * k, m * k))
    for l in range(len(params) - 1, -1, -1):
        x = xs[l]
        gram = sw2 / x.shape[1] * x @ x.T + sb2  # (m, m)
        D = delta.reshape(m * k, -1)
        theta += (D @ D.T) * np.kron(gram, np.ones((k, k)))
        if l > 0:
            W, _ = params[l]
            delta = (math.sqrt(sw2 / x.shape[1]) * delta @ W) * dphi(act, hs[l - 1])[:, None, :]
    return theta


def jacobian(params, X, act, sw2, sb2):
    """J[(a, j), p] = d f_j(x_a) / d p over the flattened (W^1, b^1, ..., W^{L+1}, b^{L+1}); small nets only."""
    hs, xs = forward(params, X, act, sw2, sb2)
    m, k = hs[-1].shape
    rows = []
    for a in range(m):
        for j in range(k):
            g = np.zeros((1, k))
            g[0, j] = 1.0
            parts = []
            for l in range(len(params) - 1, -1, -1):
                W, _ = params[l]
                scale = math.sqrt(sw2 / xs[l].shape[1])
                parts.append((scale * g.T @ xs[l][a:a + 1], math.sqrt(sb2) * g[0]))
                if l > 0:
                    g = (scale * g @ W) * dphi(act, hs[l - 1][a:a + 1])
            rows.append(np.concatenate([np.concatenate([w.ravel(), b]) for w, b in parts[::-1]]))
    return np.array(rows)


def run(params, X, Y, act, sw2, sb2, eta, steps, kernels=True):
    """Train a copy of ``params`` for ``steps`` steps: dict(losses, diverged, params (the trained ones),
    peak_ratio, final_loss and, with ``kernels``, lambda_init, lambda_final, drift)."""
    params = [(W.copy(), b.copy()) for W, b in params]
    theta0 = ntk(params, X, act, sw2, sb2) if kernels else None
    losses = []
    diverged = False
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            loss, grads = loss_and_grad(params, X, Y, act, sw2, sb2)
            losses.append(loss)
            if not math.isfinite(loss) or loss > 1e6 * losses[0]:
                diverged = True
                break
            if t < steps:
                params = [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in zip(params, grads)]
    out = dict(losses=np.array(losses), diverged=diverged, params=params)
    if diverged:
        out.update(peak_ratio=math.inf, final_loss=math.inf, lambda_init=math.nan, lambda_final=math.nan,
                   drift=math.nan)
        return out
    out.update(peak_ratio=max(losses) / losses[0], final_loss=losses[-1])
    if not kernels:
        return out
    theta = ntk(params, X, act, sw2, sb2)
    out.update(lambda_init=float(np.linalg.eigvalsh(theta0)[-1]), lambda_final=float(np.linalg.eigvalsh(theta)[-1]),
               drift=float(np.linalg.norm(theta - theta0) / np.linalg.norm(theta0)))
    return out


def classify(results):
    """The issue's rule over S runs: divergent if more than half diverged, else catapult if the median
    peak loss ratio exceeds 1, else lazy."""
    diverged = np.mean([r["diverged"] for r in results])
    if diverged > 0.5:
        return "divergent"
    return "catapult" if np.median([r["peak_ratio"] for r in results]) > 1.0 else "lazy"
