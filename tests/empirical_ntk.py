"""Finite-width MLPs in NTK parameterization: empirical NNGP and NTK (independent of phasecli).

Nothing here imports phasecli; the network is written straight from THEORY.md
("Network and parameterization"):

    z^1(x)     = sigma_w / sqrt(d)   W^1 x               + sigma_b b^1
    z^{l+1}(x) = sigma_w / sqrt(N_l) W^{l+1} phi(z^l(x)) + sigma_b b^{l+1},   W, b ~ N(0, 1)

with ``depth`` = L hidden layers (L nonlinearities) and the readout z^{L+1}.

Empirical kernels of one random network (one draw of theta):

NNGP   The readout layer is given width N (like the hidden layers) and
       K_hat(x, x') = (1/N) sum_i z^{L+1}_i(x) z^{L+1}_i(x')
       is the empirical second moment of the layer-(L+1) pre-activations; its mean
       over theta tends to K^{L+1} as N -> inf.  (``nngp_conditional`` is the exact
       average of that over the readout layer alone, sw2/N <h_L(x), h_L(x')> + sb2:
       lower variance, same infinite-width limit.)

NTK    For the scalar readout f(x) = z^{L+1}_0(x) (the first readout unit),
       Theta_hat(x, x') = sum over all parameters p of  df(x)/dp  df(x')/dp.
       With h^0 = x, h^l = phi(z^l), N_0 = d and delta^l = df/dz^l (backprop):

           delta^{L+1} = 1 (the scalar output; only readout row 0 is involved)
           delta^l     = phi'(z^l) * ( sigma_w / sqrt(N_l) (W^{l+1})^T delta^{l+1} )

       and, since df/dW^l_ij = delta^l_i sigma_w / sqrt(N_{l-1}) h^{l-1}_j and
       df/db^l_i = sigma_b delta^l_i,

           Theta_hat(x, x') = sum_{l=1}^{L+1} <delta^l(x), delta^l(x')>
                                * ( sw2 / N_{l-1} <h^{l-1}(x), h^{l-1}(x')> + sb2 ).

       As N -> inf the second factor tends to K^l and <delta^l, delta^l'> to
       prod_{k=l}^{L} sw2 Tdot(K^k), which sums to the recursion for Theta^{L+1}.
       ``param_gradients`` gives the per-example gradients explicitly (one array per
       parameter tensor) so the closed formula can be checked against them and both
       against finite differences.

Several depths share one draw: the weights W^1 .. W^{Lmax+1} are drawn once, and the
depth-L network uses W^1 .. W^L as hidden layers and W^{L+1} as its readout.  Each
depth is then an exact sample of a depth-L network (the samples at different depths
are correlated, which does not matter for means over independent draws).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

# --------------------------------------------------------------------------- activations
SQRT2 = math.sqrt(2.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sigmoid(x):
    return special.expit(x)


def activation_fns(name: str, slope: float = 0.01):
    """(phi, phi') as numpy ufunc-like callables for the activation ``name``."""
    if name == "tanh":
        def dtanh(x):
            t = np.tanh(x)
            return 1.0 - t * t
        return np.tanh, dtanh
    if name == "erf":
        return special.erf, lambda x: TWO_OVER_SQRT_PI * np.exp(-x * x)
    if name == "relu":
        return (lambda x: np.maximum(x, 0.0)), (lambda x: (x > 0).astype(x.dtype))
    if name == "leaky_relu":
        return (lambda x: np.where(x > 0, x, slope * x)), (lambda x: np.where(x > 0, 1.0, slope))
    if name == "linear":
        return (lambda x: x), (lambda x: np.ones_like(x))
    if name == "abs":
        return np.abs, (lambda x: np.where(x > 0, 1.0, -1.0).astype(x.dtype))
    if name == "sin":
        return np.sin, np.cos
    if name == "sigmoid":
        return _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))
    if name == "softplus":
        return (lambda x: np.logaddexp(0.0, x)), _sigmoid
    if name == "gelu":
        return (lambda x: x * special.ndtr(x)), (
            lambda x: special.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))
    if name == "silu":
        return (lambda x: x * _sigmoid(x)), (lambda x: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x))))
    if name == "elu":
        return (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))), (
            lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0))))
    raise ValueError(f"unknown activation {name!r}")


# --------------------------------------------------------------------------- the network
@dataclass
class MLP:
    """Weights of one random network; ``weights[k]``, ``biases[k]`` belong to layer k + 1.

    ``weights[k]`` has shape (N_{k+1}, N_k) with N_0 = d.  A network built by
    ``MLP.sample(d, width, max_depth, ...)`` has max_depth + 1 layers, all of width
    ``width`` (the last one serves as the readout of the depth-``max_depth`` network).
    """

    weights: list
    biases: list
    sw2: float
    sb2: float

    @classmethod
    def sample(cls, d, width, max_depth, sw2, sb2, rng, *, readout_width=None, draw_dtype=np.float32):
        """W, b ~ N(0, 1): layers 1..max_depth of width ``width``, readout of ``readout_width``.

        ``draw_dtype`` float32 draws the Gaussians twice as fast (the distribution is
        still N(0, 1) to float32 resolution); all arithmetic is float64.
        """
        widths = [d] + [width] * max_depth + [width if readout_width is None else readout_width]
        ws, bs = [], []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            ws.append(rng.standard_normal((n_out, n_in), dtype=draw_dtype).astype(np.float64))
            bs.append(rng.standard_normal(n_out, dtype=draw_dtype).astype(np.float64))
        return cls(ws, bs, float(sw2), float(sb2))

    @property
    def max_depth(self) -> int:
        return len(self.weights) - 1

    def forward(self, X, activation, slope=0.01, upto=None):
        """Pre-activations z^1 .. z^{upto} and layer inputs h^0 = X, h^1, .., h^{upto-1}.

        Rows of X are inputs (m x d); z^l has shape (m, N_l).  ``upto`` defaults to
        max_depth + 1 (the readout of the deepest network).
        """
        phi, _ = activation_fns(activation, slope)
        upto = len(self.weights) if upto is None else upto
        sw, sb = math.sqrt(self.sw2), math.sqrt(self.sb2)
        hs = [np.asarray(X, dtype=np.float64)]
        zs = []
        for k in range(upto):
            W, b = self.weights[k], self.biases[k]
            z = (sw / math.sqrt(W.shape[1])) * (hs[-1] @ W.T) + sb * b
            zs.append(z)
            if k + 1 < upto:
                hs.append(phi(z))
        return zs, hs

    # ----------------------------------------------------------------- kernels
    def deltas(self, zs, depth, activation, slope=0.01, unit=0):
        """delta^l = df/dz^l, l = 1..depth+1, for f = z^{depth+1}_unit (rows: inputs)."""
        _, dphi = activation_fns(activation, slope)
        sw = math.sqrt(self.sw2)
        m = zs[0].shape[0]
        delta = np.ones((m, 1))  # df/dz^{L+1}_unit
        Wout = self.weights[depth][unit:unit + 1]  # (1, N_L): the readout row
        out = [delta]
        W = Wout
        for layer in range(depth, 0, -1):  # delta^layer from delta^{layer+1}
            g = (sw / math.sqrt(W.shape[1])) * (delta @ W)  # (m, N_layer)
            delta = dphi(zs[layer - 1]) * g
            out.append(delta)
            W = self.weights[layer - 1]
        return out[::-1]  # delta^1 .. delta^{L+1}

    def ntk(self, X, depth, activation, slope=0.01, unit=0, cache=None):
        """Empirical NTK (m x m) of the scalar output z^{depth+1}_unit, closed formula."""
        zs, hs = cache if cache is not None else self.forward(X, activation, slope, upto=depth + 1)
        ds = self.deltas(zs, depth, activation, slope, unit)
        theta = np.zeros((hs[0].shape[0],) * 2)
        for layer in range(1, depth + 2):
            h = hs[layer - 1]
            k = self.sw2 / h.shape[1] * (h @ h.T) + self.sb2
            d = ds[layer - 1]
            theta += (d @ d.T) * k
        return theta

    def nngp(self, X, depth, activation, slope=0.01, cache=None):
        """(1/N) sum_i z^{L+1}_i(x) z^{L+1}_i(x'): empirical second moment of the readout layer."""
        zs, _ = cache if cache is not None else self.forward(X, activation, slope, upto=depth + 1)
        z = zs[depth]
        return z @ z.T / z.shape[1]

    def nngp_conditional(self, X, depth, activation, slope=0.01, cache=None):
        """sw2/N_L <h^L(x), h^L(x')> + sb2: the NNGP averaged over the readout layer only."""
        _, hs = cache if cache is not None else self.forward(X, activation, slope, upto=depth + 1)
        h = hs[depth]
        return self.sw2 / h.shape[1] * (h @ h.T) + self.sb2

    def kernels(self, X, depths, activation, slope=0.01):
        """{depth: (K_hat, Theta_hat)} for every depth in ``depths`` from one forward pass."""
        depths = sorted(set(int(L) for L in depths))
        if depths[0] < 1 or depths[-1] > self.max_depth:
            raise ValueError(f"depths must be in 1..{self.max_depth}")
        _, dphi = activation_fns(activation, slope)
        zs, hs = self.forward(X, activation, slope, upto=depths[-1] + 1)
        # zs[l-1] = z^l (l = 1..Lmax+1), hs[l] = h^l (l = 0..Lmax).  The depth-L network
        # uses layers 1..L and W^{L+1} as readout, so its NNGP is read from z^{L+1}.
        # Backprop for all depths at once: going down from layer Lmax to 1, the stack D
        # holds delta^l of every depth L >= l; depth L joins at l = L with
        # delta^L = phi'(z^L) * sigma_w/sqrt(N_L) W^{L+1}[0].  Theta_L accumulates
        # <delta^l, delta^l'> * (sw2/N_{l-1} <h^{l-1}, h^{l-1}'> + sb2) over l = 1..L+1.
        sw = math.sqrt(self.sw2)
        m = zs[0].shape[0]
        gram = [self.sw2 / h.shape[1] * (h @ h.T) + self.sb2 for h in hs]  # gram[l] pairs with layer l+1
        theta = {L: gram[L].copy() for L in depths}  # readout layer L+1: delta^{L+1} = 1
        stack_depths, D = [], None
        for layer in range(depths[-1], 0, -1):
            W = self.weights[layer]  # W^{layer+1}: (N_{layer+1}, N_layer)
            scale = sw / math.sqrt(W.shape[1])
            dp = dphi(zs[layer - 1])  # (m, N_layer)
            if stack_depths:
                k = len(stack_depths)
                D = dp[None] * (scale * (D.reshape(k * m, -1) @ W)).reshape(k, m, -1)
            if layer in theta:
                new = (dp * (scale * W[0]))[None]
                D = new if D is None else np.concatenate([D, new], axis=0)
                stack_depths.append(layer)
            for k, L in enumerate(stack_depths):
                theta[L] += (D[k] @ D[k].T) * gram[layer - 1]
        return {L: (zs[L] @ zs[L].T / zs[L].shape[1], theta[L]) for L in depths}

    # ----------------------------------------------------------------- explicit gradients
    def param_gradients(self, x, depth, activation, slope=0.01, unit=0):
        """df/dp for every parameter tensor of the depth-``depth`` network, one input x.

        Returns [dW^1, db^1, ..., dW^{L+1}, db^{L+1}] with the shapes of the parameters
        (the readout tensors are the full W^{L+1}, b^{L+1}; only row ``unit`` is nonzero).
        """
        X = np.asarray(x, dtype=np.float64)[None, :]
        zs, hs = self.forward(X, activation, slope, upto=depth + 1)
        ds = self.deltas(zs, depth, activation, slope, unit)
        sw, sb = math.sqrt(self.sw2), math.sqrt(self.sb2)
        grads = []
        for layer in range(1, depth + 2):
            W = self.weights[layer - 1]
            d = ds[layer - 1][0]
            h = hs[layer - 1][0]
            if layer == depth + 1:  # readout: only row `unit` carries f
                gW = np.zeros_like(W)
                gb = np.zeros(W.shape[0])
                gW[unit] = d[0] * sw / math.sqrt(W.shape[1]) * h
                gb[unit] = sb * d[0]
            else:
                gW = np.outer(d, h) * (sw / math.sqrt(W.shape[1]))
                gb = sb * d
            grads += [gW, gb]
        return grads

    def output(self, X, depth, activation, slope=0.01, unit=0):
        zs, _ = self.forward(X, activation, slope, upto=depth + 1)
        return zs[depth][:, unit]

    def flat_params(self, depth):
        ps = []
        for k in range(depth + 1):
            ps += [self.weights[k], self.biases[k]]
        return ps


def ntk_from_gradients(grads_a, grads_b) -> float:
    """sum over parameters of df(x_a)/dp df(x_b)/dp."""
    return float(sum(np.vdot(ga, gb) for ga, gb in zip(grads_a, grads_b)))


def finite_difference_jacobian(net: MLP, X, depth, activation, slope=0.01, unit=0, eps=1e-6):
    """(m x P) Jacobian of f(X) w.r.t. all parameters of the depth-``depth`` net, central differences."""
    rows = []
    for p in net.flat_params(depth):
        flat = p.reshape(-1)  # a view: perturb in place
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = net.output(X, depth, activation, slope, unit)
            flat[i] = old - eps
            fm = net.output(X, depth, activation, slope, unit)
            flat[i] = old
            rows.append((fp - fm) / (2 * eps))
    return np.array(rows).T


# --------------------------------------------------------------------------- Monte Carlo
def monte_carlo(configs, width, depths, seeds, *, slope=0.01, draw_dtype=np.float32):
    """Empirical kernels over independent networks, for several configurations at once.

    ``configs`` maps a label to (activation, X, sw2, sb2); all X must have the same
    number of columns d.  For each seed one set of N(0, 1) weights (layers
    1..max(depths)+1, width ``width``) is drawn and shared by every configuration
    (common random numbers: sw2, sb2 and phi only enter the forward pass), and every
    depth is read from it.  Returns {label: {depth: (K_samples, Theta_samples)}} with
    arrays of shape (n_seeds, m, m).
    """
    depths = sorted(set(int(L) for L in depths))
    dims = {np.shape(c[1])[1] for c in configs.values()}
    if len(dims) != 1:
        raise ValueError("all configurations must share the input dimension")
    d = dims.pop()
    acc = {name: {L: ([], []) for L in depths} for name in configs}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        base = MLP.sample(d, width, depths[-1], 1.0, 0.0, rng, draw_dtype=draw_dtype)
        for name, (activation, X, sw2, sb2) in configs.items():
            net = MLP(base.weights, base.biases, float(sw2), float(sb2))
            for L, (k, t) in net.kernels(np.asarray(X, dtype=np.float64), depths, activation, slope).items():
                acc[name][L][0].append(k)
                acc[name][L][1].append(t)
    return {name: {L: (np.array(k), np.array(t)) for L, (k, t) in per.items()} for name, per in acc.items()}


def diagonal_ntk_samples(activation, x, sw2, sb2, width, depths, seeds, *, slope=0.01, draw_dtype=np.float32):
    """Samples of Theta(x, x) for one input x: {depth: array over seeds} (for the randomness ratio)."""
    out = monte_carlo({"x": (activation, np.asarray(x, dtype=np.float64)[None, :], sw2, sb2)},
                      width, depths, seeds, slope=slope, draw_dtype=draw_dtype)["x"]
    return {L: t[:, 0, 0] for L, (_, t) in out.items()}


def randomness_ratio(samples) -> float:
    """E[Theta(x, x)^2] / E[Theta(x, x)]^2 from samples of Theta(x, x) (1 at infinite width)."""
    s = np.asarray(samples, dtype=np.float64)
    return float(np.mean(s * s) / np.mean(s) ** 2)
