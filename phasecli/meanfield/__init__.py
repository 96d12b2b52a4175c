"""Mean-field theory of wide deep networks: fixed points, phases and depth scales.

Public, validating wrappers around the numba kernels of ``phasecli.meanfield.kernels``.  All
hyperparameters are *variances* (sw2 = sigma_w^2, sb2 = sigma_b^2).  Formulas and
conventions follow ``docs/theory.md``; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from phasecli.activations import ACTIVATIONS
from phasecli.expectations import kernels as EK
from phasecli.meanfield import kernels as K
from phasecli import defaults
from phasecli import validate as V
from phasecli.runtime.jit import threads_for
from phasecli.results import Rows

FIXED_POINT_LABELS = {
    K.FP_STABLE: "stable",
    K.FP_ZERO: "zero",
    K.FP_INFINITE: "infinite",
    K.FP_UNCONVERGED: "unconverged",
    K.FP_MARGINAL: "marginal",
}
CRITICAL_STATUS = {
    K.CR_OK: "ok",
    K.CR_UNCONVERGED: "unconverged",
    K.CR_NO_CROSSING: "no_crossing",
    K.CR_OUT_OF_RANGE: "out_of_range",
    K.CR_UNDEFINED: "q_infinite",
}
MAX_CELLS = 25_000_000
DEFAULT_SLOPE = defaults.SLOPE
DEFAULT_CRITICAL_TOL = defaults.CRITICAL_TOL
DEFAULT_TRAINABLE_MULTIPLE = defaults.TRAINABLE_MULTIPLE


def _variances(name: str, values) -> np.ndarray:
    return V.variances(name, values)


def _check_common(activation: str, q0: float, slope: float) -> int:
    code = V.activation(activation).code
    V.q0(q0)
    V.slope(slope)
    return code


def _neg_inv_log(x: np.ndarray) -> np.ndarray:
    """-1 / ln(x), with -1/ln(1) = inf and -1/ln(0) = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -1.0 / np.log(x)
    out = np.where(x == 1.0, np.inf, out)
    return out


def depth_scales(chi_1, chi_c, q_slope):
    """Depth scales of docs/theory.md ("Depth scales"): (xi_q, xi_c, xi_grad, xi_1, xi_star).

    xi_q = -1/ln(q-map slope at q*), xi_c = -1/ln chi_c, xi_grad = -1/ln chi_1 (negative
    when gradients grow), xi_1 = -1/ln chi_1 on the ordered side (chi_1 <= 1, NaN
    otherwise), xi_star = -1/(ln chi_c - ln chi_1) on the chaotic side (chi_1 >= 1, NaN
    otherwise; inf on the critical line).  At a stable correlation fixed point chi_c <= 1
    and chi_c <= chi_1, so values above by rounding (1 + 1e-15 on the root-solved critical
    line) are taken as equal: inf, never a huge negative depth.
    """
    chi_1 = np.asarray(chi_1, dtype=float)
    chi_c = np.asarray(chi_c, dtype=float)
    xi_q = _neg_inv_log(np.asarray(q_slope, dtype=float))
    xi_c = _neg_inv_log(np.minimum(chi_c, 1.0))
    xi_grad = _neg_inv_log(chi_1)
    xi_1 = np.where(chi_1 <= 1.0, xi_grad, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.minimum(chi_c / chi_1, 1.0)
        xi_star = np.where(chi_1 >= 1.0, _neg_inv_log(ratio), np.nan)
    return xi_q, xi_c, xi_grad, xi_1, xi_star


def classify_phase(chi_1, critical_tol: float = DEFAULT_CRITICAL_TOL) -> np.ndarray:
    """'ordered' (chi_1 < 1 - tol), 'critical' (|chi_1 - 1| <= tol), 'chaotic', or 'unknown' (NaN)."""
    chi_1 = np.asarray(chi_1, dtype=float)
    phase = np.full(chi_1.shape, "unknown", dtype=object)
    phase[chi_1 < 1.0 - critical_tol] = "ordered"
    phase[chi_1 > 1.0 + critical_tol] = "chaotic"
    phase[np.abs(chi_1 - 1.0) <= critical_tol] = "critical"
    return phase


@dataclass
class PhaseGrid(Rows):
    """Mean-field quantities on a (sw2, sb2) grid; every array has shape (len(sw2), len(sb2)).

    fixed_point labels q*: 'stable' (reached from q0, q-map slope < 1), 'marginal'
    (slope = 1), 'zero' (the signal dies: q* = 0, c* undefined), 'infinite' (q^l grows
    without bound) or 'unconverged' (every derived value NaN).
    """

    activation: str
    sw2: np.ndarray
    sb2: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    chi_c: np.ndarray
    q_slope: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray
    xi_grad: np.ndarray
    xi_1: np.ndarray
    xi_star: np.ndarray
    phase: np.ndarray
    fixed_point: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    max_trainable_depth: np.ndarray
    trainable_multiple: float = DEFAULT_TRAINABLE_MULTIPLE

    @property
    def shape(self):
        return self.q_star.shape

    def array_names(self):
        return [f.name for f in fields(self) if f.name not in ("activation", "sw2", "sb2", "trainable_multiple")]

    def row_count(self) -> int:
        return int(self.q_star.size)

    def row_values(self, n: int) -> dict:
        """The grid's rows: sw2 outer, sb2 inner."""
        n_sw2, n_sb2 = self.shape
        return {"sw2": np.repeat(self.sw2, n_sb2), "sb2": np.tile(self.sb2, n_sw2)}


def solve_phase(activation: str, sw2, sb2, *, q0: float = 1.0, slope: float = DEFAULT_SLOPE,
                critical_tol: float = DEFAULT_CRITICAL_TOL, trainable_multiple: float = DEFAULT_TRAINABLE_MULTIPLE,
                progress=None) -> PhaseGrid:
    """q*, c*, chi_1, chi_c, depth scales and phase on the grid sw2 x sb2 (docs/theory.md, mean field).

    q* is the stable fixed point that forward iteration reaches from q0 (the inputs'
    variance q^1); c* is the stable correlation fixed point (1 in the ordered phase).
    The phase is classified by chi_1 alone, 'critical' within ``critical_tol`` of 1.
    max_trainable_depth = trainable_multiple * xi_c (Schoenholz et al. use 6; docs/theory.md,
    "Depth scales").  ``progress(done, total)``, if given, is called as blocks of sw2 rows finish.
    """
    code = _check_common(activation, q0, slope)
    sw2 = _variances("sw2", sw2)
    sb2 = _variances("sb2", sb2)
    critical_tol = V.number("critical_tol", critical_tol, lo=0.0)
    trainable_multiple = V.number("trainable_multiple", trainable_multiple, lo=0.0, lo_open=True)
    n_cells = sw2.size * sb2.size
    if n_cells > MAX_CELLS:
        raise V.InputError(f"grid of {n_cells:,} cells exceeds the limit of {MAX_CELLS:,}", "sw2")
    shape = (sw2.size, sb2.size)
    out = {name: np.empty(shape) for name in ("q_star", "c_star", "chi_1", "chi_c", "q_slope", "residual")}
    fixed_point = np.empty(shape, dtype=np.int64)
    converged = np.empty(shape, dtype=np.bool_)
    iterations = np.empty(shape, dtype=np.int64)
    n_blocks = 1 if progress is None else min(sw2.size, 50)
    bounds = np.linspace(0, sw2.size, n_blocks + 1).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        rows = slice(lo, hi)
        # interleave cells so both threads get ordered and chaotic (costlier) cells alike
        order = np.random.default_rng(0).permutation((hi - lo) * sb2.size).astype(np.int64)
        with threads_for(order.size):
            K._phase_grid(code, sw2[rows], sb2, float(q0), float(slope), order, out["q_star"][rows],
                          out["c_star"][rows], out["chi_1"][rows], out["chi_c"][rows], out["q_slope"][rows],
                          fixed_point[rows], converged[rows], iterations[rows], out["residual"][rows])
        if progress is not None:
            progress(hi * sb2.size, n_cells)
    xi_q, xi_c, xi_grad, xi_1, xi_star = depth_scales(out["chi_1"], out["chi_c"], out["q_slope"])
    labels = np.vectorize(FIXED_POINT_LABELS.get, otypes=[object])(fixed_point) if n_cells else \
        np.empty(shape, dtype=object)
    return PhaseGrid(activation=activation, sw2=sw2, sb2=sb2, q_star=out["q_star"], c_star=out["c_star"],
                     chi_1=out["chi_1"], chi_c=out["chi_c"], q_slope=out["q_slope"], xi_q=xi_q, xi_c=xi_c,
                     xi_grad=xi_grad, xi_1=xi_1, xi_star=xi_star, phase=classify_phase(out["chi_1"], critical_tol),
                     fixed_point=labels, converged=converged, iterations=iterations, residual=out["residual"],
                     max_trainable_depth=trainable_multiple * xi_c, trainable_multiple=trainable_multiple)


@dataclass
class CriticalLine(Rows):
    """The order-to-chaos line: for each sb2, sw2_critical with chi_1 = 1 and q* there.

    status: 'ok'; 'unconverged'; 'no_crossing' (chi_1 jumps across 1 because the stable
    fixed point reached from q0 changes branch: the chi_1 = 1 point is unstable);
    'out_of_range' (no crossing for sw2 in the search range); 'q_infinite' (q* infinite
     before chi_1 reaches 1: no crossing on the stable branch).  sw2_critical is NaN unless status is 'ok'.
    """

    activation: str
    sb2: np.ndarray
    sw2_critical: np.ndarray
    q_star: np.ndarray
    status: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray

    def row_count(self) -> int:
        return int(self.sb2.size)


def solve_critical(activation: str, sb2, *, q0: float = 1.0, slope: float = DEFAULT_SLOPE,
                   sw2_range: tuple[float, float] = defaults.SW2_RANGE) -> CriticalLine:
    """Root-solve chi_1(sw2, q*(sw2, sb2)) = 1 for each sb2 (bracketing + Brent, not a grid)."""
    code = _check_common(activation, q0, slope)
    sb2 = _variances("sb2", sb2)
    try:
        lo, hi = (float(v) for v in sw2_range)
    except (TypeError, ValueError):
        raise V.InputError("sw2_range must be a pair (low, high)", "sw2_range") from None
    if not (0 < lo < hi and np.isfinite(hi)):
        raise V.InputError("sw2_range must satisfy 0 < low < high < inf", "sw2_range")
    n = sb2.size
    sw2c = np.empty(n)
    q_star = np.empty(n)
    status = np.empty(n, dtype=np.int64)
    iterations = np.empty(n, dtype=np.int64)
    residual = np.empty(n)
    with threads_for(n):
        K._critical_line(code, sb2, float(q0), float(slope), lo, hi, sw2c, q_star, status, iterations, residual)
    _tiny_sb2(activation, slope, sb2, lo, hi, sw2c, q_star, status, iterations, residual)
    ok = status == K.CR_OK
    sw2c = np.where(ok, sw2c, np.nan)
    q_star = np.where(ok, q_star, np.nan)
    labels = np.array([CRITICAL_STATUS[int(s)] for s in status], dtype=object)
    return CriticalLine(activation=activation, sb2=sb2, sw2_critical=sw2c, q_star=q_star, status=labels,
                        converged=ok, iterations=iterations, residual=residual)


def _tiny_sb2(activation, slope, sb2, lo, hi, sw2c, q_star, status, iterations, residual):
    """Overwrite, in place, the critical points the root solve cannot resolve (docs/theory.md, "Critical line
    at tiny sigma_b^2"): for a homogeneous activation (chi_1 = sw2 E[phi'^2] whatever q) sw2 = 1/E[phi'^2]
    and q* = inf for any sb2 > 0; otherwise sb2 below ``critical_series.SB2_LIMIT`` from the small-q
    expansions, where the activation has them."""
    if ACTIVATIONS[activation].homogeneous:
        value = 1.0 / float(_moment_arrays(activation, np.array([1.0]), slope)[1][0])  # the same at every sb2
        points = [(j, value, np.inf, 0) for j in np.flatnonzero(sb2 > 0.0)]
    else:
        from phasecli.activations import critical_series

        if not critical_series.has_series(activation):
            return
        points = [(j, *critical_series.solve(activation, float(sb2[j])))
                  for j in np.flatnonzero(sb2 < critical_series.SB2_LIMIT)]
    for j, value, q, its in points:
        sw2c[j], q_star[j], iterations[j], residual[j] = value, q, its, 0.0
        status[j] = K.CR_OK if lo <= value <= hi else K.CR_OUT_OF_RANGE


def length_map(activation: str, q, *, slope: float = DEFAULT_SLOPE) -> np.ndarray:
    """E_z[phi(sqrt(q) z)^2] (the length map without sw2, sb2)."""
    return _moment_arrays(activation, q, slope)[0]


def derivative_moment(activation: str, q, *, slope: float = DEFAULT_SLOPE) -> np.ndarray:
    """E_z[phi'(sqrt(q) z)^2]; chi_1 = sw2 * derivative_moment(q*)."""
    return _moment_arrays(activation, q, slope)[1]


def length_map_slope(activation: str, q, *, slope: float = DEFAULT_SLOPE) -> np.ndarray:
    """d/dq E_z[phi(sqrt(q) z)^2]; the q-map slope is sw2 times this."""
    return _moment_arrays(activation, q, slope)[2]


def _moment_arrays(activation, q, slope):
    code = _check_common(activation, 1.0, slope)
    q = np.asarray(q, dtype=np.float64)
    flat = _variances("q", q.ravel())
    outs = [np.empty_like(flat) for _ in range(3)]
    with threads_for(flat.size):
        EK.moments_array(code, flat, float(slope), *outs)
    return [o.reshape(q.shape) for o in outs]


def correlation_expectations(activation: str, q, c, *, slope: float = DEFAULT_SLOPE):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) with u ~ N(0, q [[1, c], [c, 1]]); broadcasts."""
    q, c = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64))
    if np.any(np.abs(c) > 1) or not np.all(np.isfinite(c)):
        raise V.InputError("correlations c must lie in [-1, 1]", "c")
    code = _check_common(activation, 1.0, slope)
    qf = np.ascontiguousarray(_variances("q", q.ravel()))
    cf = np.ascontiguousarray(c.ravel())
    t = np.empty_like(qf)
    tdot = np.empty_like(qf)
    with threads_for(qf.size):
        EK.pair_corr_array(code, qf, cf, float(slope), t, tdot)
    return t.reshape(q.shape), tdot.reshape(q.shape)


def pair_expectations(activation: str, s11, s22, s12, *, slope: float = DEFAULT_SLOPE, shape=None):
    """(T, Tdot) = (E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]), (u1, u2) ~ N(0, [[s11, s12], [s12, s22]])."""
    code = _check_common(activation, 1.0, slope)
    s11, s22, s12 = (np.ascontiguousarray(np.asarray(a, dtype=np.float64).ravel()) for a in
                     np.broadcast_arrays(s11, s22, s12))
    if np.any(s12 * s12 > s11 * s22 * (1 + 1e-12)):
        raise V.InputError("not a covariance: s12^2 > s11 * s22", "s12")
    t = np.empty_like(s11)
    tdot = np.empty_like(s11)
    with threads_for(s11.size):
        EK.pair_array(code, s11, s22, s12, float(slope), t, tdot)
    if shape is not None:
        t, tdot = t.reshape(shape), tdot.reshape(shape)
    return t, tdot


def concat_grids(grids) -> PhaseGrid:
    """One PhaseGrid from blocks of consecutive sw2 rows over the same sb2 (as ``phasecli.runtime.sweep`` yields them)."""
    grids = list(grids)
    if not grids:
        raise V.InputError("no grid blocks to join", "grids")
    first = grids[0]
    arrays = {name: np.concatenate([np.asarray(getattr(g, name)) for g in grids], axis=0)
              for name in first.array_names()}
    return PhaseGrid(activation=first.activation, sw2=np.concatenate([g.sw2 for g in grids]), sb2=first.sb2,
                     trainable_multiple=first.trainable_multiple, **arrays)


MAX_SWEEP_CELLS = 1_000_000_000  # a streamed grid is bounded by time only (1e9 cells: hours on 2 cores)


def phase_sweep(activation: str, sw2, sb2, *, q0: float = 1.0, slope: float = DEFAULT_SLOPE, scheduler=None,
                **kwargs):
    """``solve_phase`` on blocks of consecutive sw2 rows (every sb2), in order: a ``plans.Sweep`` of PhaseGrid
    blocks whose progress units are cells.  ``kwargs``: the other keywords of ``solve_phase``."""
    from phasecli.runtime import plans
    from phasecli.runtime import sweep

    n_cells = len(sw2) * len(sb2)
    if n_cells > MAX_SWEEP_CELLS:
        raise V.InputError(f"grid of {n_cells:,} cells is too large (at most {MAX_SWEEP_CELLS:,})", "grid")
    blocks = sweep.row_blocks(len(sw2), len(sb2))
    return plans.Sweep(solve_phase, [{"sw2": sw2[a:b]} for a, b in blocks],
                       dict(activation=activation, sb2=sb2, q0=q0, slope=slope, **kwargs), scheduler,
                       units=[(b - a) * len(sb2) for a, b in blocks])


def scale_curves(activation: str, axis: str, sw2, sb2, *, q0: float = 1.0, slope: float = DEFAULT_SLOPE,
                 n: int = 400) -> dict:
    """xi_1 and xi_star on ``n`` points spanning the swept variable ``axis`` ('sw2' or 'sb2') at the other's
    first value (figures draw them over a sweep); along sw2 the critical sw2 is added to the points.
    Returns {'x', 'xi_1', 'xi_star'}."""
    values = sw2 if axis == "sw2" else sb2
    fine = np.linspace(min(values), max(values), n)
    if axis == "sw2":
        line = solve_critical(activation, [sb2[0]], q0=q0, slope=slope)
        extra = line.sw2_critical[np.isfinite(line.sw2_critical)]
        fine = np.unique(np.concatenate([fine, extra[(extra >= fine[0]) & (extra <= fine[-1])]]))
        grid = solve_phase(activation, fine, [sb2[0]], q0=q0, slope=slope)
        return {"x": fine, "xi_1": grid.xi_1[:, 0], "xi_star": grid.xi_star[:, 0]}
    grid = solve_phase(activation, [sw2[0]], fine, q0=q0, slope=slope)
    return {"x": fine, "xi_1": grid.xi_1[0], "xi_star": grid.xi_star[0]}


def critical_curve(activation: str, sb2, *, q0: float = 1.0, slope: float = DEFAULT_SLOPE) -> CriticalLine:
    """The critical line on a fine sb2 grid spanning ``sb2`` (denser near its low end), for a figure."""
    lo, hi = float(min(sb2)), float(max(sb2))
    fine = np.unique(np.concatenate([np.linspace(lo, hi, 160), lo + (hi - lo) * np.geomspace(1e-4, 1, 40)]))
    return solve_critical(activation, fine, q0=q0, slope=slope)
