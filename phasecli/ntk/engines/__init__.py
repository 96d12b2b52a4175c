"""Kernel recursions, one module per architecture behind one interface.

An engine is built for checked inputs at one (activation, sw2, sb2) point and has

- ``run(depths)``: one pass over the layers that yields a ``Layer`` at every requested
  depth (ascending), holding the scaled train (and test x train) NNGP and NTK blocks,
  their deviations from the ordered fixed point where tracked, and error levels for the
  spectra (``Layer.nngp_direct`` gives the dense NNGP block the spectra start from);
- ``kernels(layer, f_th)``: the layer's kernels in absolute units (NTK blocks times
  ``f_th``): (K, Theta, K_test_train, Theta_test_train, Theta deviation, K deviation);
  ``Layer.k_test_diag`` holds the test rows' own NNGP variances K(x, x).
- ``chaotic_prefactors()``: per train input, A(x) (chi_1 - 1) / q* where A(x) chi_1^l is the growth of
  its NTK diagonal in the chaotic phase (1 for every input when every position starts at q*; NaN where
  not defined), from ``phasecli.ntk.engines.limits``: what the chaotic ``kappa_theory`` is made of;
- ``ordered_gap()`` (before ``run``): G with lambda_min ~ l chi_1^l G in the ordered phase, the
  data-dependent factor of ``kappa_limit`` (``limits.ordered_gap``; NaN where not derived).

``phasecli.ntk`` chooses the engine by architecture and turns layers into kernels
(``kernel_pass``) and spectra (``ntk_spectra``) through these calls only.

Engines are registered by architecture name in ``ENGINES`` (the one list of architectures);
each engine module has ``build(activation, X, Xt, sw2, sb2, slope, normalize, q_star, where,
*, architecture, dropout, image_shape, filter_size)`` -> (engine, duplicate pairs, table error),
``check_inputs(architecture, dropout, image_shape, filter_size, dim)`` (usage errors before any
work) and its cost model next to it; an engine has ``positions`` (pixels per image, 1 for fc).

- ``fc``: fully connected networks (normalized inputs or data as given);
- ``cnn``: convolutional networks, CNN-F (flatten) and CNN-P (global average pooling);
- ``resnet``: residual networks with optional pre-LayerNorm (``fixed_point`` False: no q*).

Options of one architecture only (resnet's ``residual_scale`` and ``layer_norm``) travel as one dict
``options`` from the command line to ``check_options(architecture, dropout, image_shape, **options)`` and
``build(..., **options)``; an engine module that appends columns to the rows has
``appended_columns(options, depths)`` -> {column: per-depth array or scalar} (``appended_columns`` below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli.errors import InputError

@dataclass(frozen=True)
class Architecture:
    """What the architecture-agnostic code needs to know about an architecture (one entry per choice)."""

    engine: str  # the engine module of this package
    images: bool = False  # its inputs are images (--image-shape, --filter; a run's cost is estimated first)
    pooled: bool = False  # the readout averages over the image's positions (its kernel is d times smaller off-diagonal)
    singular_hint: str = ""  # what else makes two inputs' kernels coincide (said when the kernel is singular)
    # the mean-field fixed point q* describes it (rows scaled to q*, phase, Table 1 theory); False: rows are
    # scaled to q0, the point's phase, q*, chi_1 and the fixed-point theory columns are empty (NaN)
    fixed_point: bool = True
    options: tuple = ()  # the names of its own options (``options_for``)


ENGINES = {
    "fc": Architecture("fc"),
    "cnn-f": Architecture("cnn", images=True),
    "cnn-p": Architecture("cnn", images=True, pooled=True,
                          singular_hint=" (or circular shifts of each other: pooling forgets the position)"),
    "resnet": Architecture("resnet", fixed_point=False, options=("residual_scale", "layer_norm")),
}
ARCHITECTURES = tuple(ENGINES)

# the kernel tables of a smooth activation are built up to this variance (about 80 sqrt(q) angular modes;
# beyond it minutes and gigabytes): larger q* or first-layer variances are PointError 'q_too_large'
SMOOTH_TABLE_Q_MAX = 2000.0


def appended_columns(architecture: str, options, depths) -> dict:
    """The architecture's own columns of the rows at ``depths`` (empty dict for most)."""
    module = engine_module(architecture)
    hook = getattr(module, "appended_columns", None)
    return {} if hook is None else hook(dict(options or {}), depths)


def options_for(architecture: str, options) -> dict:
    """The entries of ``options`` that ``architecture`` takes (a sweep over several architectures passes
    each its own)."""
    names = ENGINES[architecture].options
    return {k: v for k, v in dict(options or {}).items() if k in names}


def reject_options(architecture: str, options) -> None:
    """InputError when options of another architecture are given (e.g. residual_scale with fc)."""
    if options:
        name = sorted(options)[0]
        raise InputError(f"{name} is an option of residual networks (architecture resnet), not of {architecture}",
                         name)


def pooled_positions(architecture: str, positions: int) -> float:
    """d for a readout that pools over d positions, else 1 (the factor of the large-depth laws)."""
    return float(positions) if ENGINES[architecture].pooled else 1.0


def engine_module(architecture: str):
    """The engine module of ``architecture`` (InputError naming the choices otherwise)."""
    import importlib

    if architecture not in ENGINES:
        raise InputError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}",
                         "architecture")
    return importlib.import_module(f"{__name__}.{ENGINES[architecture].engine}")


def scale_rows_to_q_star(A: np.ndarray, q_star: float, sw2: float, sb2: float, what: str) -> np.ndarray:
    """Rows of ``A`` rescaled so that the first layer has q^1 = sw2 |x|^2 / d + sb2 = q* (docs/theory.md
    section 4, the default normalization); a row of zeros cannot be scaled (InputError naming ``what``)."""
    target = math.sqrt(A.shape[1] * (q_star - sb2) / sw2)
    peak, relative = row_norms(A)
    zero = np.flatnonzero(peak == 0.0)
    if zero.size:
        raise InputError(f"{what}: row {zero[0] + 1} is all zeros and cannot be scaled to q* "
                         "(use --no-normalize)", what)
    # (A / peak) / relative has unit norm for any representable row, 1e-300 or 1e300 alike
    return (A / peak[:, None]) * (target / relative)[:, None]


def check_position_scalable(A: np.ndarray, image_shape, what: str):
    """(pixels, peak, relative): the rows of A as pixels (channel vectors) and their norms (``row_norms``);
    InputError naming the row and the pixel when a pixel is all zeros (it cannot be scaled to q*)."""
    height, width, channels = (int(v) for v in image_shape)
    pixels = A.reshape(A.shape[0] * height * width, channels)
    peak, relative = row_norms(pixels)
    zero = np.flatnonzero(peak == 0.0)
    if zero.size:
        row, pos = divmod(int(zero[0]), height * width)
        raise InputError(f"{what}: row {row + 1} has a zero pixel at (h, w) = ({pos // width + 1}, {pos % width + 1}) "
                         f"({zero.size} zero pixels in the {A.shape[0]} rows), which cannot be scaled to q* "
                         "position by position (use --normalize example or --no-normalize)", "normalize")
    return pixels, peak, relative


def scale_positions_to_q_star(A: np.ndarray, image_shape, q_star: float, sw2: float, sb2: float,
                              what: str) -> np.ndarray:
    """Rows of images (H, W, C) whose every pixel's channel vector is rescaled to |x(i)|^2 / C = (q* - sb2) / sw2,
    so that every position's first-layer variance sw2 mean_delta |x(i + delta)|^2 / C + sb2 is q* (``--normalize
    position``); a pixel of zeros cannot be scaled (InputError naming the row and the pixel)."""
    channels = int(image_shape[2])
    pixels, peak, relative = check_position_scalable(A, image_shape, what)
    target = math.sqrt(channels * (q_star - sb2) / sw2)
    return ((pixels / peak[:, None]) * (target / relative)[:, None]).reshape(A.shape)


def row_norms(A: np.ndarray):
    """(peak, relative) with |row i| = peak[i] * relative[i], peak = max |A_ij|: no underflow of
    tiny rows (1e-300) nor overflow of huge ones (1e300) in the sum of squares."""
    peak = np.abs(A).max(axis=1) if A.shape[1] else np.zeros(A.shape[0])
    safe = np.where(peak > 0.0, peak, 1.0)
    scaled = A / safe[:, None]
    return peak, np.sqrt(np.einsum("ij,ij->i", scaled, scaled))


def check_first_layer(A: np.ndarray, sw2: float, sb2: float, what: str) -> None:
    """Data used as given (no normalization): the first layer's variance q^1 = sw2 |x|^2 / d + sb2 of
    every row must be a float64 number (InputError naming the row otherwise)."""
    peak, relative = row_norms(A)
    with np.errstate(over="ignore"):
        rms = peak * relative / math.sqrt(max(A.shape[1], 1))
        q1 = sw2 * rms * rms + sb2
    bad = np.flatnonzero(~np.isfinite(q1))
    if bad.size:
        i = int(bad[0])
        log10_q1 = math.log10(sw2) + 2.0 * (math.log10(peak[i]) + math.log10(relative[i])) - math.log10(A.shape[1])
        raise InputError(f"{what}: row {i + 1} gives a first-layer variance sw2 |x|^2 / d ~ 1e{log10_q1:.0f}, "
                         "beyond float64 (1.8e308): rescale the data or keep the default normalization", what)


class PointError(ValueError):
    """A (sw2, sb2) point at which the requested kernel does not exist (q* infinite / zero, sw2 = 0);
    ``status`` names why ('q_infinite', 'q_zero', 'sw2_zero', 'q_too_large', 'unconverged', 'overflow')."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Layer:
    """Internal state after one layer, at a requested depth (scaled quantities)."""

    depth: int
    # NTK, train: Theta / scale (diag included); deviation (normalized) or None
    theta: np.ndarray
    theta_dev: np.ndarray | None
    log_scale: float
    # NNGP, train: K / kscale and its deviation eps (normalized)
    k: np.ndarray
    k_dev: np.ndarray | None
    log_kscale: float
    # dropout shifts of the diagonals (in the scaled units), scalar or per row
    gamma_theta: np.ndarray | float
    gamma_k: np.ndarray | float
    # test x train blocks (scaled as the train blocks), or None
    theta_tt: np.ndarray | None = None
    k_tt: np.ndarray | None = None
    dev_err: float = 0.0  # relative error level of the entries
    dev_abs: float = 0.0  # absolute error floor of the NTK deviation (units of the scale)
    k_dev_abs: float = 0.0  # the same for the NNGP deviation
    # data as given: theta = root root^T - root_a root_b theta_dev (theta_dev relative to sqrt(Theta_aa Theta_bb)),
    # k likewise; *_dev_err: absolute error bound of each deviation entry (None: not tracked)
    theta_root: np.ndarray | None = None
    k_root: np.ndarray | None = None
    theta_dev_err: np.ndarray | None = None
    k_dev_err: np.ndarray | None = None
    # the NNGP variances K(x, x) of the test rows, in the units of ``k`` (exp(log_kscale)), dropout shift included
    # (None without test rows): the initial function's variance of the ensemble predictor
    k_test_diag: np.ndarray | None = None

    def nngp_direct(self) -> np.ndarray:
        """The train NNGP block over exp(log_kscale), dense (from its deviation where ``k`` is not kept)."""
        return 1.0 - self.k_dev if self.k is None else self.k


