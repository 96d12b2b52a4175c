"""numba kernels of the finite-network simulator: phi and phi' applied elementwise to arrays.

They call the registry's scalar ``_phi`` / ``_dphi`` of ``phasecli.expectations.kernels`` (one definition
of every activation in the package).  Public wrappers: ``phasecli.finite.network.phi`` / ``dphi``.
"""

from __future__ import annotations

from phasecli.activations.functions import dphi as _dphi, phi as _phi
from phasecli.runtime.jit import njit, prange


@njit(cache=True, parallel=True)
def _apply_phi(code, x, slope, out):
    """out[i] = phi(x[i]) for flat float64 arrays (independent elements: no shared writes)."""
    for i in prange(x.size):
        out[i] = _phi(code, x[i], slope)


@njit(cache=True, parallel=True)
def _apply_dphi(code, x, slope, out):
    """out[i] = phi'(x[i]) for flat float64 arrays."""
    for i in prange(x.size):
        out[i] = _dphi(code, x[i], slope)


@njit(cache=True, parallel=True)
def _apply_both(code, x, slope, out_phi, out_dphi):
    """phi and phi' in one pass over a flat float64 array."""
    for i in prange(x.size):
        out_phi[i] = _phi(code, x[i], slope)
        out_dphi[i] = _dphi(code, x[i], slope)


# Serial twins: the simulator's arrays are mostly small (S m M, ~1e5 elements for the
# training bench), where waking numba's thread pool on a busy machine costs more than the
# loop; ``network`` uses these below PARALLEL_ABOVE elements and the prange ones above.
PARALLEL_ABOVE = 1 << 20


@njit(cache=True)
def _apply_phi_serial(code, x, slope, out):
    for i in range(x.size):
        out[i] = _phi(code, x[i], slope)


@njit(cache=True)
def _apply_dphi_serial(code, x, slope, out):
    for i in range(x.size):
        out[i] = _dphi(code, x[i], slope)


@njit(cache=True)
def _apply_both_serial(code, x, slope, out_phi, out_dphi):
    for i in range(x.size):
        out_phi[i] = _phi(code, x[i], slope)
        out_dphi[i] = _dphi(code, x[i], slope)
