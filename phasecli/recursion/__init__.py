"""Kernel recursions, one module per architecture behind one interface.

An engine is built for checked inputs at one (activation, sw2, sb2) point and has
``run(depths)``: one pass over the layers that yields a ``Layer`` at every requested
depth (ascending), holding the scaled train (and test x train) NNGP and NTK blocks,
their deviations from the ordered fixed point where tracked, and error levels for the
spectra.  ``phasecli.ntk`` chooses the engine by architecture and turns layers into
kernels (``kernel_pass``) and spectra (``ntk_spectra``).

- ``fc``: fully connected networks (normalized inputs or data as given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli.errors import InputError


def scale_rows_to_q_star(A: np.ndarray, q_star: float, sw2: float, sb2: float, what: str) -> np.ndarray:
    """Rows of ``A`` rescaled so that the first layer has q^1 = sw2 |x|^2 / d + sb2 = q* (docs/theory.md
    section 4, the default normalization); a row of zeros cannot be scaled (InputError naming ``what``)."""
    target = math.sqrt(A.shape[1] * (q_star - sb2) / sw2)
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    zero = np.flatnonzero(norms == 0.0)
    if zero.size:
        raise InputError(f"{what}: row {zero[0] + 1} is all zeros and cannot be scaled to q* "
                         "(use --no-normalize)", what)
    return A * (target / norms)[:, None]


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


