"""Finite random networks in the NTK parameterization, many at once (docs/theory.md section 1, "Network and parameterization").

The network (float64, hidden width M in every layer, depth L = number of nonlinearities):

    h^1     = sqrt(sw2 / d) W^1 x + sqrt(sb2) b^1                   W^1: (M, d)
    h^{l+1} = sqrt(sw2 / M) W^{l+1} phi(h^l) + sqrt(sb2) b^{l+1}     l = 1..L-1, W: (M, M)
    f       = h^{L+1} = sqrt(sw2 / M) W^{L+1} phi(h^L) + sqrt(sb2) b^{L+1}   W^{L+1}: (k, M)

and, with ``architecture="resnet"`` (docs/theory.md section 17; depth L = residual blocks, alpha =
``residual_scale``, n the identity or LayerNorm over the features without gain or bias, ``layer_norm``):

    h^0 = sqrt(sw2 / d) W^1 x + sqrt(sb2) b^1
    h^l = h^{l-1} + alpha (sqrt(sw2 / M) W^{l+1} phi(n(h^{l-1})) + sqrt(sb2) b^{l+1})     l = 1..L
    f   = sqrt(sw2 / M) W^{L+2} phi(n(h^L)) + sqrt(sb2) b^{L+2}          (L + 2 weight layers)

with W, b ~ N(0, 1) the *trainable* parameters (gradients and the NTK are taken with respect
to them), ``k = outputs``, phi any activation of the registry (leaky_relu with ``slope``).

API (stable; ``S`` = number of networks, ``m`` inputs, layers numbered l = 1..L+1):

    nets = draw(activation, sw2, sb2, depth=L, width=M, dim=d, outputs=k, samples=S, seed=0,
                weights="gaussian" | "orthogonal", slope=0.01, first=0)     -> Networks
    nets.W[l-1], nets.b[l-1]       raw parameters, (S, fan_out, fan_in) and (S, fan_out)
    nets.scale(l)                  sqrt(sw2 / fan_in(l))
    nets.effective_weight(l)       sqrt(sw2 / fan_in) W^l, (S, fan_out, fan_in)  (for Jacobian products)
    nets.phi(h), nets.dphi(h)      the activation and its derivative, elementwise
    fwd = forward(nets, X)         X: (m, d) shared by all networks, or (S, m, d)
    fwd.pre[l-1]  = h^l  (S, m, n_l), l = 1..L+1;  fwd.outputs = fwd.pre[-1] = f  (S, m, k)
    fwd.post[l]   = phi(h^l) (S, m, M) for l = 1..L;  fwd.post[0] = X as given
    fwd.dphi[l-1] = phi'(h^l) (S, m, M), l = 1..L    (D^l = diag phi'(h^l) for Jacobians)
                                   (resnet: pre = [h^0 .. h^L, f], post[j] = phi(n(pre[j-1])), dphi of n(h),
                                   fwd.normed / fwd.rms = n(h), s with LayerNorm; nets.n_layers weight layers)
    g = backward(nets, fwd, cotangent)     gradient of sum(cotangent * f) per network:
                                           g.W[l-1], g.b[l-1] shaped like nets.W, nets.b
    loss, g = gradients(nets, X, Y)        loss 1/2 sum (f - Y)^2 per network (S,), and its gradient
    loss = gd_step(nets, X, Y, lr)         one gradient-descent step in place; returns the loss before it
    theta = ntk(nets, X[, X2])             exact empirical NTK J J^T over all weights and biases:
                                           (S, m k, m k), row index a * k + j (input a, output j);
                                           with X2: Theta(X, X2) = J(X) J(X2)^T, (S, m k, m2 k)
    diag = ntk_diagonal(nets, X)           Theta((x_a, j), (x_a, j)), (S, m, k): no m k x m k Gram

Random streams (reproducible whatever the threading or chunking): network i (i = first ..
first + S - 1) draws from ``Generator(PCG64(SeedSequence(seed, spawn_key=(i,))))``, the
same stream as ``SeedSequence(seed).spawn(n)[i]``, one ``standard_normal(P)`` call filling
W^1 (row-major), b^1, W^2, b^2, ..., W^{L+1}, b^{L+1}.  So networks 0..99 of a seed are the
same whether drawn as ``samples=100`` or as ``first=0, 50`` and ``first=50, 50``; another seed
gives other draws.  ``weights="orthogonal"``: every square layer (fan_in = fan_out = M: the
hidden layers, and the first layer when d = M, the readout when k = M) takes the Haar matrix Q
of the QR decomposition of its Gaussian draw, with the sign fix Q[:, j] *= sign(R[j, j]), and
W = sqrt(M) Q, so that the effective matrix sqrt(sw2 / M) W is sqrt(sw2) Q; the other layers
and all biases stay Gaussian.

Memory: the weights take S (d M + (L - 1) M^2 + k M) doubles (about 8 S L M^2 bytes);
``ntk`` holds S (m k)^2 doubles for the result plus S m k M per layer; ``draw`` refuses more
than MAX_BYTES of weights.  Cost: forward O(S m L M^2), backward the same, ``ntk`` adds
O(S L (m k)^2 M) and ``ntk_diagonal`` O(S L m k M^2) (one backward pass per output unit).
Every product is one 2-D BLAS GEMM per network (``np.dot`` into preallocated stacks; numpy's
batched ``matmul`` on 3-D stacks, and a 2-D X against 3-D weights, were measured 2-10x slower),
``gd_step`` applies each layer's step as a single in-place ``dgemm`` (W += -lr scale g^T x,
beta = 1: no gradient temporary), and phi, phi' come from one serial numba pass below
``phasecli.finite.network_kernels.PARALLEL_ABOVE`` elements (prange above).  A network at lr = 0 is left
untouched by ``gd_step`` (even when its gradient is not finite).  ``gd_step`` agrees with
``gradients`` followed by p - lr g to ~1 ulp (the scale is folded into the dgemm's alpha).
The products are small (one per network); OpenBLAS's own threads can cost more than
they give there: on 2 busy cores, 16 networks of width 512 on 2 inputs ran 10x faster (3.5x
with m = 200) inside ``threadpoolctl.threadpool_limits(1)``.  This module leaves the BLAS
thread count to the caller.  Orthogonal draws use LAPACK's QR (bitwise the same with 1 and
2 BLAS threads, checked at M = 512).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from phasecli import validate as V
from phasecli.activations import CLOSED_FORM, F_ARCSINE
from phasecli.errors import InputError
from phasecli.finite import network_kernels as K

WEIGHTS = ("gaussian", "orthogonal")
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)  # phi' = (2/sqrt(pi)) exp(-h^2) of the arcsine family (erf)
MAX_BYTES = 8 * 2**30  # weights of all S networks together


def network_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of network ``index`` of ``seed`` (= SeedSequence(seed).spawn(n)[index])."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(index),))


def network_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of network ``index`` of ``seed``."""
    return np.random.Generator(np.random.PCG64(network_seed(seed, index)))


_SERIAL = {}


def _kernel(kernel, size):
    """The prange kernel for large arrays, its serial twin below K.PARALLEL_ABOVE elements."""
    if size > K.PARALLEL_ABOVE:
        return kernel
    if not _SERIAL:
        _SERIAL.update({K._apply_phi: K._apply_phi_serial, K._apply_dphi: K._apply_dphi_serial,
                        K._apply_both: K._apply_both_serial})
    return _SERIAL[kernel]


def _elementwise(kernel, code, h, slope):
    h = np.asarray(h, dtype=np.float64)
    flat = np.ascontiguousarray(h).reshape(-1)
    out = np.empty_like(flat)
    _kernel(kernel, flat.size)(code, flat, float(slope), out)
    return out.reshape(h.shape)


def phi(activation: str, h, *, slope: float = 0.01) -> np.ndarray:
    """phi(h) elementwise (the registry's activation ``activation``)."""
    return _elementwise(K._apply_phi, V.activation(activation).code, h, V.slope(slope))


def dphi(activation: str, h, *, slope: float = 0.01) -> np.ndarray:
    """phi'(h) elementwise."""
    return _elementwise(K._apply_dphi, V.activation(activation).code, h, V.slope(slope))


@dataclass
class Networks:
    """S independent networks with stacked parameters; ``W[l-1]``, ``b[l-1]`` belong to layer l."""

    activation: str
    sw2: float
    sb2: float
    slope: float
    dim: int
    width: int
    depth: int
    outputs: int
    seed: int
    first: int
    weights: str
    W: list = field(repr=False)
    b: list = field(repr=False)
    architecture: str = "fc"  # "fc" or "resnet" (residual blocks after a dense first layer)
    residual_scale: float = 1.0  # resnet: the branch scale alpha (a number; 'depth' is resolved by ``draw``)
    layer_norm: str = "none"  # resnet: "none" or "pre" (LayerNorm before each activation)

    @property
    def resnet(self) -> bool:
        return self.architecture == "resnet"

    @property
    def n_layers(self) -> int:
        """Weight layers: depth + 1 (fc), depth + 2 (resnet: first dense layer, depth blocks, readout)."""
        return len(self.W)

    @property
    def samples(self) -> int:
        return int(self.W[0].shape[0])

    @property
    def code(self) -> int:
        return V.activation(self.activation).code

    def fan_in(self, layer: int) -> int:
        return int(self.W[layer - 1].shape[2])

    def fan_out(self, layer: int) -> int:
        return int(self.W[layer - 1].shape[1])

    def scale(self, layer: int) -> float:
        """sqrt(sw2 / fan_in) of layer ``layer`` (1..n_layers)."""
        return math.sqrt(self.sw2 / self.fan_in(layer))

    def effective_weight(self, layer: int) -> np.ndarray:
        """sqrt(sw2 / fan_in) W^layer, shape (S, fan_out, fan_in) (a new array)."""
        if not 1 <= int(layer) <= self.n_layers:
            raise InputError(f"layer must be in 1..{self.n_layers}, got {layer}", "layer")
        return self.scale(layer) * self.W[layer - 1]

    @property
    def n_parameters(self) -> int:
        """Trainable parameters per network."""
        return int(sum(w[0].size + b[0].size for w, b in zip(self.W, self.b)))

    def parameters(self) -> list:
        """[W^1, b^1, ..., W^{L+1}, b^{L+1}] (the arrays themselves, not copies)."""
        return [p for pair in zip(self.W, self.b) for p in pair]

    def copy(self) -> Networks:
        return self.with_parameters([w.copy() for w in self.W], [b.copy() for b in self.b])

    def with_parameters(self, W, b, first=None) -> Networks:
        """The same networks' description around other parameter stacks (``first``: index of the first)."""
        return Networks(self.activation, self.sw2, self.sb2, self.slope, self.dim, self.width, self.depth,
                        self.outputs, self.seed, self.first if first is None else first, self.weights, W, b,
                        self.architecture, self.residual_scale, self.layer_norm)

    def network(self, i: int) -> Networks:
        """Network i alone (views of its parameters)."""
        return self.with_parameters([w[i:i + 1] for w in self.W], [b[i:i + 1] for b in self.b], self.first + i)

    def phi(self, h) -> np.ndarray:
        return _elementwise(K._apply_phi, self.code, h, self.slope)

    def dphi(self, h) -> np.ndarray:
        return _elementwise(K._apply_dphi, self.code, h, self.slope)

    def _phi_dphi(self, h, p=None, d=None):
        flat = np.ascontiguousarray(h, dtype=np.float64).reshape(-1)
        p = np.empty(h.shape) if p is None else p
        d = np.empty(h.shape) if d is None else d
        code = self.code
        if CLOSED_FORM[code] == F_ARCSINE:  # phi' = 2/sqrt(pi) exp(-h^2) with numpy's vectorized exp: ~10 % faster per layer
            _kernel(K._apply_phi, flat.size)(code, flat, float(self.slope), p.reshape(-1))
            dv = d.reshape(-1)
            np.multiply(flat, flat, out=dv)
            np.negative(dv, out=dv)
            np.exp(dv, out=dv)
            np.multiply(dv, _TWO_OVER_SQRT_PI, out=dv)
            return p, d
        _kernel(K._apply_both, flat.size)(code, flat, float(self.slope), p.reshape(-1), d.reshape(-1))
        return p, d


def draw(activation: str, sw2, sb2, *, depth, width, dim, outputs=1, samples=1, seed=0, weights="gaussian",
         slope=0.01, first=0, architecture="fc", residual_scale=1.0, layer_norm="none") -> Networks:
    """Draw ``samples`` independent networks (see the module docstring for the streams).

    ``architecture='resnet'``: a dense first layer, ``depth`` residual blocks of scale ``residual_scale``
    (a number >= 0, or 'depth' for 1/sqrt(depth)) and a readout, LayerNorm before every activation with
    ``layer_norm='pre'`` (docs/theory.md section 17)."""
    V.activation(activation)
    architecture, residual_scale, layer_norm = check_architecture(architecture, residual_scale, layer_norm, depth,
                                                                  width)
    sw2 = V.variance("sw2", sw2)
    sb2 = V.variance("sb2", sb2)
    slope = V.slope(slope)
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    width = V.integer("width", width, lo=1)
    dim = V.integer("dim", dim, lo=1)
    outputs = V.integer("outputs", outputs, lo=1)
    samples = V.integer("samples", samples, lo=1)
    seed = V.integer("seed", seed, lo=0)
    first = V.integer("first", first, lo=0)
    if weights not in WEIGHTS:
        raise InputError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}", "weights")
    blocks = depth if architecture == "resnet" else depth - 1
    shapes = [(width, dim)] + [(width, width)] * blocks + [(outputs, width)]
    per_net = sum(o * i + o for o, i in shapes)
    if samples * per_net * 8 > MAX_BYTES:
        raise InputError(f"{samples} networks of {per_net:,} parameters need {samples * per_net * 8 / 2**30:.1f} GiB "
                         f"(limit {MAX_BYTES / 2**30:.0f} GiB): use fewer samples or chunks (first=)", "samples")
    W = [np.empty((samples, o, i)) for o, i in shapes]
    b = [np.empty((samples, o)) for o, _ in shapes]
    for s in range(samples):
        flat = network_rng(seed, first + s).standard_normal(per_net)
        offset = 0
        for layer, (o, i) in enumerate(shapes):
            W[layer][s] = flat[offset:offset + o * i].reshape(o, i)
            offset += o * i
            b[layer][s] = flat[offset:offset + o]
            offset += o
    if weights == "orthogonal":
        for layer, (o, i) in enumerate(shapes):
            if o == i:
                W[layer] = math.sqrt(i) * _haar(W[layer])
    return Networks(activation, sw2, sb2, slope, dim, width, depth, outputs, seed, first, weights, W, b,
                    architecture, residual_scale, layer_norm)


ARCHITECTURES = ("fc", "resnet")


def check_architecture(architecture, residual_scale, layer_norm, depth, width):
    """(architecture, alpha, layer_norm) validated: alpha a finite number >= 0 ('depth': 1/sqrt(depth)); the
    residual options only for a resnet; LayerNorm needs width >= 2 (one feature has no variance)."""
    if architecture not in ARCHITECTURES:
        raise InputError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}",
                         "architecture")
    from phasecli.ntk.engines.resnet import check_layer_norm, check_residual_scale, residual_alpha

    scale = check_residual_scale(residual_scale)
    layer_norm = check_layer_norm(layer_norm)
    if architecture == "fc":
        if scale != 1.0 or layer_norm != "none":
            raise InputError("residual_scale and layer_norm are only for architecture='resnet'", "architecture")
        return architecture, 1.0, layer_norm
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    if layer_norm == "pre" and V.integer("width", width, lo=1) < 2:
        raise InputError("LayerNorm needs width >= 2 (it divides by the spread of the features)", "width")
    return architecture, residual_alpha(scale, depth), layer_norm


def layer_norm(h, axis=-1):
    """(n(h), s): LayerNorm of h over ``axis`` (the features), mean subtracted and divided by the root mean
    square s (no gain, no bias; docs/theory.md section 17)."""
    centred = h - np.mean(h, axis=axis, keepdims=True)
    s = np.sqrt(np.mean(centred * centred, axis=axis, keepdims=True))
    return centred / s, s


def layer_norm_back(g, n, s, axis=-1):
    """J_n^T g = J_n g (the Jacobian of LayerNorm is symmetric): (g - mean(g) - n mean(n g)) / s over ``axis``."""
    N = g.shape[axis]
    return (g - np.mean(g, axis=axis, keepdims=True) - n * np.sum(n * g, axis=axis, keepdims=True) / N) / s


def _haar(gaussian: np.ndarray) -> np.ndarray:
    """Haar-orthogonal matrices from stacked square Gaussian ones: Q of QR, columns times sign(diag R)."""
    q, r = np.linalg.qr(gaussian)
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    return q * signs[:, None, :]


@dataclass
class Forward:
    """Every layer of a forward pass: pre-activations h^l, activations phi(h^l), derivatives phi'(h^l)."""

    pre: list
    post: list
    dphi: list
    normed: list = field(default_factory=list)  # resnet with LayerNorm: n(h^l) and its root mean square s, per
    rms: list = field(default_factory=list)  # hidden layer (pre[l-1]); empty otherwise

    @property
    def outputs(self) -> np.ndarray:
        """f = h^{L+1}, shape (S, m, k)."""
        return self.pre[-1]


@dataclass
class Gradients:
    """d(objective)/d(raw parameters), per network: ``W[l-1]``, ``b[l-1]`` shaped like the parameters."""

    W: list
    b: list

    def parameters(self) -> list:
        return [p for pair in zip(self.W, self.b) for p in pair]


def _inputs(nets: Networks, X, name="X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if (X.ndim == 2 and X.shape[1] == nets.dim) or (X.ndim == 3 and X.shape[0] == nets.samples
                                                     and X.shape[2] == nets.dim):
        if X.shape[-2] == 0:
            raise InputError(f"{name} holds no inputs", name)
        if not np.all(np.isfinite(X)):
            raise InputError(f"{name} must be finite", name)
        return X
    raise InputError(f"{name} must have shape (m, {nets.dim}) or ({nets.samples}, m, {nets.dim}), got {X.shape}", name)


def _transpose(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def forward(nets: Networks, X) -> Forward:
    """The forward pass of every network on inputs X ((m, d) shared, or (S, m, d))."""
    X = _inputs(nets, X)
    return _forward(nets, X)


class _Workspace:
    """Reused buffers of ``gd_step`` (its forward pass never leaves the module): fresh ~1 MB arrays
    every step cost page faults that were measured as large as the elementwise work itself."""

    def __init__(self, nets, m):
        S, M, k = nets.samples, nets.width, nets.outputs
        self.key = (m, S, tuple(w.shape for w in nets.W))
        self.pre = [np.empty((S, m, M)) for _ in range(nets.depth)] + [np.empty((S, m, k))]
        self.post = [np.empty((S, m, M)) for _ in range(nets.depth)]
        self.dphi = [np.empty((S, m, M)) for _ in range(nets.depth)]
        self.g = [np.empty((S, m, M)), np.empty((S, m, M))]  # ping-pong cotangents of the backward pass


def _workspace(nets, m):
    ws = nets.__dict__.get("_workspace")
    if ws is None or ws.key != (m, nets.samples, tuple(w.shape for w in nets.W)):
        ws = _Workspace(nets, m)
        nets.__dict__["_workspace"] = ws
    return ws


def _forward(nets, X, ws=None):
    if nets.resnet:
        return _forward_resnet(nets, X)
    # One 2-D GEMM per network (np.dot into a preallocated stack): numpy's batched matmul on
    # (S, m, n) stacks, and above all a 2-D X against 3-D weights, ran several times slower.
    sb = math.sqrt(nets.sb2)
    S = nets.samples
    m = X.shape[-2]
    shared = X.ndim == 2
    pre, post, dphis = [], [X], []
    x = X
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(1, nets.depth + 2):
            W = nets.W[layer - 1]
            h = np.empty((S, m, W.shape[1])) if ws is None else ws.pre[layer - 1]
            for s in range(S):
                np.dot(x if (shared and layer == 1) else x[s], W[s].T, out=h[s])
            h *= nets.scale(layer)
            h += sb * nets.b[layer - 1][:, None, :]
            pre.append(h)
            if layer <= nets.depth:
                if ws is None:
                    x, d = nets._phi_dphi(h)
                else:
                    x, d = nets._phi_dphi(h, ws.post[layer - 1], ws.dphi[layer - 1])
                post.append(x)
                dphis.append(d)
    return Forward(pre, post, dphis)


def _branch(nets, layer, x, S, shared):
    """scale W^layer x + sb b^layer, (S, m, fan_out): one 2-D GEMM per network."""
    W = nets.W[layer - 1]
    z = np.empty((S, x.shape[-2], W.shape[1]))
    for s in range(S):
        np.dot(x if shared else x[s], W[s].T, out=z[s])
    z *= nets.scale(layer)
    z += math.sqrt(nets.sb2) * nets.b[layer - 1][:, None, :]
    return z


def _activate(nets, h, fwd):
    """Append phi(n(h)), phi'(n(h)) (and n(h), s with LayerNorm) to the forward pass."""
    if nets.layer_norm == "pre":
        n, s = layer_norm(h)
        fwd.normed.append(n)
        fwd.rms.append(s)
        h = n
    x, d = nets._phi_dphi(h)
    fwd.post.append(x)
    fwd.dphi.append(d)
    return x


def _forward_resnet(nets, X):
    """h^0 = first layer; h^l = h^(l-1) + alpha branch_l(phi(n(h^(l-1)))), l = 1..L; f = readout of phi(n(h^L)).

    ``pre`` holds h^0 .. h^L and f (pre[j-1] for weight layer j), ``post`` X and phi(n(h^l)), ``dphi``
    phi'(n(h^l)), ``normed`` / ``rms`` n(h^l) and s with LayerNorm (docs/theory.md section 17)."""
    S = nets.samples
    shared = X.ndim == 2
    fwd = Forward([], [X], [])
    alpha = nets.residual_scale
    with np.errstate(over="ignore", invalid="ignore"):
        h = _branch(nets, 1, X, S, shared)
        fwd.pre.append(h)
        x = _activate(nets, h, fwd)
        for layer in range(2, nets.n_layers):
            z = _branch(nets, layer, x, S, False)
            if alpha != 1.0:
                z *= alpha
            h = h + z
            fwd.pre.append(h)
            x = _activate(nets, h, fwd)
        fwd.pre.append(_branch(nets, nets.n_layers, x, S, False))
    return fwd


def _into_stream(nets, fwd, index, g):
    """The cotangent g of phi(n(h)) at hidden layer pre[index] carried to h: J_n^T (phi'(n(h)) g)."""
    g = g * fwd.dphi[index]
    if nets.layer_norm == "pre":
        g = layer_norm_back(g, fwd.normed[index], fwd.rms[index])
    return g


def _backward_resnet(nets, fwd, g, lr=None):
    """Backpropagation through the readout, the residual blocks (skip path plus branch) and the first layer.

    The cotangent of block l's branch output z^l is alpha times that of h^l; h^(l-1) receives h^l's cotangent
    (skip) plus J_n^T phi' scale W^l^T (alpha g_h).  With ``lr``: each layer steps in place after its cotangent
    has gone through its old weights (as ``_backward``)."""
    sb = math.sqrt(nets.sb2)
    S = nets.samples
    alpha = nets.residual_scale
    top = nets.n_layers
    gW, gb = [None] * top, [None] * top
    g_h = None
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(top, 0, -1):
            g_z = g if layer == top else (g_h if layer == 1 else alpha * g_h)
            scale = nets.scale(layer)
            W, x = nets.W[layer - 1], fwd.post[layer - 1]
            db = g_z.sum(axis=1)
            db *= sb
            if layer > 1:
                back = np.empty(fwd.dphi[layer - 2].shape)
                for s in range(S):
                    np.dot(g_z[s], W[s], out=back[s])
                back *= scale
                carried = _into_stream(nets, fwd, layer - 2, back)
                g_h = carried if layer == top else g_h + carried
            _layer_parameters(nets, layer, g_z, x, db, lr, scale, gW, gb)
    return Gradients(gW, gb)


def _layer_parameters(nets, layer, g, x, db, lr, scale, gW, gb):
    """Layer ``layer``'s weight gradient (kept in gW, gb with db) from its output cotangent g and input x, or with
    ``lr`` the step p <- p - lr[s] grad of its W and b, in place."""
    W = nets.W[layer - 1]
    shared = x.ndim == 2
    if lr is None:
        dW = np.empty(W.shape)
        for s in range(nets.samples):
            np.dot(g[s].T, x if shared else x[s], out=dW[s])
        dW *= scale
        gW[layer - 1], gb[layer - 1] = dW, db
    else:
        for s in range(nets.samples):
            _step(W[s], -float(lr[s]) * scale, g[s], x if shared else x[s])
        db *= lr[:, None]
        nets.b[layer - 1] -= db


def backward(nets: Networks, fwd: Forward, cotangent) -> Gradients:
    """Gradient of sum_{a, j} cotangent[s, a, j] f[s, a, j] with respect to every parameter of network s."""
    g = np.asarray(cotangent, dtype=np.float64)
    if g.shape != fwd.outputs.shape:
        raise InputError(f"cotangent must have the shape of the outputs {fwd.outputs.shape}, got {g.shape}",
                         "cotangent")
    return _backward(nets, fwd, g)


def _backward(nets, fwd, g, lr=None, ws=None):
    """Backpropagation of the cotangent g (S, m, k), one 2-D GEMM per network and layer.

    With ``lr`` (S,): no gradients are kept; every layer's parameters take the step
    p <- p - lr[s] * grad right after its gradient is formed (and after the cotangent has
    been carried through its old weights), the same arithmetic as the separate update."""
    if nets.resnet:
        return _backward_resnet(nets, fwd, g, lr)
    sb = math.sqrt(nets.sb2)
    S = nets.samples
    gW, gb = [None] * (nets.depth + 1), [None] * (nets.depth + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(nets.depth + 1, 0, -1):
            scale = nets.scale(layer)
            W, x = nets.W[layer - 1], fwd.post[layer - 1]
            db = g.sum(axis=1)
            db *= sb
            g_next = None
            if layer > 1:  # carried through the weights before they take their step
                g_next = np.empty(fwd.dphi[layer - 2].shape) if ws is None else ws.g[layer % 2]
                for s in range(S):
                    np.dot(g[s], W[s], out=g_next[s])
                g_next *= scale
                g_next *= fwd.dphi[layer - 2]
            _layer_parameters(nets, layer, g, x, db, lr, scale, gW, gb)
            if g_next is not None:
                g = g_next
    return Gradients(gW, gb)


def _step(W, alpha, g, x):
    """W += alpha g^T x in place: one BLAS dgemm with beta = 1 on W^T (Fortran-ordered when W is C-ordered),
    no gradient temporary and no extra pass over W.  alpha = 0 leaves W as it is (a network at lr = 0)."""
    if alpha == 0.0:
        return
    if W.flags.c_contiguous and W.dtype == np.float64:
        out = _dgemm()(alpha, x.T, g, beta=1.0, c=W.T, overwrite_c=1)
        if np.shares_memory(out, W):
            return
    W += alpha * np.dot(g.T, x)


_DGEMM = []


def _dgemm():
    if not _DGEMM:
        from scipy.linalg.blas import dgemm

        _DGEMM.append(dgemm)
    return _DGEMM[0]


def _targets(nets, fwd, Y):
    Y = np.asarray(Y, dtype=np.float64)
    out = fwd.outputs
    if Y.ndim == 1 and nets.outputs == 1:
        Y = Y[:, None]
    if Y.shape not in (out.shape, out.shape[1:]):
        raise InputError(f"Y must have shape {out.shape[1:]} or {out.shape}, got {Y.shape}", "Y")
    if not np.all(np.isfinite(Y)):
        raise InputError("Y must be finite", "Y")
    return Y


def gradients(nets: Networks, X, Y):
    """(loss, Gradients) of the loss 1/2 sum_{a, j} (f_j(x_a) - Y_aj)^2 of each network; loss: (S,)."""
    X = _inputs(nets, X)
    fwd = _forward(nets, X)
    Y = _targets(nets, fwd, Y)
    with np.errstate(over="ignore", invalid="ignore"):
        residual = fwd.outputs - Y
        loss = 0.5 * np.sum(residual * residual, axis=(1, 2))
    return loss, backward(nets, fwd, residual)


def gd_step(nets: Networks, X, Y, lr) -> np.ndarray:
    """One gradient-descent step theta <- theta - lr grad(1/2 sum (f - Y)^2) on every network, in place.

    ``lr``: a number or one per network (S,).  Returns the loss before the step, (S,)."""
    lr = np.asarray(lr, dtype=np.float64)
    if lr.ndim == 0:
        lr = np.full(nets.samples, float(lr))
    if lr.shape != (nets.samples,) or not np.all(np.isfinite(lr)) or np.any(lr < 0):
        raise InputError(f"lr must be a non-negative number or {nets.samples} of them", "lr")
    X = _inputs(nets, X)
    ws = None if nets.resnet else _workspace(nets, X.shape[-2])
    fwd = _forward(nets, X, ws)
    Y = _targets(nets, fwd, Y)
    with np.errstate(over="ignore", invalid="ignore"):
        residual = fwd.outputs - Y
        loss = 0.5 * np.sum(residual * residual, axis=(1, 2))
    _backward(nets, fwd, residual, lr, ws)
    return loss


def _output_deltas(nets, fwd):
    """Yield (layer l, D^l, x^{l-1}) from l = L down to 1: D^l[s, a, j] = df_j(x_a)/dh^l, (S, m, k, n_l)."""
    if nets.resnet:
        yield from _output_deltas_resnet(nets, fwd)
        return
    S, m = fwd.outputs.shape[:2]
    k = nets.outputs
    D = fwd.dphi[-1][:, :, None, :] * nets.effective_weight(nets.depth + 1)[:, None, :, :]
    for layer in range(nets.depth, 0, -1):
        yield layer, D, fwd.post[layer - 1]
        if layer > 1:
            A = nets.effective_weight(layer)
            D = np.matmul(D.reshape(S, m * k, -1), A).reshape(S, m, k, -1) * fwd.dphi[layer - 2][:, :, None, :]


def _output_deltas_resnet(nets, fwd):
    """Yield (layer j, D^j, x^{j-1}) from the last block down to the first layer: D^j[s, a, i] = df_i(x_a)/dz^j
    with z^j the output of layer j's affine map (alpha times the cotangent of the stream in a block)."""
    S, m = fwd.outputs.shape[:2]
    k = nets.outputs
    top = nets.n_layers
    ln = nets.layer_norm == "pre"

    def into(index, D):  # through phi' and LayerNorm's Jacobian at hidden layer pre[index]
        D = D * fwd.dphi[index][:, :, None, :]
        return layer_norm_back(D, fwd.normed[index][:, :, None, :], fwd.rms[index][:, :, None, :]) if ln else D

    Dh = into(top - 2, nets.effective_weight(top)[:, None, :, :])
    for layer in range(top - 1, 0, -1):
        Dz = Dh if layer == 1 else nets.residual_scale * Dh
        yield layer, Dz, fwd.post[layer - 1]
        if layer > 1:
            back = np.matmul(Dz.reshape(S, m * k, -1), nets.effective_weight(layer)).reshape(S, m, k, -1)
            Dh = Dh + into(layer - 2, back)


def _layer_gram(nets, layer, x_a, x_b):
    """sw2 / fan_in <x_a, x_b> + sb2 for the inputs of layer ``layer``: (S, m_a, m_b)."""
    gram = (nets.sw2 / nets.fan_in(layer)) * np.matmul(x_a, _transpose(x_b)) + nets.sb2
    return gram if gram.ndim == 3 else gram[None]


def _self_gram(D):
    """D[s] D[s]^T for a stack (S, n, P): one BLAS dsyrk per network (half the flops of the GEMM), mirrored."""
    from scipy.linalg.blas import dsyrk

    S, n = D.shape[:2]
    out = np.empty((S, n, n))
    for s in range(S):
        # D[s] is C-ordered (n, P), i.e. the Fortran-ordered P x n matrix D[s]^T: C = (D^T)^T (D^T), trans=1
        upper = dsyrk(1.0, D[s].T, trans=1, lower=0)
        out[s] = np.triu(upper)
        out[s] += np.triu(upper, 1).T
    return out


def ntk(nets: Networks, X, X2=None) -> np.ndarray:
    """Exact empirical NTK sum_p df_j(x_a)/dp df_i(x'_b)/dp over all weights and biases of each network.

    Returns Theta(X, X), (S, m k, m k) indexed [a * k + j, b * k + i]; with ``X2``: Theta(X, X2),
    (S, m k, m2 k).  Built layer by layer as sum_l <D^l_a, D^l_b> (sw2 / n_{l-1} <x^{l-1}_a, x^{l-1}_b> + sb2)."""
    X = _inputs(nets, X)
    same = X2 is None
    X2 = X if same else _inputs(nets, X2, "X2")
    k = nets.outputs
    with np.errstate(over="ignore", invalid="ignore"):
        fa = _forward(nets, X)
        fb = fa if same else _forward(nets, X2)
        S, m = fa.outputs.shape[:2]
        m2 = fb.outputs.shape[1]
        readout = _layer_gram(nets, nets.n_layers, fa.post[-1], fb.post[-1])
        theta = readout[:, :, None, :, None] * np.eye(k)[None, None, :, None, :]
        deltas_b = None if same else _output_deltas(nets, fb)
        for layer, Da, xa in _output_deltas(nets, fa):
            Db, xb = (Da, xa) if same else next(deltas_b)[1:]
            gram = _self_gram(Da.reshape(S, m * k, -1)) if same else \
                np.matmul(Da.reshape(S, m * k, -1), _transpose(Db.reshape(S, m2 * k, -1)))
            theta += gram.reshape(S, m, k, m2, k) * _layer_gram(nets, layer, xa, xb)[:, :, None, :, None]
    return theta.reshape(S, m * k, m2 * k)


def ntk_diagonal(nets: Networks, X) -> np.ndarray:
    """Theta((x_a, j), (x_a, j)) = sum_p (df_j(x_a)/dp)^2 of each network, (S, m, k), without the full Gram."""
    X = _inputs(nets, X)
    with np.errstate(over="ignore", invalid="ignore"):
        fwd = _forward(nets, X)
        last = fwd.post[-1]
        diag = np.repeat(((nets.sw2 / nets.width) * np.sum(last * last, axis=-1) + nets.sb2)[:, :, None],
                         nets.outputs, axis=2)
        for layer, D, x in _output_deltas(nets, fwd):
            self_gram = (nets.sw2 / nets.fan_in(layer)) * np.sum(x * x, axis=-1) + nets.sb2
            if self_gram.ndim == 1:
                self_gram = self_gram[None, :]
            diag = diag + np.sum(D * D, axis=-1) * self_gram[:, :, None]
    return diag
