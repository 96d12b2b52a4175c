"""NNGP and NTK of deep fully connected networks on a data set, and their spectra.

Numeric core of ``phasecli kappa`` / ``phasecli lr`` (and later ``generalize``): never
prints; bad input raises ``ValueError`` with a one-line message.  Every formula is from
``shared/THEORY.md`` ("NNGP and NTK on a data set"); sw2, sb2 are *variances*.

Kernel convention
-----------------
NTK parameterization, depth L = number of hidden layers::

    K^1     = Theta^1 = sw2 * X X^T / d + sb2
    K^{l+1} = sw2 * T(K^l) + sb2
    Theta^{l+1} = K^{l+1} + sw2 * Tdot(K^l) * Theta^l      (elementwise)

A depth-L network has NNGP K^{L+1} and NTK Theta^{L+1} (the readout layer included), as
neural-tangents' ``stax.serial(*[Dense(W_std=sqrt(sw2), b_std=sqrt(sb2)), phi] * L,
Dense(...))`` with ``parameterization='ntk'``.  The NTK is for the loss
1/2 sum (f - y)^2 over the m training points ("sum loss"): gradient descent converges for
eta < 2 / lambda_max; with the mean loss 1/(2m) sum the bound is 2m / lambda_max.

All requested depths come from ONE pass of the recursion (depth 1000 costs 1000 layers,
not 1 + 2 + ... + 1000).

Normalization (default)
-----------------------
Each row x is rescaled so that q^1 = sw2 |x|^2 / d + sb2 equals q*, the stable fixed
point of the length map reached from ``q0`` (``meanfield.solve_phase``), the setting of
Xiao et al.  Then every diagonal of K^l is q* and the diagonal of Theta^l is
p^l = q* (1 + chi_1 + ... + chi_1^(l-1)); T and Tdot depend on the correlation alone.
A row of zeros cannot be rescaled (ValueError).  Grid points without a usable q* raise
``PointError`` (a ValueError) from ``kernel_pass`` and give an all-NaN ``Spectra`` with
``status`` set from ``ntk_spectra``: q* infinite (relu / leaky_relu / linear with
chi_1 >= 1 and sb2 > 0, elu, ... in their unbounded regime: use ``normalize=False``),
q* = 0 (sb2 = 0 and an odd activation in the ordered phase: the signal dies) and
sw2 = 0 (the inputs never reach the output).

How the kernels are computed
----------------------------
Normalized inputs: a pair is carried as its deviation from the ordered fixed point,
eps = 1 - K_ab / q* and Delta_ab = (p - Theta_ab) / p, next to Theta_ab / p itself:

    eps'   = sw2 D(eps) / q*,          D = T(1) - T(c)       = E[(phi(u1) - phi(u2))^2] / 2
    Delta' = (q* eps' / p + sw2 (E(eps) + Tdot(c) Delta)) / rho,  E = Tdot(1) - Tdot(c)
    (rho = p^{l+1} / p^l; every term is non-negative)

D and E are evaluated without cancellation: closed forms for erf, relu, leaky_relu and
linear; for every other activation Chebyshev tables (16 coefficients on equal panels of
theta = arccos(c) in [0, pi], panel count doubled until the coefficient tails are below
2e-15), built once per (activation, q*), of D / eps and E / eps (E / sin(theta/2) when
phi' jumps, E ~ theta).  Smooth activations (tanh, gelu, silu, softplus, sigmoid, sin):
from the angular Fourier expansion of the 2-D Gaussian integral in polar coordinates,
T(theta) = sum_k P_k cos(k theta) with P_k >= 0, so D = sum_k P_k 2 sin^2(k theta / 2)
is a sum of non-negative terms (FFT in the angle, Gauss-Legendre panels in the radius).
Piecewise ones (elu, selu, hard_tanh): T and Tdot from the piecewise-closed-form
quadrature, then by Price's theorem D = q int_0^theta sin(t) Tdot(t) dt and
E = q int_0^theta sin(t) E[phi''(u1) phi''(u2)](t) dt, the delta functions of phi'' in
closed form.  Each pair is then one table look-up per layer (numba, parallel).

Data as given (``normalize=False``): per-pair (T, Tdot) for the general 2x2 covariance:
closed forms (erf, relu, leaky_relu, linear), the piecewise quadrature of
``phasecli._kernels`` (elu, selu, hard_tanh; ~1e-13), and for smooth activations the
angular Fourier expansion E[phi(u1) phi(u2)] = sum_k w_k cos(k theta) <f_a,k, f_b,k>
with per-row coefficients, summed over all pairs by BLAS (radial Gauss-Legendre panels
and the angular resolution chosen for ~1e-14).  Much slower than the normalized engine
for smooth activations (~0.5 s per layer at m = 300).

Scale: Theta is carried divided by its diagonal p (log p kept separately), so the
chaotic NTK (growing like chi_1^l) never overflows: eigenvalues are reported as
numbers (inf only beyond the float64 range, with log10_lambda_max always finite);
kappa is scale-free.

Precision of lambda_min
-----------------------
In the ordered phase Theta -> p* 11^T and lambda_min -> 0: a plain float64 recursion
loses lambda_min once kappa nears 1/(m eps).  With normalized inputs the spectrum is
computed from the tracked deviation instead once it is small (Householder reflection of
1 onto e_1; the small eigenvalues are those of B - b b^T / a, exact to a relative
|b|^2 / a^2 < 1e-12): kappa stays accurate, for every activation, as deep as the
deviation is representable (eps > 1e-280; checked to 1e-10 against 60-digit
arithmetic at kappa ~ 1e24).  With data as given there is no deviation to track, and
for activations whose phi' jumps (relu, leaky_relu, selu, hard_tanh) Tdot(c) ~
Tdot(1) - J^2 arccos(c) / (2 pi) turns the rounding of c = K_ab / sqrt(K_aa K_bb) near
c = 1 into errors ~ eps / sin(theta) that are tracked.  Wherever the error estimate of
lambda_min exceeds 1e-3 of it, ``resolved`` is False and lambda_min and kappa (and
lambda_bulk if also unresolved) are NaN, never a noise-level number;
``kappa_rel_err`` is the (conservative) estimate.  Rows that coincide after
normalization (or are opposite, for an odd activation with sb2 = 0) make every kernel
exactly singular: ``singular`` is True, lambda_min = 0 and kappa = inf (with dropout
the smallest eigenvalue is exactly the dropout shift).  Other exact singularities
(e.g. a linear network with m > d + 1) show as unresolved rows.

Dropout (``dropout=RHO``, keep rate 0 < RHO <= 1, on the penultimate layer)
---------------------------------------------------------------------------
Inverted dropout on the activations of the last hidden layer, phi(z) * mask / RHO with
mask ~ Bernoulli(RHO), independent per input and unit.  Over the masks,
E[m_a m_b] / RHO^2 is 1/RHO for the same input and 1 for different inputs, and the
backward pass goes through the same mask, so at the last step of the recursion only the
diagonals of T and Tdot*Theta are multiplied by 1/RHO:

    K^{L+1}_aa     += (1/RHO - 1) * sw2 * T_aa
    Theta^{L+1}_aa += (1/RHO - 1) * sw2 * (T_aa + Tdot_aa * Theta^L_aa)

off-diagonals and test-train blocks unchanged.  This is neural-tangents'
``stax.Dropout(RHO, mode='train')`` after the last nonlinearity (its kernel multiplies
the same-input diagonal of both the NNGP and the NTK by 1/rate), which is what the
seed's Figure 1f was computed with.  The dropout layer is applied to the output of every
requested depth; the recursion itself runs without it.  With normalized inputs the
shift is the same for every row, so the spectra are those without dropout plus
gamma = (1/RHO - 1)(q* - sb2 + chi_1 p^L).  Large-depth limit in the ordered phase
(Theta^L -> p* 11^T): kappa -> 1 + m RHO p* / ((1 - RHO)(p* - sb2)), finite
(``kappa_theory``).  (Scaling the diagonal of T alone, without the backward mask, would
give 1 + m RHO p* / ((1 - RHO)(q* - sb2)) instead.)
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from phasecli import _kernels as K
from phasecli import _ntk_kernels as NK
from phasecli import meanfield as mf
from phasecli.activations import SELU_ALPHA, SELU_LAMBDA
from phasecli.activations import get as get_activation

EPS = np.finfo(np.float64).eps
MAX_DEPTH = 1_000_000
RESOLVE_REL = 1e-3  # lambda_min is reported when its error estimate is below this fraction of it
DEV_UNDERFLOW = 1e-280  # deviations below this are too close to the float64 floor to trust
TABLE_DEGREE = 16
TABLE_TOL = 2e-15
SERIAL_PAIRS = 40_000  # below this many entries a layer runs on one thread (launch overhead)

# phi' continuous (T''(1) = q^2 E[phi''^2] finite): critical off-diagonal ratio 1/3;
# phi' with a jump (kink of phi): 1/4 (derived in kappa_theory, checked by the tests)
_PHI_PRIME_JUMPS = ("relu", "leaky_relu", "selu", "hard_tanh")


class PointError(ValueError):
    """A (sw2, sb2) point at which the requested kernel does not exist (q* infinite / zero, sw2 = 0)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


# =============================================================================== input
def _check_matrix(x, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a numeric array") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (one input per row), got {arr.ndim} dimensions")
    if arr.shape[0] == 0:
        raise ValueError(f"{what} has no rows")
    if arr.shape[1] == 0:
        raise ValueError(f"{what} has no columns")
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{what}: row {r + 1}, column {c + 1} is {arr[r, c]!r} (NaN and inf are not allowed)")
    return np.ascontiguousarray(arr)


def _parse_csv(text: str, name: str) -> np.ndarray:
    rows = []
    width = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        cells = [c.strip() for c in s.split(",")]
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise ValueError(f"{name}: line {lineno} has {len(cells)} values, expected {width} (ragged CSV)")
        vals = []
        for col, cell in enumerate(cells, start=1):
            try:
                v = float(cell)
            except ValueError:
                shown = cell if len(cell) <= 20 else cell[:17] + "..."
                raise ValueError(f"{name}: line {lineno}, column {col}: {shown!r} is not a number "
                                 f"(no header line allowed)") from None
            if not math.isfinite(v):
                raise ValueError(f"{name}: line {lineno}, column {col} is {cell!r} (NaN and inf are not allowed)")
            vals.append(v)
        rows.append(vals)
    if not rows:
        raise ValueError(f"{name}: no data rows")
    return np.array(rows, dtype=np.float64)


def load_data(source) -> np.ndarray:
    """Inputs as an (m, d) float64 array, one input per row.

    ``source``: a path to a CSV file (comma-separated numbers, no header, blank lines
    ignored) or a ``.npy`` file; ``'-'`` for CSV on stdin; or a text stream.  Ragged
    rows, non-numeric cells, NaN / inf and empty input raise ValueError naming the line.
    A 1-D ``.npy`` array is read as one feature per row.
    """
    if hasattr(source, "read"):
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return _parse_csv(text, getattr(source, "name", "<stream>"))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            return _parse_csv(sys.stdin.read(), "<stdin>")
        if not os.path.exists(path):
            raise ValueError(f"{path}: no such file")
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a directory")
        if path.lower().endswith(".npy"):
            try:
                arr = np.load(path, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
                raise ValueError(f"{path}: not a readable .npy array ({exc.__class__.__name__})") from None
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"{path}: array of dtype {arr.dtype} is not numeric")
            return _check_matrix(arr, path)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from None
        return _parse_csv(text, path)
    return _check_matrix(source, "data")


def synthetic_data(m: int, dim: int, seed: int = 0) -> np.ndarray:
    """m standard normal inputs of dimension dim (numpy default_rng(seed)): reproducible."""
    m, dim = int(m), int(dim)
    if m < 1 or dim < 1:
        raise ValueError(f"synthetic data needs m >= 1 and dim >= 1, got m={m}, dim={dim}")
    return np.random.default_rng(int(seed)).standard_normal((m, dim))


def parse_depths(spec) -> np.ndarray:
    """Depths from '1,2,5,10', '1:60' (inclusive, step 1), 'START:STOP:STEP' or a mix
    '1:10,20,50:100:10'; positive integers, returned sorted and unique (int64)."""
    if isinstance(spec, (int, np.integer)):
        items = [str(int(spec))]
    elif isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
    else:
        items = [str(v) for v in spec]
    out = []
    for item in items:
        if not item:
            raise ValueError(f"depths: empty item in {spec!r}")
        parts = item.split(":")
        if len(parts) > 3:
            raise ValueError(f"depths: {item!r} is not N, START:STOP or START:STOP:STEP")
        nums = []
        for p in parts:
            p = p.strip()
            try:
                v = float(p)
            except ValueError:
                raise ValueError(f"depths: {p!r} is not an integer") from None
            if not math.isfinite(v) or v != int(v):
                raise ValueError(f"depths: {p!r} is not an integer")
            nums.append(int(v))
        if len(nums) == 1:
            vals = nums
        else:
            start, stop = nums[0], nums[1]
            step = nums[2] if len(nums) == 3 else 1
            if step <= 0:
                raise ValueError(f"depths: step must be positive in {item!r}")
            if stop < start:
                raise ValueError(f"depths: {item!r} is empty (STOP < START)")
            if (stop - start) // step > MAX_DEPTH:
                raise ValueError(f"depths: {item!r} has too many values")
            vals = list(range(start, stop + 1, step))
        for v in vals:
            if v <= 0:
                raise ValueError(f"depths must be positive integers (number of hidden layers), got {v}")
            if v > MAX_DEPTH:
                raise ValueError(f"depth {v} exceeds the limit {MAX_DEPTH}")
        out.extend(vals)
    if not out:
        raise ValueError("depths: nothing given")
    return np.unique(np.asarray(out, dtype=np.int64))


def _depth_array(depths) -> np.ndarray:
    if isinstance(depths, str):
        return parse_depths(depths)
    arr = np.atleast_1d(np.asarray(depths))
    if arr.size == 0:
        raise ValueError("depths: nothing given")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError("depths must be positive integers")
    elif arr.dtype.kind not in "iu":
        raise ValueError("depths must be positive integers")
    arr = arr.astype(np.int64)
    if np.any(arr <= 0):
        raise ValueError(f"depths must be positive integers (number of hidden layers), got {arr[arr <= 0][0]}")
    if np.any(arr > MAX_DEPTH):
        raise ValueError(f"depth {arr.max()} exceeds the limit {MAX_DEPTH}")
    return np.unique(arr)


def _scalar(name, v, lo=0.0):
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if not math.isfinite(v) or v < lo:
        raise ValueError(f"{name} is a variance and must be a finite number >= {lo:g}, got {v!r}")
    return v


def _check_dropout(dropout):
    if dropout is None:
        return None
    try:
        rho = float(dropout)
    except (TypeError, ValueError):
        raise ValueError("dropout (keep rate) must be a number in (0, 1]") from None
    if not (0.0 < rho <= 1.0):
        raise ValueError(f"dropout is the keep rate RHO and must lie in (0, 1], got {dropout!r}")
    return rho


# =============================================================================== angular expansion
def _radial_rule(s_max: float, code: int):
    """Gauss-Legendre panels on r in [0, 9] for the weight r exp(-r^2/2) (2-D Gaussian radius).

    Panels start at min(0.75, 1/sqrt(s)) and grow geometrically (x1.6) up to width 0.75;
    for sin (oscillatory at every radius) the width stays below 1/sqrt(s).
    Returns nodes r and weights W (density and Jacobian included: sum W = 1).
    """
    sq = math.sqrt(max(s_max, 1e-300))
    cap = 0.75
    if code == K.SIN:
        cap = min(cap, 1.0 / sq)
    r = min(cap, 1.0 / sq)
    bps = [0.0, r]
    while r < 9.0:
        r = min(9.0, r + min(cap, 0.6 * r))
        bps.append(r)
    x, w = np.polynomial.legendre.leggauss(16)
    bps = np.asarray(bps)
    a, b = bps[:-1, None], bps[1:, None]
    rs = (0.5 * (b - a) * (x + 1.0) + a).ravel()
    ws = (0.5 * (b - a) * w).ravel()
    return rs, ws * rs * np.exp(-0.5 * rs * rs)


def _angular_coefficients(code, slope, scales, rs, n_angles, kmax=None):
    """Fourier cosine coefficients in psi of phi(s r cos psi) and phi'(s r cos psi).

    Returns (f, g), arrays (len(scales), len(rs), kmax) (kmax defaults to n_angles // 2 + 1).
    """
    psi = 2.0 * np.pi * np.arange(n_angles) / n_angles
    cospsi = np.cos(psi)
    na = scales.shape[0]
    nr = rs.shape[0]
    nk = n_angles // 2 + 1 if kmax is None else min(kmax, n_angles // 2 + 1)
    f = np.empty((na, nr, nk))
    g = np.empty((na, nr, nk))
    chunk = max(1, int(2_000_000 // max(1, nr * n_angles)))
    fs = np.empty((min(chunk, na), nr, n_angles))
    gs = np.empty((min(chunk, na), nr, n_angles))
    for lo in range(0, na, chunk):
        hi = min(na, lo + chunk)
        NK._angular_samples(code, slope, np.ascontiguousarray(scales[lo:hi]), rs, cospsi, fs[:hi - lo], gs[:hi - lo])
        f[lo:hi] = np.fft.rfft(fs[:hi - lo], axis=2)[:, :, :nk].real / n_angles
        g[lo:hi] = np.fft.rfft(gs[:hi - lo], axis=2)[:, :, :nk].real / n_angles
    return f, g


def _angular_resolution(code, slope, s_max, rs, w):
    """Angle count N (power of 2) and mode count K for the angular expansion at variance s_max.

    Mode k of the expansion contributes P_k = sum_j w_j f_jk^2 (w: radial weights), so
    the coefficients are judged weighted by sqrt(w_j): N doubles until the top eighth of
    the weighted modes is below 1e-12 of the largest (aliasing), and K drops the modes
    below 1e-12: P_k < 1e-24 relative, and k^2 P_k (D/eps near c = 1) < 1e-18 for k < 1e3.
    """
    scale = np.array([math.sqrt(max(s_max, 0.0))])
    sw = np.sqrt(w)[:, None]
    n = 32
    while True:
        f, g = _angular_coefficients(code, slope, scale, rs, n)
        ok = True
        kmax = 1
        for h in (f, g):
            a = (np.abs(h[0]) * sw).max(axis=0)
            top = a.max()
            if top == 0.0:
                continue
            if a[-(n // 8):].max() > 1e-12 * top:
                ok = False
            big = np.nonzero(a > 1e-12 * top)[0]
            kmax = max(kmax, int(big[-1]) + 1 if big.size else 1)
        if ok or n >= 1 << 16:
            return n, kmax
        n *= 2


# =============================================================================== normalized tables
@dataclass
class _NormFunctions:
    """T, Tdot, D = T(1) - T(c), E = Tdot(1) - Tdot(c) at equal variance q, as the kernels use them."""

    method: int
    code: int
    q: float
    slope: float
    t1: float
    td1: float
    bps: np.ndarray
    cd: np.ndarray
    c2: np.ndarray
    mode2: int
    error: float  # estimated absolute error of the tabulated T, Tdot (relative to T(1), Tdot(1))
    dev_relative: bool  # E has relative accuracy (deviation tracking exact)

    def values(self, eps):
        """(T, Tdot, D, E) at correlations c = 1 - eps: array (len(eps), 4)."""
        eps = np.ascontiguousarray(np.atleast_1d(np.asarray(eps, dtype=np.float64)))
        out = np.empty((eps.size, 4))
        if self.method == NK.M_CLOSED:
            NK._closed_values(self.code, self.q, self.slope, eps, out)
        else:
            NK._table_values(self.bps, self.cd, self.c2, self.mode2, self.t1, self.td1, eps, out)
        return out


_CHEB_X = np.cos(np.pi * (np.arange(TABLE_DEGREE) + 0.5) / TABLE_DEGREE)
_CHEB_M = (2.0 / TABLE_DEGREE) * np.cos(np.pi * np.outer(np.arange(TABLE_DEGREE), np.arange(TABLE_DEGREE) + 0.5)
                                        / TABLE_DEGREE)
_CHEB_M[0] *= 0.5


def _cheb_fit(vals):
    """Chebyshev coefficients (last axis) from values at _CHEB_X."""
    return vals @ _CHEB_M.T


def _fit_panels(func, nfun, tol=TABLE_TOL, start=8, max_panels=4096):
    """Chebyshev tables of degree TABLE_DEGREE - 1 on equal panels of [0, pi].

    func(thetas) -> (nfun, len) values.  The panel count doubles until, on every panel,
    the last three coefficients of every function are below tol * (its largest |value|).
    Returns (bps, coefs[nfun], tail) with tail the largest such ratio.
    """
    npan = start
    while True:
        bps = np.linspace(0.0, np.pi, npan + 1)
        lo, hi = bps[:-1, None], bps[1:, None]
        th = (0.5 * (lo + hi) + 0.5 * (hi - lo) * _CHEB_X[None, :]).ravel()
        vals = np.asarray(func(th), dtype=float).reshape(nfun, npan, TABLE_DEGREE)
        if not np.all(np.isfinite(vals)):
            raise FloatingPointError("non-finite table values")
        scale = np.maximum(np.abs(vals).max(axis=(1, 2)), 1e-300)
        coef = _cheb_fit(vals)  # (nfun, npan, deg)
        tail = float((np.abs(coef[:, :, -3:]).max(axis=(1, 2)) / scale).max())
        if tail <= tol or npan >= max_panels:
            return bps, [np.ascontiguousarray(c) for c in coef], tail
        npan *= 2


def _chebval_panels(bps, coef, th):
    """Evaluate a panel Chebyshev table at thetas (vectorized numpy, for table building)."""
    p = np.clip(np.searchsorted(bps, th, side="right") - 1, 0, len(bps) - 2)
    lo, hi = bps[p], bps[p + 1]
    x = np.clip((2.0 * th - lo - hi) / (hi - lo), -1.0, 1.0)
    c = coef[p]  # (n, deg)
    b1 = np.zeros_like(th)
    b2 = np.zeros_like(th)
    for k in range(c.shape[1] - 1, 0, -1):
        b1, b2 = 2.0 * x * b1 - b2 + c[:, k], b1
    return x * b1 - b2 + c[:, 0]


_TABLE_CACHE: dict = {}


def _norm_functions(activation: str, q: float, slope: float) -> _NormFunctions:
    act = get_activation(activation)
    code = act.code
    key = (code, float(q), float(slope) if code == K.LEAKY else 0.0)
    hit = _TABLE_CACHE.get(key)
    if hit is not None:
        return hit
    empty = np.zeros((1, 1))
    bps0 = np.array([0.0, np.pi])
    if act.kind == "closed":
        out = np.empty((1, 4))
        NK._closed_values(code, q, slope, np.zeros(1), out)
        fn = _NormFunctions(NK.M_CLOSED, code, q, slope, out[0, 0], out[0, 1], bps0, empty, empty, 0, 4 * EPS, True)
    elif act.kind == "smooth":
        fn = _smooth_table(code, q, slope)
    else:
        fn = _kinked_table(code, q, slope)
    if len(_TABLE_CACHE) > 256:
        _TABLE_CACHE.clear()
    _TABLE_CACHE[key] = fn
    return fn


def _angular_spectrum(code, q, slope):
    """P_k, Q_k with T(theta) = sum_k P_k cos(k theta), Tdot(theta) = sum_k Q_k cos(k theta)."""
    rs, w = _radial_rule(q, code)
    n, kmax = _angular_resolution(code, slope, q, rs, w)
    f, g = _angular_coefficients(code, slope, np.array([math.sqrt(q)]), rs, n)
    p = (w[:, None] * f[0] ** 2).sum(axis=0)
    qq = (w[:, None] * g[0] ** 2).sum(axis=0)
    mult = np.full(p.shape, 2.0)
    mult[0] = 1.0
    if n % 2 == 0:
        mult[-1] = 1.0
    p *= mult
    qq *= mult
    return p[:kmax], qq[:kmax]


def _smooth_table(code, q, slope) -> _NormFunctions:
    p, qq = _angular_spectrum(code, q, slope)
    k = np.arange(p.size, dtype=float)
    t1 = float(p.sum())
    td1 = float(qq.sum())

    def ratio2(th):
        # (sin(k th / 2) / sin(th / 2))^2 -> k^2 at th = 0
        h = 0.5 * np.asarray(th)
        s = np.sin(h)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.sin(np.outer(h, k)) / s[:, None]
        small = s == 0.0
        if small.any():
            r[small] = k
        return r * r

    def func(th):
        r2 = ratio2(th)
        return np.stack([r2 @ p, r2 @ qq])

    bps, (cd, ce), tail = _fit_panels(func, 2)
    # consistency: T(theta) = sum P_k cos k theta against T(1) - eps * gD
    th = np.linspace(0.0, np.pi, 257)
    t_direct = np.cos(np.outer(th, k)) @ p
    eps = 2.0 * np.sin(0.5 * th) ** 2
    t_tab = t1 - eps * _chebval_panels(bps, cd, th)
    err = float(np.abs(t_direct - t_tab).max() / max(abs(t1), 1e-300))
    err = max(err, tail, 4 * EPS)
    return _NormFunctions(NK.M_TABLE, code, q, slope, t1, td1, bps, cd, ce, 0, err, True)


def _kinked_table(code, q, slope) -> _NormFunctions:
    """elu, selu, hard_tanh: T, Tdot from the piecewise quadrature; D and E by Price's theorem,

        D(theta) = q int_0^theta sin(t) Tdot(t) dt,   E(theta) = q int_0^theta G(t) dt,
        G(t) = sin(t) E[phi''(u1) phi''(u2)]  (delta functions of phi'' in closed form),

    integrated on Chebyshev interpolants: non-negative integrands near theta = 0, so D and
    E keep full relative accuracy.  E ~ eps for elu (phi' continuous) and ~ theta when
    phi' jumps (selu, hard_tanh): tabulated as E / eps or E / sin(theta / 2)."""
    def nodes(th):
        th = np.ascontiguousarray(np.asarray(th, dtype=float))
        t = np.empty(th.size)
        td = np.empty(th.size)
        g = np.empty(th.size)
        NK._kinked_nodes(code, q, th, slope, t, td)
        NK._kinked_g_nodes(code, q, th, g)
        return np.stack([t, td, g])

    t0 = nodes(np.zeros(1))
    t1, td1 = float(t0[0, 0]), float(t0[1, 0])
    bps, (ct, ctd, cg), tail = _fit_panels(nodes, 3)
    xg, wg = np.polynomial.legendre.leggauss(40)
    npan = len(bps) - 1
    starts, ends = bps[:-1], bps[1:]
    th_nodes = 0.5 * (starts + ends)[:, None] + 0.5 * (ends - starts)[:, None] * _CHEB_X[None, :]

    def cumulative(coef, with_sin):
        """q int_0^theta f(t) [sin t] dt at every node, f the panel interpolant."""
        def integral(a, b):
            t = 0.5 * (b - a)[:, None] * (xg + 1.0) + a[:, None]
            vals = _chebval_panels(bps, coef, t.ravel()).reshape(t.shape)
            if with_sin:
                vals = vals * np.sin(t)
            return q * 0.5 * (b - a) * (vals @ wg)

        cum = np.concatenate([[0.0], np.cumsum(integral(starts, ends))])
        part = integral(np.repeat(starts, TABLE_DEGREE), th_nodes.ravel()).reshape(npan, TABLE_DEGREE)
        return cum[:-1, None] + part

    d_nodes = cumulative(ctd, True)
    e_nodes = cumulative(cg, False)
    eps_nodes = 2.0 * np.sin(0.5 * th_nodes) ** 2
    cd = np.ascontiguousarray(_cheb_fit(d_nodes / eps_nodes))
    if code == K.ELU:
        mode2, c2 = 0, np.ascontiguousarray(_cheb_fit(e_nodes / eps_nodes))
    else:
        mode2, c2 = 2, np.ascontiguousarray(_cheb_fit(e_nodes / np.sin(0.5 * th_nodes)))
    # consistency with the quadrature T, Tdot at the nodes
    t_nodes = np.array([_chebval_panels(bps, ct, row) for row in th_nodes])
    td_nodes = np.array([_chebval_panels(bps, ctd, row) for row in th_nodes])
    err = max(float(np.abs((t1 - d_nodes) - t_nodes).max() / max(abs(t1), 1e-300)),
              float(np.abs((td1 - e_nodes) - td_nodes).max() / max(abs(td1), 1e-300)), tail, 4 * EPS)
    return _NormFunctions(NK.M_TABLE, code, q, slope, t1, td1, bps, cd, c2, mode2, err, True)


# =============================================================================== engines
@dataclass
class _Layer:
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


class _NormalizedEngine:
    def __init__(self, fn: _NormFunctions, Xn, Xt, sw2, sb2, q, chi_1_tab, dropout):
        from scipy.spatial.distance import cdist

        self.fn = fn
        self.sw2, self.sb2, self.q = sw2, sb2, q
        self.chi = chi_1_tab
        self.rho_d = dropout
        d = Xn.shape[1]
        f = sw2 / (2.0 * d * q)
        self.eps = np.clip(f * cdist(Xn, Xn, "sqeuclidean"), 0.0, 2.0)
        np.fill_diagonal(self.eps, 0.0)
        self.th = 1.0 - self.eps  # Theta^1 / p^1 = K^1 / q
        self.dl = self.eps.copy()  # (p - Theta) / p
        if Xt is not None:
            self.eps_t = np.clip(f * cdist(Xt, Xn, "sqeuclidean"), 0.0, 2.0)
            self.th_t = 1.0 - self.eps_t
            self.dl_t = self.eps_t.copy()
        else:
            self.eps_t = self.th_t = self.dl_t = None
        self.lp = math.log(q)  # log p^l

    def _step(self):
        fn = self.fn
        inv_p = math.exp(-self.lp)
        rho = self.q * inv_p + self.chi
        args = (fn.method, fn.code, fn.q, fn.slope, fn.t1, fn.td1, fn.bps, fn.cd, fn.c2, fn.mode2, self.sw2,
                inv_p, rho)
        small = self.eps.size < SERIAL_PAIRS
        (NK._norm_layer_sym_serial if small else NK._norm_layer_sym)(*args, self.eps, self.th, self.dl)
        if self.eps_t is not None:
            small = self.eps_t.size < SERIAL_PAIRS
            (NK._norm_layer_rect_serial if small else NK._norm_layer_rect)(*args, self.eps_t, self.th_t, self.dl_t)
        self.lp_prev = self.lp
        self.lp += math.log(rho)

    def run(self, depths):
        dmax = int(depths.max())
        want = set(int(x) for x in depths)
        fn = self.fn
        for depth in range(1, dmax + 1):
            self._step()
            if depth not in want:
                continue
            NK._mirror_upper(self.eps, self.th, self.dl)
            gth = gk = 0.0
            if self.rho_d is not None and self.rho_d < 1.0:
                extra = 1.0 / self.rho_d - 1.0
                p_prev = math.exp(self.lp_prev - self.lp)  # p^L / p^{L+1}
                gth = extra * ((self.q - self.sb2) * math.exp(-self.lp) + self.chi * p_prev)
                gk = extra * (self.q - self.sb2) / self.q
            mn = self.eps.min(initial=np.inf, where=self.eps > 0) if self.eps.size > 1 else np.inf
            dev_err = max(fn.error, 4 * EPS) * math.sqrt(depth) if fn.dev_relative else max(fn.error, 4 * EPS)
            # E = Tdot(1) - Tdot(c) with an absolute error fn.error * Tdot(1) enters Delta once per layer,
            # damped by chi_1 per layer: at most error * chi_1 * min(depth, 1 / (1 - chi_1))
            horizon = depth if self.chi >= 1.0 else min(depth, 1.0 / (1.0 - self.chi))
            dev_abs = 0.0 if fn.dev_relative else fn.error * self.chi * horizon
            k_dev_abs = 0.0  # eps = 1 - K_ab / q* has full relative accuracy (D is never a difference)
            if mn < DEV_UNDERFLOW:
                # the deviation approaches the float64 floor: no credit for tracking it any more
                dev_abs = k_dev_abs = 1.0
            yield _Layer(depth=depth, theta=self.th, theta_dev=self.dl, log_scale=self.lp,
                         k=None, k_dev=self.eps, log_kscale=math.log(self.q), gamma_theta=gth, gamma_k=gk,
                         theta_tt=self.th_t, k_tt=None, dev_err=dev_err, dev_abs=dev_abs, k_dev_abs=k_dev_abs)


class _RawEngine:
    """Data as given: the recursion on actual covariances (Theta scaled by its largest diagonal)."""

    def __init__(self, activation, X, Xt, sw2, sb2, slope, dropout):
        act = get_activation(activation)
        self.act = act
        self.code = act.code
        self.kind = {"closed": 0, "piecewise": 1, "smooth": 2}[act.kind]
        self.homog = act.homogeneous
        self.slope = slope
        self.sw2, self.sb2 = sw2, sb2
        self.rho_d = dropout
        d = X.shape[1]
        self.k = sw2 * (X @ X.T) / d + sb2
        self.k = 0.5 * (self.k + self.k.T)
        self.kt = None if Xt is None else sw2 * (Xt @ X.T) / d + sb2
        self.kd_t = None if Xt is None else sw2 * np.einsum("ij,ij->i", Xt, Xt) / d + sb2
        self.lk = 0.0  # log of the K scale (homogeneous activations only)
        if self.homog:
            s = float(np.max(np.diag(self.k)))
            if s > 0.0:
                self.lk = math.log(s)
                self.k /= s
                if self.kt is not None:
                    self.kt /= s
                    self.kd_t = self.kd_t / s
        s = float(np.max(np.diag(self.k)))
        s = s if s > 0.0 else 1.0
        self.lt = self.lk + math.log(s)
        self.th = self.k / s
        self.th_t = None if Xt is None else self.kt / s
        self.thd_t = None if Xt is None else self.kd_t / s
        self.error = 1e-13 if self.kind == 1 else 4 * EPS
        # phi' with jumps: Tdot(c) = Tdot(1) - (J^2 / 2 pi) theta + ..., theta = arccos(c), so a
        # rounding dc of c = K_ab / sqrt(K_aa K_bb) moves Tdot by J^2 dc / (2 pi sin theta): near
        # c = +-1 (deep in the ordered phase) the entries lose accuracy; tracked in kink_err
        self.kink_j2 = {"relu": 1.0, "leaky_relu": (1.0 - slope) ** 2, "hard_tanh": 2.0,
                        "selu": (SELU_LAMBDA * (1.0 - SELU_ALPHA)) ** 2}.get(activation, 0.0)
        self.kink_err = 0.0

    # ---- (T, Tdot) on the blocks
    def _smooth_blocks(self):
        diag = np.diag(self.k).copy()
        scales_all = [diag] + ([self.kd_t] if self.kt is not None else [])
        smax = float(max(np.max(v) for v in scales_all))
        rs, w = _radial_rule(smax, self.code)
        n, kmax = _angular_resolution(self.code, self.slope, smax, rs, w)
        sw = np.sqrt(w)
        sq = np.sqrt(np.maximum(diag, 0.0))
        f, g = _angular_coefficients(self.code, self.slope, sq, rs, n, kmax)
        f *= sw[None, :, None]
        g *= sw[None, :, None]
        nd = np.sqrt(np.outer(diag, diag))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(nd > 0, self.k / nd, 0.0)
        t, td = self._angular_sum(f, g, f, g, np.clip(c, -1.0, 1.0), sym=True)
        out = [t, td]
        if self.kt is not None:
            sqt = np.sqrt(np.maximum(self.kd_t, 0.0))
            ft, gt = _angular_coefficients(self.code, self.slope, sqt, rs, n, kmax)
            ft *= sw[None, :, None]
            gt *= sw[None, :, None]
            ndt = np.sqrt(np.outer(self.kd_t, diag))
            with np.errstate(invalid="ignore", divide="ignore"):
                ct = np.where(ndt > 0, self.kt / ndt, 0.0)
            out += list(self._angular_sum(ft, gt, f, g, np.clip(ct, -1.0, 1.0), sym=False))
        return out

    @staticmethod
    def _angular_sum(fa, ga, fb, gb, c, sym):
        th = np.arccos(c)
        cs, sn = np.cos(th), np.sin(th)
        ck = np.ones_like(c)
        sk = np.zeros_like(c)
        t = np.zeros_like(c)
        td = np.zeros_like(c)
        for k in range(fa.shape[2]):
            wk = 1.0 if k == 0 else 2.0
            a = fa[:, :, k]
            b = fb[:, :, k]
            gmat = a @ b.T
            t += (wk * ck) * gmat
            a = ga[:, :, k]
            b = gb[:, :, k]
            gmat = a @ b.T
            td += (wk * ck) * gmat
            ck, sk = ck * cs - sk * sn, sk * cs + ck * sn
        if sym:
            t = 0.5 * (t + t.T)
            td = 0.5 * (td + td.T)
        return t, td

    def _blocks(self):
        if self.kind == 2:
            return self._smooth_blocks()
        diag = np.ascontiguousarray(np.diag(self.k).copy())
        t = np.empty_like(self.k)
        td = np.empty_like(self.k)
        # closed forms are cheap: small blocks on one thread (thread launches would dominate)
        serial = self.kind == 0 and self.k.size < SERIAL_PAIRS
        (NK._raw_pairs_sym_serial if serial else NK._raw_pairs_sym)(self.code, self.kind, self.slope,
                                                                     np.ascontiguousarray(self.k), diag, t, td)
        out = [t, td]
        if self.kt is not None:
            tt = np.empty_like(self.kt)
            tdt = np.empty_like(self.kt)
            NK._raw_pairs_rect(self.code, self.kind, self.slope, np.ascontiguousarray(self.kt),
                               np.ascontiguousarray(self.kd_t), diag, tt, tdt)
            out += [tt, tdt]
        return out

    def _moments(self, s):
        s = np.ascontiguousarray(s, dtype=np.float64)
        a, b, c = (np.empty_like(s) for _ in range(3))
        K._moments_array(self.code, s, self.slope, a, b, c)
        return a, b

    def _kink_error(self, td):
        """Error (relative to the Theta scale) added to Theta by the rounding of c at the kinks."""
        if self.kink_j2 == 0.0 or self.k.shape[0] < 2:
            return
        dg = np.sqrt(np.diag(self.k))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = self.k / np.outer(dg, dg)
        c = c[~np.eye(c.shape[0], dtype=bool)]
        c = np.clip(c[np.isfinite(c)], -1.0, 1.0)
        if c.size == 0:
            return
        s_min = float(np.sqrt(np.maximum((1.0 - np.abs(c)) * (1.0 + np.abs(c)), 0.0)).min())
        dc = 8.0 * EPS
        dtheta = min(dc / s_min, math.sqrt(2.0 * dc)) if s_min > 0.0 else math.sqrt(2.0 * dc)
        chi = self.sw2 * float(np.max(np.abs(td)))
        self.kink_err = self.kink_err * min(1.0, chi) + self.sw2 * self.kink_j2 * dtheta / (2.0 * math.pi)

    def _step(self):
        blocks = self._blocks()
        t, td = blocks[0], blocks[1]  # in units of the current K scale exp(lk) (T homogeneous), Tdot absolute
        self._kink_error(td)
        sw2 = self.sw2
        ek = math.exp(-self.lk)
        kn = sw2 * t + self.sb2 * ek  # new K in units of the old K scale
        kn = 0.5 * (kn + kn.T)
        self.last = (np.diag(t).copy(), np.diag(td).copy(), np.diag(self.th).copy(), self.lk, self.lt)
        if self.kt is not None:
            tt, tdt = blocks[2], blocks[3]
            ktn = sw2 * tt + self.sb2 * ek
            mt, mdt = self._moments(self.kd_t)  # homogeneous: E[phi^2] is linear in the (scaled) variance
            kdtn = sw2 * mt + self.sb2 * ek
        lk_new = self.lk
        if self.homog:
            s = float(np.max(np.diag(kn)))
            if s > 0.0 and math.isfinite(s):
                kn /= s
                if self.kt is not None:
                    ktn /= s
                    kdtn /= s
                lk_new = self.lk + math.log(s)
        # Theta^{l+1} / S_new with S_new = S_old * r
        f = math.exp(lk_new - self.lt)
        thn = kn * f + sw2 * td * self.th
        r = float(np.max(np.diag(thn)))
        if not (math.isfinite(r) and r > 0.0):
            raise FloatingPointError("kernel overflow")
        thn /= r
        if self.kt is not None:
            self.th_t = (ktn * f + sw2 * tdt * self.th_t) / r
            self.thd_t = (kdtn * f + sw2 * mdt * self.thd_t) / r
            self.kt, self.kd_t = ktn, kdtn
        self.th = 0.5 * (thn + thn.T)
        self.k = kn
        self.lk = lk_new
        self.lt = self.lt + math.log(r)
        if not (np.all(np.isfinite(self.k)) and np.all(np.isfinite(self.th))):
            raise FloatingPointError("kernel overflow")

    def run(self, depths):
        dmax = int(depths.max())
        want = set(int(x) for x in depths)
        for depth in range(1, dmax + 1):
            self._step()
            if depth not in want:
                continue
            gth = gk = 0.0
            if self.rho_d is not None and self.rho_d < 1.0:
                extra = 1.0 / self.rho_d - 1.0
                tdiag, tddiag, thdiag, lk_old, lt_old = self.last
                # K_aa += extra sw2 T_aa;  Theta_aa += extra sw2 (T_aa + Tdot_aa Theta^L_aa)  (actual values,
                # here in the units of the new scales)
                gk = extra * self.sw2 * tdiag * math.exp(lk_old - self.lk)
                gth = extra * self.sw2 * (tdiag * math.exp(lk_old - self.lt)
                                          + tddiag * thdiag * math.exp(lt_old - self.lt))
            yield _Layer(depth=depth, theta=self.th, theta_dev=None, log_scale=self.lt, k=self.k, k_dev=None,
                         log_kscale=self.lk, gamma_theta=gth, gamma_k=gk, theta_tt=self.th_t, k_tt=self.kt,
                         dev_err=max(self.error, self.kink_err), dev_abs=0.0)


# =============================================================================== spectra
_BLAS_CONTROLLER = None


def _single_threaded_blas():
    """Limit BLAS/LAPACK to one thread (threadpoolctl) around an eigensolve.

    LAPACK's symmetric eigensolvers synchronise their threads at every panel; with two
    threads on two cores and any other busy process (or numba's worker threads still
    spinning) an eigvalsh of order 600 was measured at 0.5-1 s instead of 15 ms.
    """
    global _BLAS_CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def _eigvalsh(a):
    from scipy.linalg import eigvalsh

    with _single_threaded_blas():
        return eigvalsh(a, overwrite_a=True, check_finite=False, driver="evr")


def _eig_direct(mat, gamma, tau):
    """Eigen-summary of mat + diag(gamma) (all in the same units)."""
    a = np.array(mat, dtype=np.float64, copy=True)
    idx = np.diag_indices_from(a)
    a[idx] += gamma
    tr = float(np.trace(a))
    w = _eigvalsh(a)
    m = w.size
    lmax, lmin = float(w[-1]), float(w[0])
    top = max(abs(lmax), abs(lmin))
    err = 10.0 * math.sqrt(m) * (EPS + tau) * top
    bulk = (tr - lmax) / (m - 1)
    bulk_err = err + 4.0 * m * EPS * top / (m - 1)
    return dict(lmax=lmax, lmin=lmin, bulk=bulk, err=err, bulk_err=bulk_err, method="direct")


def _eig_deflated(dev, gamma, tau, abs_floor):
    """Eigen-summary of 11^T - dev + gamma I from the deviation alone (dev symmetric, zero diagonal).

    A Householder reflection H maps 1 to sqrt(m) e_1; H (11^T - dev) H = m e1 e1^T - H dev H
    = [[a, b^T], [b, B]] with a ~ m and b, B of the size of dev.  The m - 1 small
    eigenvalues are those of B - b b^T / (a - lambda); lambda = 0 in the last term
    changes each by a relative b^2 / (a (a - lambda)), required below 1e-12.
    Returns None when the deviation is not small enough for that.
    """
    m = dev.shape[0]
    # ||B|| <= ||dev||_2 <= max row sum of |dev|: skip at once when dev is not small
    bound = float(np.abs(dev).sum(axis=1).max())
    if not (m - bound > 2.0 * bound):
        return None
    v = np.ones(m)
    v[0] -= math.sqrt(m)
    u = v / np.linalg.norm(v)
    g = dev @ u
    w = g - (u @ g) * u
    h = dev - 2.0 * np.outer(u, w) - 2.0 * np.outer(w, u)
    a = m - h[0, 0] + gamma
    b = -h[1:, 0]
    bmat = -h[1:, 1:]
    bmat[np.diag_indices_from(bmat)] += gamma
    nb2 = float(b @ b)
    norm_b = bound + abs(gamma)
    if not (a > 2.0 * norm_b) or nb2 > 1e-12 * a * (a - norm_b):
        return None
    s = bmat - np.outer(b, b) / a
    s = 0.5 * (s + s.T)
    mu = _eigvalsh(s)
    mean_mu = float(mu.mean())
    lmax = a + nb2 / (a - mean_mu)
    lmax = a + nb2 / (lmax - mean_mu)
    lmin = float(mu[0])
    scale = max(float(np.abs(mu).max()), float(np.abs(dev).max()))
    err = 10.0 * math.sqrt(m) * ((EPS + tau) * scale + abs_floor) + nb2 / (a * (a - abs(lmin))) * abs(lmin)
    bulk = float(mu.sum()) / (m - 1)
    return dict(lmax=float(lmax), lmin=lmin, bulk=bulk, err=err, bulk_err=err, method="deflated")


def _summarize(direct, dev, gamma, tau, abs_floor, singular, scale_log):
    """(lmax, lmin, bulk, kappa, resolved, rel_err, method, log10_lmax) in actual units."""
    res = None
    if dev is not None and np.ndim(gamma) == 0:
        res = _eig_deflated(dev, float(gamma), tau, abs_floor)
    if res is None:
        res = _eig_direct(direct(), gamma, max(tau, abs_floor))
    lmax, lmin, bulk = res["lmax"], res["lmin"], res["bulk"]
    err = res["err"]
    method = res["method"]
    if singular:
        lmin = float(np.min(gamma)) if np.size(gamma) else 0.0
        lmin = max(lmin, 0.0)
        err = 0.0
        method = "singular"
    resolved = bool(singular or (lmin > 0.0 and err <= RESOLVE_REL * lmin))
    rel_err = 0.0 if singular else (err / lmin if lmin > 0.0 else math.inf)
    bulk_ok = bulk > 0.0 and res["bulk_err"] <= RESOLVE_REL * bulk
    kappa = (lmax / lmin if lmin > 0.0 else math.inf) if resolved else math.nan

    def actual(x):
        if not math.isfinite(x) or x <= 0.0:
            return x
        lg = math.log(x) + scale_log
        return math.exp(lg) if lg < 709.78 else math.inf

    log10_lmax = (math.log(lmax) + scale_log) / math.log(10.0) if lmax > 0.0 else math.nan
    return (actual(lmax), actual(lmin) if resolved else math.nan, actual(bulk) if bulk_ok else math.nan, kappa,
            resolved, rel_err, method, log10_lmax)


@dataclass
class Spectra:
    """NTK and NNGP spectra of one (activation, sw2, sb2) point at each requested depth.

    Arrays have shape (n_depths,).  lambda_* are eigenvalues of Theta_train,train (NTK,
    sum-loss convention) and nngp_lambda_* of K_train,train; lambda_bulk =
    (trace - lambda_max) / (m - 1).  resolved / nngp_resolved: float64 resolves
    lambda_min to 1e-3 (else lambda_min and kappa are NaN); kappa_rel_err is the
    estimated relative error of lambda_min (and so of kappa).  method: 'direct'
    (eigenvalues of the kernel), 'deflated' (from the tracked deviation from the ordered
    fixed point), 'singular' (duplicate rows).  log10_lambda_max stays finite where
    lambda_max overflows float64 (chaotic phase at great depth).

    Theory columns (Table 1 of Xiao et al., see ``kappa_theory``): kappa_theory,
    nngp_kappa_theory, lambda_max_theory.  status is 'ok' or why the point has no
    kernel ('q_infinite', 'q_zero', 'sw2_zero', 'unconverged', 'overflow'), with message.
    """

    activation: str
    sw2: float
    sb2: float
    m: int
    dim: int
    normalize: bool
    dropout: float | None
    phase: str
    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    p_star: float
    xi_1: float
    xi_star: float
    depth: np.ndarray
    lambda_max: np.ndarray
    lambda_min: np.ndarray
    lambda_bulk: np.ndarray
    kappa: np.ndarray
    nngp_lambda_max: np.ndarray
    nngp_lambda_min: np.ndarray
    nngp_lambda_bulk: np.ndarray
    nngp_kappa: np.ndarray
    kappa_theory: np.ndarray
    nngp_kappa_theory: np.ndarray
    lambda_max_theory: np.ndarray
    resolved: np.ndarray
    nngp_resolved: np.ndarray
    kappa_rel_err: np.ndarray
    nngp_kappa_rel_err: np.ndarray
    log10_lambda_max: np.ndarray
    method: np.ndarray
    singular: bool = False
    duplicate_rows: list = field(default_factory=list)
    table_error: float = 0.0
    status: str = "ok"
    message: str = ""

    ROW_COLUMNS = ("depth", "lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max",
                   "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa", "kappa_theory", "nngp_kappa_theory",
                   "lambda_max_theory", "resolved", "nngp_resolved", "kappa_rel_err", "nngp_kappa_rel_err",
                   "log10_lambda_max", "method")

    def rows(self):
        """One dict per depth (the per-depth columns plus the point's scalars)."""
        scal = dict(activation=self.activation, sw2=self.sw2, sb2=self.sb2, m=self.m, phase=self.phase,
                    q_star=self.q_star, chi_1=self.chi_1, p_star=self.p_star, status=self.status)
        for i in range(self.depth.size):
            row = dict(scal)
            for c in self.ROW_COLUMNS:
                v = getattr(self, c)[i]
                row[c] = v.item() if hasattr(v, "item") else v
            yield row


# =============================================================================== theory
def critical_ratio(activation: str, slope: float = mf.DEFAULT_SLOPE) -> float:
    """Large-depth Theta_ab / Theta_aa on the critical line (chi_1 = 1), normalized inputs.

    With D(eps) = T(1) - T(1 - eps), E(eps) = Tdot(1) - Tdot(1 - eps) and chi_1 = 1:
    - phi' continuous (T''(1) = q^2 E[phi''^2] finite: tanh, erf, elu, gelu, silu,
      softplus, sigmoid, sin): eps' = eps - beta eps^2, so eps ~ 1/(beta l), and the
      off-diagonal multiplier sw2 Tdot = 1 - 2 beta eps = 1 - 2/l; Theta_ab ~ a l q*
      with a (l + 1) = 1 + (1 - 2/l) a l gives a = 1/3 (Xiao et al.).
    - phi' with a jump (relu, leaky_relu, selu, hard_tanh): E(eps) ~ e1 theta and
      D ~ q Tdot(1) eps - q e1 theta^3 / 3 (theta = arccos c), so theta' = theta -
      (sw2 e1 / 3) theta^2, theta ~ 3/(sw2 e1 l), and the multiplier 1 - sw2 e1 theta =
      1 - 3/l for every such activation: a = 1 - 3a, a = 1/4.
    - linear: c is preserved, the ratio depends on the data: NaN.
    kappa -> (1 + (m - 1) a) / (1 - a): (m + 2)/2 and (m + 3)/3.
    """
    if activation == "linear" or (activation == "leaky_relu" and slope >= 1.0):
        return math.nan
    return 0.25 if activation in _PHI_PRIME_JUMPS else 1.0 / 3.0


def kappa_theory(activation, phase, m, depth, *, chi_1, q_star, sb2=0.0, dropout=None,
                 slope: float = mf.DEFAULT_SLOPE) -> np.ndarray:
    """Table 1 large-depth prediction of kappa = lambda_max / lambda_min of the NTK.

    - chaotic: 1 (Theta / p -> identity);
    - critical: (1 + (m - 1) a) / (1 - a) with a = ``critical_ratio`` (1/3: (m + 2)/2 for
      smooth activations; 1/4: (m + 3)/3 when phi' jumps, relu included); with dropout
      (keep rate rho) the diagonal gains a factor 1/rho: (1/rho + (m - 1) a)/(1/rho - a);
    - ordered: m p* / (l chi_1^l) with p* = q*/(1 - chi_1) and l = depth: the rate of
      divergence (Figure 1b), up to a data-dependent O(1) factor; with dropout the finite
      limit 1 + m rho p* / ((1 - rho)(p* - sb2)).
    NaN for unknown phases and undefined q*.
    """
    depth = np.asarray(depth, dtype=float)
    out = np.full(depth.shape, np.nan)
    rho = 1.0 if dropout is None else float(dropout)
    if not (np.isfinite(q_star) and q_star > 0 and np.isfinite(chi_1)):
        return out
    if phase == "chaotic":
        out[:] = 1.0
    elif phase == "critical":
        inv_a = 1.0 / critical_ratio(activation, slope)  # 3 or 4 (exact), NaN for linear
        out[:] = (inv_a / rho + (m - 1)) / (inv_a / rho - 1.0)
    elif phase == "ordered" and chi_1 > 0:
        p_star = q_star / (1.0 - chi_1)
        if rho < 1.0:
            out[:] = 1.0 + m * rho * p_star / ((1.0 - rho) * (p_star - sb2)) if p_star > sb2 else np.inf
        else:
            with np.errstate(over="ignore"):
                out[:] = np.exp(np.minimum(math.log(m * p_star) - np.log(depth) - depth * math.log(chi_1), 709.78))
    return out


def nngp_kappa_theory(phase, m, depth, *, q_star, c_star, sb2=0.0, dropout=None) -> np.ndarray:
    """Large-depth kappa of the NNGP: chaotic K -> q*((1 - c*) I + c* 11^T):
    (1 + (m - 1) c*) / (1 - c*) (dropout adds (1/rho - 1)(q* - sb2) to the diagonal);
    it diverges in the other phases (NaN)."""
    depth = np.asarray(depth, dtype=float)
    out = np.full(depth.shape, np.nan)
    if phase == "chaotic" and np.isfinite(c_star) and np.isfinite(q_star) and q_star > 0:
        g = 0.0 if dropout is None else (1.0 / float(dropout) - 1.0) * (q_star - sb2)
        out[:] = (q_star * (1.0 + (m - 1) * c_star) + g) / (q_star * (1.0 - c_star) + g)
    return out


def lambda_max_theory(activation, phase, m, depth, *, chi_1, q_star, sb2=0.0, dropout=None,
                      slope: float = mf.DEFAULT_SLOPE) -> np.ndarray:
    """Large-depth lambda_max of the NTK (normalized inputs): m p* (ordered), the diagonal
    p^{l+1} = q* (chi_1^{l+1} - 1)/(chi_1 - 1) (chaotic, kappa -> 1), (l + 1) q* (1 + (m - 1) a)
    (critical); plus the dropout shift (1/rho - 1)(q* - sb2 + chi_1 p^l)."""
    depth = np.asarray(depth, dtype=float)
    out = np.full(depth.shape, np.nan)
    if not (np.isfinite(q_star) and q_star > 0 and np.isfinite(chi_1)):
        return out
    extra = 0.0 if dropout is None else 1.0 / float(dropout) - 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        if abs(chi_1 - 1.0) < 1e-12:
            p_l = depth * q_star
        else:
            p_l = q_star * np.expm1(np.minimum(depth * math.log(chi_1), 709.0)) / (chi_1 - 1.0)
        p_next = q_star + chi_1 * p_l
        shift = extra * (q_star - sb2 + chi_1 * p_l)
        if phase == "ordered":
            p_star = q_star / (1.0 - chi_1)
            out[:] = m * p_star + extra * (p_star - sb2)
        elif phase == "chaotic":
            out[:] = p_next + shift
        elif phase == "critical":
            a = critical_ratio(activation, slope)
            out[:] = p_next * (1.0 + (m - 1) * a) + shift
    return out


def learning_rates(lambda_max, m, loss: str = "sum"):
    """(eta_max, eta_catapult) = (2, 4) / lambda_max for the sum loss 1/2 sum (f - y)^2;
    (2m, 4m) / lambda_max for the mean loss 1/(2m) sum (as neural-tangents'
    max_learning_rate).  Below eta_max: lazy (NTK) regime; eta_max .. eta_catapult: catapult."""
    if loss not in ("sum", "mean"):
        raise ValueError(f"loss must be 'sum' or 'mean', got {loss!r}")
    m = int(m)
    if m < 1:
        raise ValueError("m must be >= 1")
    lam = np.asarray(lambda_max, dtype=float)
    f = 1.0 if loss == "sum" else float(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(lam > 0, 2.0 * f / lam, np.nan)
    return eta, 2.0 * eta


# =============================================================================== setup and public API
@dataclass
class _Setup:
    engine: object
    normalize: bool
    activation: str
    sw2: float
    sb2: float
    slope: float
    dropout: float | None
    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    xi_1: float
    xi_star: float
    phase: str
    m: int
    dim: int
    duplicates: list
    table_error: float


def _duplicate_pairs(X, odd_flip: bool):
    """Index pairs (i, j), i < j, of rows that are exactly equal (or opposite, if odd_flip:
    an odd activation with sb2 = 0 maps x and -x to opposite kernel rows)."""
    Y = X.copy()
    if odd_flip:
        for i in range(Y.shape[0]):
            nz = np.flatnonzero(Y[i])
            if nz.size and Y[i, nz[0]] < 0:
                Y[i] = -Y[i]
    _, inv, counts = np.unique(Y, axis=0, return_inverse=True, return_counts=True)
    inv = np.asarray(inv).ravel()
    pairs = []
    for g in np.flatnonzero(counts > 1):
        idx = np.flatnonzero(inv == g)
        pairs += [(int(idx[0]), int(j)) for j in idx[1:]]
    return sorted(pairs)


def _duplicate_pairs_normalized(eps1, q, sb2, odd_flip: bool):
    """Pairs of normalized rows equal (or opposite) to rounding: eps = 1 - c within
    (q - sb2)/(2q) * (8 ulp)^2 of 0 (or of 2).  Positive multiples x, t x are duplicates here."""
    tol = (q - sb2) / (2.0 * q) * (8.0 * EPS) ** 2
    hit = eps1 <= tol
    if odd_flip:
        hit |= eps1 >= 2.0 - 16.0 * EPS
    i, j = np.nonzero(np.triu(hit, 1))
    # keep one representative per group: pair every later row with the first of its group
    first = {}
    pairs = []
    for a, b in zip(i.tolist(), j.tolist()):
        root = first.get(a, a)
        if b not in first:
            first[b] = root
            pairs.append((root, b))
    return sorted(set(pairs))


def _setup(activation, X, sw2, sb2, X_test, slope, normalize, q0, dropout, min_rows) -> _Setup:
    act = get_activation(activation)
    X = _check_matrix(X, "X")
    if X.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} inputs (rows), got {X.shape[0]}")
    Xt = None
    if X_test is not None:
        Xt = _check_matrix(X_test, "X_test")
        if Xt.shape[1] != X.shape[1]:
            raise ValueError(f"X_test has {Xt.shape[1]} columns, X has {X.shape[1]}")
    sw2 = _scalar("sw2", sw2)
    sb2 = _scalar("sb2", sb2)
    q0 = float(q0)
    if not (math.isfinite(q0) and q0 > 0):
        raise ValueError(f"q0 must be a positive finite number, got {q0!r}")
    slope = float(slope)
    if not (math.isfinite(slope) and 0.0 <= slope <= 1.0):
        raise ValueError(f"slope (leaky_relu) must be in [0, 1], got {slope!r}")
    rho = _check_dropout(dropout)
    grid = mf.solve_phase(activation, sw2, sb2, q0=q0, slope=slope)
    q_star = float(grid.q_star[0, 0])
    fp = str(grid.fixed_point[0, 0])
    info = dict(q_star=q_star, c_star=float(grid.c_star[0, 0]), chi_1=float(grid.chi_1[0, 0]),
                chi_c=float(grid.chi_c[0, 0]), xi_1=float(grid.xi_1[0, 0]), xi_star=float(grid.xi_star[0, 0]),
                phase=str(grid.phase[0, 0]))
    where = f"{activation} at sw2={sw2:g}, sb2={sb2:g}"
    m, dim = X.shape
    if normalize:
        if sw2 == 0.0:
            raise PointError("sw2_zero", f"sw2 = 0: the inputs never reach the output (K = sb2 11^T); {where}")
        if fp == "infinite":
            raise PointError("q_infinite", f"q* is infinite for {where} (q^l grows without bound), so rows "
                                           "cannot be scaled to q*: use --no-normalize")
        if fp == "zero" or not q_star > sb2:
            raise PointError("q_zero", f"q* = 0 for {where} (sb2 = 0 in the ordered phase: the signal dies), "
                                       "so rows cannot be scaled to q*: use --no-normalize")
        if fp == "unconverged" or not math.isfinite(q_star):
            raise PointError("unconverged", f"the length map did not converge for {where}")
        target = math.sqrt(dim * (q_star - sb2) / sw2)

        def scale_rows(A, what):
            norms = np.sqrt(np.einsum("ij,ij->i", A, A))
            zero = np.flatnonzero(norms == 0.0)
            if zero.size:
                raise ValueError(f"{what}: row {zero[0] + 1} is all zeros and cannot be scaled to q* "
                                 "(use --no-normalize)")
            return A * (target / norms)[:, None]

        Xn = scale_rows(X, "X")
        Xtn = None if Xt is None else scale_rows(Xt, "X_test")
        try:
            fn = _norm_functions(activation, q_star, slope)
        except FloatingPointError:
            raise PointError("unconverged", f"could not tabulate T(c) for {where}") from None
        engine = _NormalizedEngine(fn, Xn, Xtn, sw2, sb2, q_star, sw2 * fn.td1, rho)
        dups = _duplicate_pairs_normalized(engine.eps, q_star, sb2, act.odd and sb2 == 0.0)
        table_error = fn.error
    else:
        engine = _RawEngine(activation, X, Xt, sw2, sb2, slope, rho)
        dups = _duplicate_pairs(X, act.odd and sb2 == 0.0)
        table_error = engine.error
    return _Setup(engine=engine, normalize=bool(normalize), activation=activation, sw2=sw2, sb2=sb2, slope=slope,
                  dropout=rho, m=m, dim=dim, duplicates=dups, table_error=table_error, **info)


class KernelLayer(tuple):
    """(depth, K_train, Theta_train, K_test_train, Theta_test_train) with extra attributes.

    Unpacks as the 5-tuple.  With ``scaled=True`` in ``kernel_pass`` the Theta blocks are
    divided by exp(log_scale) (the NTK diagonal for normalized inputs), so they never
    overflow; otherwise log_scale is 0.  theta_deviation / k_deviation (normalized inputs
    only): (p - Theta_ab) / p and 1 - K_ab / q* on the train block, with full relative
    accuracy near the ordered fixed point.
    """

    def __new__(cls, depth, k, th, kt, tht, log_scale=0.0, theta_deviation=None, k_deviation=None):
        obj = super().__new__(cls, (depth, k, th, kt, tht))
        obj.log_scale = log_scale
        obj.theta_deviation = theta_deviation
        obj.k_deviation = k_deviation
        return obj

    depth = property(lambda self: self[0])
    K_train = property(lambda self: self[1])
    Theta_train = property(lambda self: self[2])
    K_test_train = property(lambda self: self[3])
    Theta_test_train = property(lambda self: self[4])


def kernel_pass(activation, X, sw2, sb2, depths, *, X_test=None, slope=mf.DEFAULT_SLOPE, normalize=True, q0=1.0,
                dropout=None, scaled=False):
    """One pass of the depth recursion; yields a ``KernelLayer`` at each requested depth.

    (depth, K_train, Theta_train, K_test_train, Theta_test_train): the NNGP and NTK of a
    depth-L network (K^{L+1}, Theta^{L+1}) on the train rows of X and between the rows of
    X_test and X (None without X_test).  Arrays are fresh copies.  Dropout (keep rate)
    changes only the train diagonals (see the module docstring).  With normalize=True
    (default) the rows of X and X_test are scaled to q^1 = q*.  Raises ValueError on bad
    input and PointError (a ValueError) where the kernel does not exist.
    """
    depths = _depth_array(depths)
    st = _setup(activation, X, sw2, sb2, X_test, slope, normalize, q0, dropout, min_rows=1)
    eng = st.engine
    try:
        for layer in eng.run(depths):
            lt = layer.log_scale
            f_th = 1.0 if scaled else math.exp(min(lt, 709.78))
            if st.normalize:
                q = st.q_star
                k = q * (1.0 - eng.eps)
                k[np.diag_indices_from(k)] = q * (1.0 + layer.gamma_k)
                th = layer.theta * f_th
                th[np.diag_indices_from(th)] = (1.0 + layer.gamma_theta) * f_th
                kt = None if eng.eps_t is None else q * (1.0 - eng.eps_t)
                tht = None if eng.th_t is None else eng.th_t * f_th
                tdev, kdev = eng.dl.copy(), eng.eps.copy()
            else:
                fk = math.exp(layer.log_kscale)
                k = layer.k * fk
                k[np.diag_indices_from(k)] += np.asarray(layer.gamma_k) * fk
                th = layer.theta * f_th
                th[np.diag_indices_from(th)] += np.asarray(layer.gamma_theta) * f_th
                kt = None if layer.k_tt is None else layer.k_tt * fk
                tht = None if layer.theta_tt is None else layer.theta_tt * f_th
                tdev = kdev = None
            yield KernelLayer(layer.depth, k, th, kt, tht, lt if scaled else 0.0, tdev, kdev)
    except FloatingPointError:
        raise PointError("overflow", f"the kernel overflowed float64 ({activation}, sw2={st.sw2:g}, "
                                     f"sb2={st.sb2:g})") from None


def _nan_spectra(activation, sw2, sb2, m, dim, normalize, dropout, depths, status, message, info=None):
    n = depths.size
    nan = np.full(n, np.nan)
    info = info or {}
    return Spectra(activation=activation, sw2=float(sw2), sb2=float(sb2), m=m, dim=dim, normalize=normalize,
                   dropout=dropout, phase=info.get("phase", "unknown"), q_star=info.get("q_star", math.nan),
                   c_star=info.get("c_star", math.nan), chi_1=info.get("chi_1", math.nan),
                   chi_c=info.get("chi_c", math.nan), p_star=math.nan, xi_1=info.get("xi_1", math.nan),
                   xi_star=info.get("xi_star", math.nan), depth=depths.copy(),
                   **{c: nan.copy() for c in ("lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max",
                                               "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa", "kappa_theory",
                                               "nngp_kappa_theory", "lambda_max_theory", "kappa_rel_err",
                                               "nngp_kappa_rel_err", "log10_lambda_max")},
                   resolved=np.zeros(n, dtype=bool), nngp_resolved=np.zeros(n, dtype=bool),
                   method=np.full(n, "", dtype=object), status=status, message=message)


def ntk_spectra(activation, X, sw2, sb2, depths, *, slope=mf.DEFAULT_SLOPE, normalize=True, q0=1.0,
                dropout=None) -> Spectra:
    """NTK and NNGP spectra at every requested depth (one recursion pass) plus Table 1 theory.

    Bad input (data, depths, dropout, activation) raises ValueError; a point without a
    kernel (q* infinite / zero, sw2 = 0, overflow) returns an all-NaN Spectra whose
    ``status`` and ``message`` say why.
    """
    depths = _depth_array(depths)
    Xc = _check_matrix(X, "X")
    if Xc.shape[0] < 2:
        raise ValueError(f"need at least 2 inputs (rows) for a spectrum, got {Xc.shape[0]}")
    m, dim = Xc.shape
    try:
        st = _setup(activation, Xc, sw2, sb2, None, slope, normalize, q0, dropout, min_rows=2)
    except PointError as exc:
        grid = mf.solve_phase(activation, _scalar("sw2", sw2), _scalar("sb2", sb2), q0=q0, slope=slope)
        info = dict(q_star=float(grid.q_star[0, 0]), c_star=float(grid.c_star[0, 0]),
                    chi_1=float(grid.chi_1[0, 0]), chi_c=float(grid.chi_c[0, 0]), xi_1=float(grid.xi_1[0, 0]),
                    xi_star=float(grid.xi_star[0, 0]), phase=str(grid.phase[0, 0]))
        return _nan_spectra(activation, sw2, sb2, m, dim, bool(normalize), _check_dropout(dropout), depths,
                            exc.status, str(exc), info)
    n = depths.size
    cols = {c: np.full(n, np.nan) for c in ("lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max",
                                            "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa", "kappa_rel_err",
                                            "nngp_kappa_rel_err", "log10_lambda_max")}
    resolved = np.zeros(n, dtype=bool)
    nresolved = np.zeros(n, dtype=bool)
    method = np.full(n, "", dtype=object)
    singular = bool(st.duplicates)
    eng = st.engine
    status, message = "ok", ""
    i = 0
    try:
        for layer in eng.run(depths):
            tau = layer.dev_err
            gk = layer.gamma_k

            def th_direct(lay=layer):
                return lay.theta  # normalized: Theta / p, diagonal 1

            if st.normalize:
                def k_direct(e=layer.k_dev):
                    return 1.0 - e  # K / q*

                k_dev, k_log = layer.k_dev, math.log(st.q_star)
            else:
                def k_direct(lay=layer):
                    return lay.k

                k_dev, k_log = None, layer.log_kscale
            r = _summarize(th_direct, layer.theta_dev, layer.gamma_theta, tau, layer.dev_abs, singular,
                           layer.log_scale)
            cols["lambda_max"][i], cols["lambda_min"][i], cols["lambda_bulk"][i], cols["kappa"][i] = r[:4]
            resolved[i], cols["kappa_rel_err"][i], method[i], cols["log10_lambda_max"][i] = r[4:]
            r = _summarize(k_direct, k_dev, gk, tau, layer.k_dev_abs, singular, k_log)
            cols["nngp_lambda_max"][i], cols["nngp_lambda_min"][i], cols["nngp_lambda_bulk"][i] = r[:3]
            cols["nngp_kappa"][i], nresolved[i], cols["nngp_kappa_rel_err"][i] = r[3], r[4], r[5]
            i += 1
    except FloatingPointError:
        status = "overflow"
        message = (f"the kernel overflowed float64 after depth {depths[i - 1] if i else 0} "
                   f"({activation}, sw2={st.sw2:g}, sb2={st.sb2:g}); deeper rows are NaN")
    p_star = st.q_star / (1.0 - st.chi_1) if st.phase == "ordered" and st.chi_1 < 1 else math.nan
    kw = dict(chi_1=st.chi_1, q_star=st.q_star, sb2=st.sb2, dropout=st.dropout)
    return Spectra(activation=activation, sw2=st.sw2, sb2=st.sb2, m=m, dim=dim, normalize=st.normalize,
                   dropout=st.dropout, phase=st.phase, q_star=st.q_star, c_star=st.c_star, chi_1=st.chi_1,
                   chi_c=st.chi_c, p_star=p_star, xi_1=st.xi_1, xi_star=st.xi_star, depth=depths.copy(),
                   kappa_theory=kappa_theory(activation, st.phase, m, depths, slope=st.slope, **kw),
                   nngp_kappa_theory=nngp_kappa_theory(st.phase, m, depths, q_star=st.q_star, c_star=st.c_star,
                                                       sb2=st.sb2, dropout=st.dropout),
                   lambda_max_theory=lambda_max_theory(activation, st.phase, m, depths, slope=st.slope, **kw),
                   resolved=resolved, nngp_resolved=nresolved, method=method, singular=singular,
                   duplicate_rows=st.duplicates, table_error=st.table_error, status=status, message=message,
                   **cols)
