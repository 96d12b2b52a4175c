"""Dynamical isometry: the infinite-width spectrum of J J^T for the input-output Jacobian
J = D^L W^L ... D^1 W^1 of a deep network (docs/theory.md section 14, "Jacobian spectrum").

Pre-activations sit at the mean-field fixed point q* (reached from q0) in every layer, so
D^l = diag phi'(h^l) with h^l ~ N(0, q*); weights are sqrt(sw2/N) times a standard Gaussian
matrix or sqrt(sw2) times a Haar orthogonal one.  Free probability (Pennington, Schoenholz
& Ganguli 2017, 2018) multiplies S-transforms: S_{JJ^T} = (S_{W^T W} S_{D^2})^L with
S_{W^T W}(u) = 1 / (sw2 (1 + u)) (Gaussian) or 1 / sw2 (orthogonal).  From it:

- moments exactly: mean_s2 = chi_1^L, var_s2 = chi_1^(2L) L (Var(d)/mu_1^2 + [1 Gaussian]),
  with d = phi'(sqrt(q*) z)^2, mu_k = E[d^k]; every higher moment from the S-transform's
  power series (``free_moments``);
- the support edges s2_max, s2_min: stationary points of the inverse moment generating
  function on the real axis (0 where the support touches 0: Gaussian weights always,
  orthogonal ones whenever phi'^2 comes arbitrarily close to 0);
- the density: Newton continuation for the subordination variable on x (1 + i eps).

Details and accuracy: docs/theory.md section 14.  Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from phasecli.expectations.kernels import Z_MAX
from phasecli.jacobian_spectrum import kernels as K
from phasecli import validate as V
from phasecli.errors import InputError, RuntimeFailure
from phasecli.results import Rows

WEIGHTS = ("gaussian", "orthogonal")
GAUSSIAN_FLAG = {"gaussian": 1.0, "orthogonal": 0.0}
INTEGRAL_TOL = 1e-13  # relative tolerance of every adaptive integral over the law of d
DENSITY_EPS = 1e-7  # the density is evaluated at z = x (1 + i DENSITY_EPS)
MAX_ORDER = 40
STATUS_TEXT = {
    "ok": "ok",
    "q_infinite": "q* is infinite (q^l grows without bound): no fixed point to put every layer at",
    "unconverged": "the mean-field fixed point did not converge",
    "no_critical": "no critical sw2 (chi_1 = 1) at this sb2",
    "edge_unconverged": "the support edge could not be located to tolerance",
}


# ----------------------------------------------------------------------------- the law of d = phi'^2

@dataclass(frozen=True)
class DerivativeLaw:
    """The law of d = factor * phi'(sq t)^2, t ~ N(0, 1), for the activation with ``code``.

    q* = 0 (the signal dies) is the limit law: phi'(0+)^2 or phi'(0-)^2 with probability 1/2,
    represented as leaky_relu's law times ``factor``.  d_min, d_max bound the support of
    phi'^2 (before ``factor``); ``breaks`` are the t-panels' ends (kinks, active region)."""

    activation: str
    code: int
    sq: float
    slope: float
    factor: float
    d_min: float
    d_max: float
    breaks: np.ndarray = field(repr=False)

    def moments(self, kmax: int = 2) -> tuple:
        """(mu, var): mu[k-1] = E[d^k] for k = 1..kmax and Var(d) (a centered integral)."""
        out = np.empty(kmax + 1)
        ok = K._law_moments(self.code, self.sq, self.slope, self.d_max, self.breaks, INTEGRAL_TOL, kmax, out)
        if not ok:
            raise RuntimeFailure("the moments of phi'^2 did not converge")
        powers = self.factor ** np.arange(1, kmax + 1)
        return out[:kmax] * powers, out[kmax] * self.factor ** 2

    def stieltjes(self, w) -> tuple:
        """(E[d/(w-d)], E[d/(w-d)^2]) at complex w off the support (before ``factor``); for tests."""
        buf = np.empty(2, dtype=np.complex128)
        _, ok = K._integrate(K.MODE_STIELTJES, self.code, self.sq, self.slope, self.d_max,
                             complex(w) - self.d_max, 0.0, self.breaks, INTEGRAL_TOL, INTEGRAL_TOL, buf)
        return buf[0], buf[1], bool(ok)


def _breaks(kinks, sq: float) -> np.ndarray:
    zmax = Z_MAX
    points = [-zmax, zmax, 0.0]
    for u in list(kinks) + [1.0, -1.0, 4.0, -4.0, 20.0, -20.0]:
        t = u / sq
        if -zmax < t < zmax:
            points.append(t)
    return np.unique(np.asarray(points, dtype=np.float64))


def derivative_law(activation: str, q_star: float, *, slope: float = 0.01) -> DerivativeLaw:
    """The law of phi'(sqrt(q*) z)^2 (homogeneous activations: independent of q*)."""
    act = V.activation(activation)
    slope = V.slope(slope)
    q_star = V.variance("q_star", q_star)
    if act.homogeneous:
        q_star = 1.0
    if q_star > 0.0:
        lo, hi = act.dphi_sq_range(slope)
        if not math.isfinite(hi):
            raise V.InputError(f"the Jacobian spectrum of {act.name!r} is not computed: phi' is unbounded (sup "
                               "phi'^2 = inf), so the law of phi'^2 has no upper edge", "activation")
        sq = math.sqrt(q_star)
        return DerivativeLaw(act.name, act.code, sq, slope, 1.0, lo, hi, _breaks(act.kinks, sq))
    pair = np.empty(2)
    K._d2_array(act.code, np.array([1e-300, -1e-300]), slope, pair)
    top, bottom = float(pair.max()), float(pair.min())
    ratio = math.sqrt(bottom / top) if top > 0 else 1.0
    leaky = V.activation("leaky_relu")
    return DerivativeLaw(act.name, leaky.code, 1.0, ratio, top, ratio * ratio, 1.0, _breaks(leaky.kinks, 1.0))


# ----------------------------------------------------------------------------- power series (S-transform)
def _mul(a, b, order):
    return np.convolve(a, b)[: order + 1]


def _compose(a, b, order):
    """a(b(u)) truncated at ``order`` (b[0] = 0)."""
    out = np.zeros(order + 1)
    for coef in a[::-1]:
        out = _mul(out, b, order)
        out[0] += coef
    return out


def _reversion(f, order):
    """g with f(g(u)) = u (f[0] = 0, f[1] != 0), one order per fixed-point sweep."""
    g = np.zeros(order + 1)
    g[1] = 1.0 / f[1]
    rest = f.copy()
    rest[1] = 0.0
    for _ in range(order):
        g_new = -_compose(rest, g, order) / f[1]
        g_new[1] += 1.0 / f[1]
        g = g_new
    return g


def _power(s, alpha, order):
    """s(u)^alpha for s[0] = 1 (J. C. P. Miller's recurrence), any real alpha."""
    a = np.zeros(order + 1)
    a[0] = 1.0
    for n in range(1, order + 1):
        k = np.arange(1, n + 1)
        a[n] = np.sum(((alpha + 1.0) * k - n) * s[1: n + 1] * a[n - k]) / n
    return a


def free_moments(mu, sw2: float, depth: int, weights: str = "gaussian") -> np.ndarray:
    """Moments E[lambda^k], k = 1..len(mu), of the limiting eigenvalue law of J J^T, from
    mu[k-1] = E[d^k] = E[phi'(sqrt(q*) z)^(2k)] by the S-transform's power series:
    S_{JJ^T} = (S_{W^T W} S_{D^2})^L, psi = sum_k m_k u^k, chi = psi^{-1}, S = chi (1 + u) / u.

    Exact (to rounding) for every depth; the series is taken for d / mu_1 and rescaled by
    chi_1^(L k), so large depths do not overflow the coefficients."""
    mu = np.asarray(mu, dtype=np.float64).ravel()
    order = mu.size
    if order < 1 or order > MAX_ORDER or not np.all(np.isfinite(mu)) or mu[0] <= 0:
        raise InputError(f"mu must hold 1..{MAX_ORDER} finite moments with mu[0] > 0", "mu")
    sw2 = V.number("sw2", sw2, lo=0.0, lo_open=True)
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    g = _weights_flag(weights)
    psi = np.zeros(order + 1)
    psi[1:] = mu / mu[0] ** np.arange(1, order + 1)
    chi = _reversion(psi, order)
    s_d = _mul(np.append(chi[1:], 0.0), np.array([1.0, 1.0]), order)  # chi(u) (1 + u) / u, s_d[0] = 1
    s_w = (-1.0) ** np.arange(order + 1) if g else np.eye(1, order + 1)[0]
    s_j = _power(_mul(s_d, s_w, order), float(depth), order)
    chi_j = np.zeros(order + 1)
    chi_j[1:] = _mul(s_j, (-1.0) ** np.arange(order + 1), order)[:order]  # S u / (1 + u)
    psi_j = _reversion(chi_j, order)
    log_chi = math.log(sw2 * mu[0])
    with np.errstate(over="ignore"):
        return psi_j[1:] * np.exp(depth * log_chi * np.arange(1, order + 1))


def _weights_flag(weights) -> float:
    if weights not in WEIGHTS:
        raise InputError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}", "weights")
    return GAUSSIAN_FLAG[weights]


def weights_list(weights) -> tuple:
    """'gaussian', 'orthogonal', 'gaussian,orthogonal' or a sequence of them, as a tuple (validated)."""
    items = [w.strip() for w in weights.split(",")] if isinstance(weights, str) else list(weights)
    if not items:
        raise InputError("weights: nothing given", "weights")
    out = []
    for w in items:
        _weights_flag(w)
        if w not in out:
            out.append(w)
    return tuple(out)


# ----------------------------------------------------------------------------- one (sw2, sb2) point
@dataclass
class _Point:
    activation: str
    sw2: float
    sb2: float
    q_star: float
    chi_1: float
    phase: str
    status: str
    law: DerivativeLaw | None


def _resolve_point(activation, sw2, sb2, q0, slope, critical_tol=1e-6) -> _Point:
    from phasecli import meanfield

    act = V.activation(activation)
    sb2 = V.variance("sb2", sb2)
    q0 = V.q0(q0)
    slope = V.slope(slope)
    if isinstance(sw2, str) and sw2.strip().lower() == "critical":
        line = meanfield.solve_critical(act.name, [sb2], q0=q0, slope=slope)
        if line.status[0] != "ok":
            return _Point(act.name, math.nan, sb2, math.nan, math.nan, "unknown", "no_critical", None)
        sw2 = float(line.sw2_critical[0])
    else:
        sw2 = V.variance("sw2", sw2)
    grid = meanfield.solve_phase(act.name, [sw2], [sb2], q0=q0, slope=slope, critical_tol=critical_tol)
    q_star, chi_1 = float(grid.q_star[0, 0]), float(grid.chi_1[0, 0])
    phase, fixed_point = str(grid.phase[0, 0]), str(grid.fixed_point[0, 0])
    if fixed_point == "infinite" or math.isinf(q_star):
        return _Point(act.name, sw2, sb2, math.inf, chi_1, phase, "q_infinite", None)
    if fixed_point == "unconverged" or not math.isfinite(q_star):
        return _Point(act.name, sw2, sb2, q_star, chi_1, phase, "unconverged", None)
    law = derivative_law(act.name, q_star if fixed_point != "zero" else 0.0, slope=slope)
    return _Point(act.name, sw2, sb2, q_star, chi_1, phase, "ok", law)


def _normalized_variance(law: DerivativeLaw) -> tuple:
    """(mu_1, Var(d) / mu_1^2)."""
    mu, var = law.moments(2)
    if mu[0] <= 0.0:
        return 0.0, 0.0
    return float(mu[0]), float(var / mu[0] ** 2)


def _mean_var(chi_1, kappa_d, depths, g):
    L = depths.astype(np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        log_chi = math.log(chi_1) if chi_1 > 0 else -math.inf
        mean = np.exp(L * log_chi)
        var = np.exp(2.0 * L * log_chi) * L * (kappa_d + g)
    if chi_1 == 0.0:
        var = np.zeros_like(L)
    return mean, var


def spectrum_moments(activation: str, sw2, sb2, depths, *, weights: str = "gaussian", q0: float = 1.0,
                     slope: float = 0.01) -> dict:
    """Mean and variance of the limiting eigenvalue law of J J^T at every depth (docs/theory.md section 14,
    "Jacobian spectrum"): {"mean_s2": (n,), "var_s2": (n,), "q_star", "chi_1", "sw2", "status"}.

    mean_s2 = chi_1^L, var_s2 = chi_1^(2L) L (Var(phi'^2)/E[phi'^2]^2 + [1 for Gaussian weights]).
    ``sw2`` may be 'critical' (the root-solved chi_1 = 1 at sb2).  Where q* is infinite, the
    fixed point did not converge or there is no critical sw2, the arrays are NaN and
    ``status`` says why ('q_infinite', 'unconverged', 'no_critical'; else 'ok')."""
    depths = V.depths(depths)
    g = _weights_flag(weights)
    point = _resolve_point(activation, sw2, sb2, q0, slope)
    out = {"q_star": point.q_star, "chi_1": point.chi_1, "sw2": point.sw2, "status": point.status}
    if point.law is None:
        out["mean_s2"] = np.full(depths.size, np.nan)
        out["var_s2"] = np.full(depths.size, np.nan)
        return out
    _, kappa_d = _normalized_variance(point.law)
    out["mean_s2"], out["var_s2"] = _mean_var(point.chi_1, kappa_d, depths, g)
    return out


# ----------------------------------------------------------------------------- edges and rows
@dataclass
class Edges:
    """Support edges of the eigenvalue law of J J^T per depth; kind: 'stationary' (a square-root
    edge), 'limit' (the edge is the supremum of the subordination branch, e.g. L = 1 orthogonal),
    'zero' (the support reaches 0) or 'failed'."""

    s2_max: np.ndarray
    s2_min: np.ndarray
    upper: np.ndarray = field(repr=False)  # raw kernel output (s_edge, log z, curvature, kind, iterations)
    lower: np.ndarray = field(repr=False)
    converged: np.ndarray = field(repr=False)


def support_edges(law: DerivativeLaw, sw2: float, depths, weights: str) -> Edges:
    """s2_max and s2_min of the spectrum of J J^T for the law of phi'^2 ``law`` at every depth."""
    depths = V.depths(depths)
    g = _weights_flag(weights)
    sw2 = V.number("sw2", sw2, lo=0.0, lo_open=True)
    n = depths.size
    upper = np.full((n, 5), np.nan)
    lower = np.full((n, 5), np.nan)
    if law.factor == 0.0:
        zeros = np.zeros(n)
        return Edges(zeros, zeros.copy(), upper, lower, np.ones(n, dtype=bool))
    lsw2 = math.log(sw2 * law.factor)
    d_min = law.d_min if g == 0.0 else 0.0
    K._edges(law.code, law.sq, law.slope, law.d_max, d_min, depths, g, lsw2, law.breaks, INTEGRAL_TOL, upper, lower)
    with np.errstate(over="ignore"):
        s2_max = np.exp(upper[:, 1])
        s2_min = np.exp(lower[:, 1])
    converged = (upper[:, 3] != K.EDGE_FAILED) & (lower[:, 3] != K.EDGE_FAILED)
    s2_max = np.where(converged, s2_max, np.nan)
    s2_min = np.where(converged, s2_min, np.nan)
    return Edges(s2_max, s2_min, upper, lower, converged)


@dataclass
class JacobianSpectrum(Rows):
    """Rows of ``phasecli jacobian`` for one (sw2, sb2) point: every weight law x every depth.

    Arrays have one entry per row (weights outer, depth inner); status per row ('ok' or a
    key of STATUS_TEXT)."""

    activation: str
    sw2: float
    sb2: float
    q_star: float
    chi_1: float
    phase: str
    weights: np.ndarray
    depth: np.ndarray
    mean_s2: np.ndarray
    var_s2: np.ndarray
    s2_max: np.ndarray
    s2_min: np.ndarray
    status: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.depth.size)

    SCALARS = ("activation", "sw2", "sb2", "q_star", "chi_1", "phase")  # the point's: on every row

    def row_values(self, n: int) -> dict:
        """The measured columns of ``extra`` (the point's scalars are never replaced)."""
        out = {"architecture": ["fc"] * n, "residual_scale": np.full(n, np.nan), "layer_norm": [""] * n}
        out.update({name: np.asarray(value) for name, value in self.extra.items() if name not in self.SCALARS})
        return out


def jacobian_spectrum(activation: str, sw2, sb2, depths, *, weights=("gaussian",), q0: float = 1.0,
                      slope: float = 0.01, critical_tol: float = 1e-6) -> JacobianSpectrum:
    """q*, chi_1, mean_s2, var_s2, s2_max, s2_min of J J^T for each weight law and depth at (sw2, sb2).

    A module-level function of keywords only, so that ``phasecli.runtime.sweep`` can run many points
    on a cluster.  ``sw2='critical'`` uses the root-solved critical sw2 at sb2."""
    depths = V.depths(depths)
    laws = weights_list(weights)
    point = _resolve_point(activation, sw2, sb2, q0, slope, critical_tol)
    n = depths.size
    cols = {k: [] for k in ("weights", "depth", "mean_s2", "var_s2", "s2_max", "s2_min", "status")}
    kappa_d = _normalized_variance(point.law)[1] if point.law is not None else math.nan
    for w in laws:
        cols["weights"] += [w] * n
        cols["depth"].append(depths)
        if point.law is None:
            nan = np.full(n, np.nan)
            for key in ("mean_s2", "var_s2", "s2_max", "s2_min"):
                cols[key].append(nan)
            cols["status"] += [point.status] * n
            continue
        mean, var = _mean_var(point.chi_1, kappa_d, depths, GAUSSIAN_FLAG[w])
        edges = support_edges(point.law, point.sw2, depths, w)
        cols["mean_s2"].append(mean)
        cols["var_s2"].append(var)
        cols["s2_max"].append(edges.s2_max)
        cols["s2_min"].append(edges.s2_min)
        cols["status"] += ["ok" if c else "edge_unconverged" for c in edges.converged]
    arrays = {k: (np.concatenate(v) if k not in ("weights", "status") else np.array(v, dtype=object))
              for k, v in cols.items()}
    return JacobianSpectrum(point.activation, point.sw2, point.sb2, point.q_star, point.chi_1, point.phase,
                            **arrays)


# ----------------------------------------------------------------------------- density
@dataclass
class Density:
    """The eigenvalue density rho(lambda) of J J^T on a grid (ascending), and the same law for the
    singular values sigma = sqrt(lambda) of J: p(sigma) = 2 sigma rho(sigma^2)."""

    weights: str
    depth: int
    eigenvalue: np.ndarray
    density: np.ndarray
    converged: np.ndarray
    s2_max: float
    s2_min: float

    @property
    def sigma(self) -> np.ndarray:
        return np.sqrt(self.eigenvalue)

    @property
    def sigma_density(self) -> np.ndarray:
        return 2.0 * self.sigma * self.density


def spectral_density(activation: str, sw2, sb2, depth: int, *, weights: str = "gaussian", q0: float = 1.0,
                     slope: float = 0.01, points: int = 400, span: float = 1e-10, eps: float = DENSITY_EPS) -> Density:
    """rho(lambda) on ``points`` log-spaced eigenvalues from span * s2_max (or s2_min) to s2_max, refined
    towards the edges (a square-root edge is included with density 0)."""
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    points = V.integer("points", points, lo=2, hi=100_000)
    span = V.number("span", span, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    eps = V.number("eps", eps, lo=0.0, hi=1e-2, lo_open=True)
    _weights_flag(weights)
    point = _resolve_point(activation, sw2, sb2, q0, slope)
    if point.law is None:
        raise RuntimeFailure(f"no spectrum at sw2={point.sw2:g}, sb2={point.sb2:g}: {STATUS_TEXT[point.status]}")
    return density_for_law(point.law, point.sw2, depth, weights, points=points, span=span, eps=eps)


def density_for_law(law: DerivativeLaw, sw2: float, depth: int, weights: str, *, points: int = 400,
                    span: float = 1e-10, eps: float = DENSITY_EPS) -> Density:
    """The density of J J^T for a given law of phi'^2 (see ``spectral_density``)."""
    g = _weights_flag(weights)
    edges = support_edges(law, sw2, [depth], weights)
    s2_max, s2_min = float(edges.s2_max[0]), float(edges.s2_min[0])
    if not edges.converged[0]:
        raise RuntimeFailure(f"the support edge of the depth-{depth} spectrum did not converge")
    if not s2_max < 1e300:
        raise RuntimeFailure(f"the depth-{depth} spectrum (s2_max = {s2_max:g}) is outside the float64 range")
    lo = s2_min if s2_min > 0 else span * s2_max
    if s2_max <= lo * (1 + 1e-9):
        x = np.array([s2_max])
        return Density(weights, depth, x, np.array([np.inf]), np.array([True]), s2_max, s2_min)
    log_x = _density_grid(s2_max, lo, s2_min > 0, points)
    up = edges.upper[0]
    lsw2 = math.log(sw2 * law.factor)
    s_edge, log_edge, curvature = float(up[0]), float(up[1]), float(up[2])
    if up[3] != K.EDGE_STATIONARY:
        curvature = math.nan
    s_start, log_start = _start_above(law, lsw2, depth, g, s_edge, log_edge)
    n = log_x.size
    density = np.empty(n)
    s_out = np.empty(n, dtype=np.complex128)
    converged = np.zeros(n, dtype=np.bool_)
    K._density_path(law.code, law.sq, law.slope, law.d_max, float(depth), g, lsw2, law.breaks, INTEGRAL_TOL,
                    log_x, eps, s_start, log_start, s_edge, log_edge, curvature, density, s_out, converged)
    x, dens, ok = np.exp(log_x[::-1]), np.clip(density[::-1], 0.0, None), converged[::-1]
    if up[3] == K.EDGE_STATIONARY:  # a square-root edge: the density vanishes there
        x, dens, ok = np.append(x, s2_max), np.append(dens, 0.0), np.append(ok, True)
    if s2_min > 0 and edges.lower[0, 3] == K.EDGE_STATIONARY:
        x, dens, ok = np.insert(x, 0, s2_min), np.insert(dens, 0, 0.0), np.insert(ok, 0, True)
    return Density(weights, depth, x, dens, ok, s2_max, s2_min)


def _density_grid(top, bottom, lower_edge, points):
    """Descending log eigenvalues strictly inside (bottom, top): log-uniform, refined towards the edges."""
    inner = np.linspace(math.log(top), math.log(bottom), points + 2)[1:-1]
    near = [math.log(top) + math.log1p(-10.0 ** -k) for k in range(1, 9)]
    if lower_edge:
        near += [math.log(bottom) + math.log1p(10.0 ** -k) for k in range(1, 9)]
    grid = np.unique(np.concatenate([inner, near]))
    return grid[(grid < math.log(top)) & (grid > math.log(bottom))][::-1].copy()


def _start_above(law, lsw2, depth, g, s_edge, log_edge):
    """A real point of the physical branch just above the upper edge: (s, log z)."""
    res = np.empty(3)
    s = s_edge * 1.05 + 1e-12
    K._branch(law.code, law.sq, law.slope, law.d_max, law.d_min, s, False, float(depth), g, lsw2, law.breaks,
              INTEGRAL_TOL, res)
    return s, float(res[0])


def jacobian_sweep(activation: str, points, depths, *, weights=("gaussian",), q0: float = 1.0, slope: float = 0.01,
                   scheduler=None):
    """``jacobian_spectrum`` at every (sw2, sb2) of ``points`` (sw2 may be 'critical'), in order: a
    ``plans.Sweep``."""
    from phasecli.runtime import plans

    return plans.Sweep(jacobian_spectrum, [{"sw2": a, "sb2": b} for a, b in points],
                       dict(activation=activation, depths=depths, weights=weights, q0=q0, slope=slope), scheduler)


def spectral_densities(activation: str, sw2: float, sb2: float, depths, *, weights=("gaussian",), q0: float = 1.0,
                       slope: float = 0.01, points: int = 500):
    """Yield (weights, depth, ``spectral_density``) for every weight law (outer) and depth, as each is done."""
    for w in weights:
        for d in depths:
            yield w, int(d), spectral_density(activation, sw2, sb2, int(d), weights=w, q0=q0, slope=slope,
                                              points=points)


# ----------------------------------------------------------------------------- residual networks
RESNET_STATUS = "resnet_mean_only"
STATUS_TEXT[RESNET_STATUS] = ("residual network: only mean_s2 is derived (var_s2, s2_max, s2_min are not: the blocks' "
                              "diagonals are correlated through the skip path, so free products do not apply)")
STATUS_TEXT.setdefault("overflow", "q^l of the residual stream (and the gradient growth) overflows float64 before "
                                   "this depth")
INFORMATIONAL = (RESNET_STATUS,)  # statuses of rows whose empty columns are by design, not failures


def resnet_jacobian_spectrum(activation: str, sw2, sb2, depths, *, weights=("gaussian",), q0: float = 1.0,
                             slope: float = 0.01, residual_scale=1.0, layer_norm: str = "none") -> JacobianSpectrum:
    """mean_s2 = prod_l chi_l of J J^T, J = dh^L / dh^0 the residual stream's Jacobian, for each weight law (the
    same for both) and depth (``meanfield.resnet.stream``; NaN with status 'overflow' past a float64 overflow); q_star, chi_1 and the phase do not exist (NaN, ''),
    var_s2, s2_max and s2_min are not derived (NaN, status ``RESNET_STATUS``).  ``extra``: architecture,
    residual_scale (alpha per row), layer_norm."""
    from phasecli.meanfield.resnet import stream
    from phasecli.ntk.engines.resnet import check_layer_norm, check_residual_scale, residual_alpha

    act = V.activation(activation)
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    depths = V.depths(depths)
    q0, slope = V.q0(q0), V.slope(slope)
    scale = check_residual_scale(residual_scale)
    ln = check_layer_norm(layer_norm)
    laws = weights_list(weights)
    n = depths.size
    alphas = np.array([residual_alpha(scale, int(L)) for L in depths])
    means = np.empty(n)
    with np.errstate(over="ignore", invalid="ignore"):
        if scale == "depth":
            for i, L in enumerate(depths):
                means[i] = np.prod(stream(act.name, sw2, sb2, int(L), q0=q0, slope=slope, alpha=alphas[i],
                                          layer_norm=ln)[1])
        else:
            growth = np.cumprod(stream(act.name, sw2, sb2, int(depths[-1]), q0=q0, slope=slope, alpha=alphas[0],
                                       layer_norm=ln)[1])
            means = growth[depths - 1]
    over = ~np.isfinite(means)
    means[over] = np.nan
    status = np.where(over, "overflow", RESNET_STATUS)
    rows = n * len(laws)
    nan = np.full(rows, np.nan)
    extra = {"architecture": ["resnet"] * rows, "residual_scale": np.tile(alphas, len(laws)), "layer_norm": [ln] * rows}
    return JacobianSpectrum(act.name, sw2, sb2, math.nan, math.nan, "",
                            np.array([w for w in laws for _ in range(n)], dtype=object), np.tile(depths, len(laws)),
                            np.tile(means, len(laws)), nan, nan.copy(), nan.copy(),
                            np.array(list(status) * len(laws), dtype=object), extra)
