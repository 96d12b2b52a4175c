"""Exact two-input sampler: q^L, c^L and Theta(x1, x1) of random networks at O(M) cost per layer.

The networks are those of ``phasecli.finite.network`` (NTK parameterization, docs/theory.md section 1,
"Network and parameterization"; scalar readout), on two inputs with first-layer kernel
K^1 = q^1 [[1, c^1], [c^1, 1]] (``two_inputs`` builds such x1, x2).  Every statistic here is
exact in distribution for a network of width M; no M x M matrix is drawn.

Why this is exact (full derivation in docs/theory.md section 12):

- Layer 1: the rows of W^1 and b^1 are independent, so the pairs (h^1_j(x1), h^1_j(x2)),
  j = 1..M, are i.i.d. N(0, K^1).
- Layer l + 1 given the past: write U = [u1, u2] for an orthonormal basis of the span of the
  activations x^l(x1), x^l(x2), x^l = phi(h^l), and split the fresh Gaussian W = W^{l+1} as
  W U U^T + W (I - U U^T).  Z = W U (M x 2) has i.i.d. N(0, 1) entries and is independent of
  W (I - U U^T).  The forward pass sees W only through W x^l(x_a) = Z U^T x^l(x_a): 2M normals.
- Backpropagation sees W^T delta = U (Z^T delta) + (I - U U^T) W^T delta.  delta = df/dh^{l+1}
  depends on W only through Z (and on later, independent layers), so given everything else
  the last term is N(0, |delta|^2 (I - U U^T)): it is sampled as |delta| (I - U U^T) xi with
  xi ~ N(0, I_M), M more normals.
- Theta(x1, x1) = sum_{l=1}^{L+1} |delta^l|^2 (sw2 / n_{l-1} |x^{l-1}(x1)|^2 + sb2) with
  delta^{L+1} = 1, the first term's factor being q^1 (n_0 = d, x^0 = x1).

All depths come from one stack: the depth-L network uses layers 1..L and its own readout
w_L ~ N(0, I_M).  Its backward pass reuses the layers' xi, which are independent of each
other and of everything in that network, so each depth is exact in distribution (rows at
different depths of one network are correlated, not as in a single deeper network).

Random streams: network i draws ``standard_normal(5 M L_max)`` from
``phasecli.finite.network.network_rng(seed, i)``, layer by layer (layout in
``phasecli.finite.twoinput_kernels``), so a row depends on (seed, network index, width, depth) only: not on
the other depths asked, the chunking, the threads, or the machine the chunk runs on.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from phasecli import validate as V
from phasecli.errors import InputError
from phasecli.finite import twoinput_kernels as K
from phasecli.finite.network import network_rng

MAX_BLOCK_BYTES = 64 * 2**20  # normals held at once per block of networks (at least one network per thread)
MAX_NETWORK_BYTES = 2**30  # per network: 5 L M normals and 4 L M doubles of working arrays


@dataclass
class TwoInputSamples:
    """Per-network statistics, arrays (networks, depths): q = |h^L(x1)|^2 / M, c = cos(h^L(x1), h^L(x2)),
    ntk = Theta(x1, x1) of the depth-L network.  Networks first .. first + n - 1 of ``seed``."""

    activation: str
    sw2: float
    sb2: float
    width: int
    depths: np.ndarray
    q0: float
    c0: float
    seed: int
    first: int
    q: np.ndarray
    c: np.ndarray
    ntk: np.ndarray

    @property
    def samples(self) -> int:
        return int(self.q.shape[0])


def check_inputs(sw2: float, sb2: float, q0: float, c0: float) -> None:
    """InputError unless inputs x1, x2 with q^1 = q0 for both and c^1 = c0 exist at (sw2, sb2):
    q0 >= sb2 and |q0 c0 - sb2| <= q0 - sb2 (and q0 = sb2, c0 = 1 when sw2 = 0)."""
    slack = 1e-12 * max(q0, sb2)
    if q0 < sb2 - slack or (sw2 == 0 and abs(q0 - sb2) > slack):
        raise InputError(f"inputs with q^1 = q0 = {q0:g} and c^1 = c0 = {c0:g} exist only when q0 >= sb2 and "
                         f"|q0 c0 - sb2| <= q0 - sb2; here sb2 = {sb2:g}", "q0")
    if abs(q0 * c0 - sb2) > q0 - sb2 + slack:
        # q0 is possible: the correlation is what cannot be reached
        raise InputError(f"c0 = {c0:g} cannot be reached with q0 = {q0:g} and sb2 = {sb2:g}: the first-layer "
                         f"correlation (sw2 x1.x2 / d + sb2) / q0 lies in [2 sb2 / q0 - 1, 1] = "
                         f"[{2.0 * sb2 / q0 - 1.0:g}, 1]", "c0")


def two_inputs(sw2, sb2, *, q0=1.0, c0=0.5, dim=2) -> np.ndarray:
    """Two inputs (2, dim) with sw2 |x_a|^2 / d + sb2 = q0 and (sw2 x1.x2 / d + sb2) / q0 = c0."""
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    q0 = V.q0(q0)
    c0 = V.number("c0", c0, lo=-1.0, hi=1.0)
    dim = V.integer("dim", dim, lo=2)
    check_inputs(sw2, sb2, q0, c0)
    X = np.zeros((2, dim))
    if sw2 == 0 or q0 <= sb2:
        return X
    radius = math.sqrt(dim * (q0 - sb2) / sw2)
    cos = min(1.0, max(-1.0, (q0 * c0 - sb2) / (q0 - sb2)))
    X[0, 0] = radius
    X[1, 0] = radius * cos
    X[1, 1] = radius * math.sqrt(max(0.0, 1.0 - cos * cos))
    return X


def sample(activation: str, sw2, sb2, *, width, depths, samples, seed=0, first=0, q0=1.0, c0=0.5,
           slope=0.01) -> TwoInputSamples:
    """q, c, Theta(x1, x1) of networks first .. first + samples - 1 of ``seed`` at every depth in ``depths``."""
    code = V.activation(activation).code
    sw2 = V.variance("sw2", sw2)
    sb2 = V.variance("sb2", sb2)
    q0 = V.q0(q0)
    c0 = V.number("c0", c0, lo=-1.0, hi=1.0)
    slope = V.slope(slope)
    width = V.integer("width", width, lo=1)
    samples = V.integer("samples", samples, lo=1)
    seed = V.integer("seed", seed, lo=0)
    first = V.integer("first", first, lo=0)
    depths = V.depths(depths, "depths")
    check_inputs(sw2, sb2, q0, c0)
    lmax = int(depths[-1])
    per_net = K.BLOCK * width * lmax
    if (per_net + 4 * lmax * width) * 8 > MAX_NETWORK_BYTES:
        raise InputError(f"width {width} at depth {lmax} needs {(per_net + 4 * lmax * width) * 8 / 2**30:.1f} GiB "
                         f"per network (limit {MAX_NETWORK_BYTES / 2**30:.0f} GiB): lower --width or --depth", "width")
    threads = max(1, numba.get_num_threads())
    block = max(1, min(samples, max(threads, MAX_BLOCK_BYTES // (8 * per_net))))
    q = np.empty((samples, depths.size))
    c = np.empty_like(q)
    theta = np.empty_like(q)
    z = np.empty((block, per_net))

    def fill(i):  # network first + i's normals into its row (numpy releases the GIL while drawing)
        network_rng(seed, first + i).standard_normal(out=z[i % block])

    with np.errstate(over="ignore", invalid="ignore"), ThreadPoolExecutor(threads) as pool:
        for start in range(0, samples, block):
            stop = min(samples, start + block)
            list(pool.map(fill, range(start, stop)))
            K._batch(code, slope, sw2, sb2, q0, c0, width, depths, z[:stop - start], q[start:stop], c[start:stop],
                     theta[start:stop])
    return TwoInputSamples(activation, sw2, sb2, width, depths, q0, c0, seed, first, q, c, theta)
