"""The theory's verdict on an initialization, and a recommended one: the numeric core of
``phasecli check`` and ``phasecli init`` (never prints; sw2, sb2 are *variances*).

check: for one (activation, sw2, sb2) and every depth L, the criteria in this order (the
first that fails is the ``reason``; ``docs/theory.md section 15`` has the derivations):

1. signal: q* finite, and non-zero unless the point is critical (docs/theory.md section 2:
   q* = inf, q^l grows without bound; q* = 0, the signal dies, except at the critical point
   of an odd activation at sb2 = 0, e.g. tanh sw2 = 1, erf sw2 = pi/4, where q^l -> 0 only
   polynomially).  A marginal fixed point (relu or linear at sw2 = 2 / 1, sb2 = 0) passes.
2. trainability: L <= trainable_multiple * xi_c (Schoenholz et al. 2017: about 6 xi_c).
3. conditioning (ordered side, chi_1 <= 1): L <= conditioning_multiple * xi_1 (Xiao et al.:
   the NTK's kappa grows like exp(L / xi_1) / L).
4. generalization (chaotic side, chi_1 > 1): L <= generalization_multiple * xi_star (Xiao et
   al.: the input-dependent part of the trained networks' mean output decays like
   exp(-L / xi_star) while their random initial function stays; the multiple 2 is measured
   on the ensemble of trained networks, bench/RESULTS_gate_multiples.md).
5. learning rate (only with ``eta``): eta <= eta_max = 2 / lambda_max of the NTK on ``X`` at
   depth L (docs/theory.md section 6; ``loss='mean'`` multiplies it by m).

A criterion that does not apply on this side of the transition has the limit inf (no
limit) and the status 'n/a'.  A limit that is NaN (undefined) never passes.

init: sw2 root-solved on the critical line (chi_1 = 1) for sb2, and sb2, when not given,
from the dynamical-isometry rule of ``default_sb2``.  Residual networks have no critical line:
``recommend_resnet`` root-solves sw2 for a gradient growth prod_l chi_l = grad_growth at depth L
(docs/theory.md section 17, "A recommended residual initialization").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from phasecli import defaults
from phasecli import validate as V
from phasecli.errors import RuntimeFailure
from phasecli.results import Rows

DEFAULT_TRAINABLE_MULTIPLE = defaults.TRAINABLE_MULTIPLE
DEFAULT_CONDITIONING_MULTIPLE = defaults.CONDITIONING_MULTIPLE
DEFAULT_GENERALIZATION_MULTIPLE = defaults.GENERALIZATION_MULTIPLE
DEFAULT_CRITICAL_TOL = defaults.CRITICAL_TOL
DEFAULT_GRAD_GROWTH = defaults.GRAD_GROWTH
CRITERIA = ("signal", "trainability", "conditioning", "generalization", "learning_rate")
CRITICAL_TEXT = {
    "unconverged": "the root solver did not converge",
    "no_crossing": "chi_1 jumps across 1 where the stable fixed point from q0 changes branch",
    "q_infinite": "q* becomes infinite before chi_1 reaches 1",
    "out_of_range": "chi_1 does not cross 1 for sw2 in [0.001 10000]",
}
# default sb2 of init (see ``default_sb2``)
ISOMETRY_EXCESS = 1.0
SB2_SEARCH = (1e-12, 1.0)
SB2_GRID_POINTS = 25
BISECTIONS = 20  # the grid ratio 10^0.5 shrinks to a relative 1e-6 in sb2
FALLBACK_SB2 = 0.05


def _g(x: float) -> str:
    return f"{x:.4g}"


@dataclass
class Verdicts(Rows):
    """The verdict per row (one row per configuration and depth): column -> 1-D array.

    verdict 'pass' | 'fail'; reason: the first failed criterion with its numbers (empty on
    pass); failed: that criterion's name.  signal ... learning_rate: 'pass', 'fail' or 'n/a'.
    """

    activation: str
    sw2: np.ndarray
    sb2: np.ndarray
    depth: np.ndarray
    verdict: np.ndarray
    reason: np.ndarray
    failed: np.ndarray
    q_star: np.ndarray
    fixed_point: np.ndarray
    phase: np.ndarray
    chi_1: np.ndarray
    chi_c: np.ndarray
    xi_c: np.ndarray
    xi_1: np.ndarray
    xi_star: np.ndarray
    max_trainable_depth: np.ndarray
    max_conditioned_depth: np.ndarray
    max_generalizing_depth: np.ndarray
    eta: np.ndarray
    eta_max: np.ndarray
    signal: np.ndarray
    trainability: np.ndarray
    conditioning: np.ndarray
    generalization: np.ndarray
    learning_rate: np.ndarray
    architecture: np.ndarray = None  # appended columns: fc rows 'fc', NaN, ''
    residual_scale: np.ndarray = None
    layer_norm: np.ndarray = None

    def __post_init__(self):
        n = self.depth.size
        if self.architecture is None:
            self.architecture = np.array(["fc"] * n, dtype=object)
            self.residual_scale = np.full(n, np.nan)
            self.layer_norm = np.array([""] * n, dtype=object)

    @property
    def passed(self) -> np.ndarray:
        return self.verdict == "pass"


def concat(results) -> Verdicts:
    """One Verdicts from several (rows in order)."""
    results = list(results)
    if not results:
        raise V.InputError("no results to join", "results")
    arrays = {f.name: np.concatenate([getattr(r, f.name) for r in results])
              for f in fields(Verdicts) if f.name != "activation"}
    return Verdicts(activation=results[0].activation, **arrays)


def _resolve_sw2(activation, sw2, sb2, q0, slope):
    """(sw2, None) or, for sw2 = 'critical' without a critical point, (nan, reason)."""
    from phasecli import meanfield

    if isinstance(sw2, str):
        if sw2.strip().lower() != "critical":
            raise V.InputError(f"sw2 must be a variance or 'critical', got {sw2!r}", "sw2")
        line = meanfield.solve_critical(activation, [sb2], q0=q0, slope=slope)
        status = str(line.status[0])
        if status != "ok":
            return math.nan, f"no critical sw2 at sb2={sb2:g} ({status}: {CRITICAL_TEXT.get(status, status)})"
        return float(line.sw2_critical[0]), None
    return V.variance("sw2", sw2), None


def _limit(multiple, scale, applies):
    """multiple * scale where the criterion applies, inf (no limit) where it does not; NaN stays NaN."""
    return multiple * scale if applies else math.inf


def check_point(activation: str, sw2, sb2, depths, *, q0: float = 1.0, slope: float = 0.01,
                trainable_multiple: float = DEFAULT_TRAINABLE_MULTIPLE,
                conditioning_multiple: float = DEFAULT_CONDITIONING_MULTIPLE,
                generalization_multiple: float = DEFAULT_GENERALIZATION_MULTIPLE,
                critical_tol: float = DEFAULT_CRITICAL_TOL, eta=None, X=None, loss: str = "sum",
                normalize: bool = True) -> Verdicts:
    """The criteria of the module docstring for one (sw2, sb2) at every depth (sorted, de-duplicated).

    ``sw2`` may be 'critical' (root-solved chi_1 = 1 at sb2; no critical point fails every
    row).  ``eta`` (with inputs ``X``, rows) adds the learning-rate criterion.
    """
    from phasecli import meanfield

    act = V.activation(activation)
    sb2 = V.variance("sb2", sb2)
    depths = V.depths(depths)
    q0, slope = V.q0(q0), V.slope(slope)
    multiples = [V.number(name, value, lo=0.0, lo_open=True) for name, value in
                 (("trainable_multiple", trainable_multiple), ("conditioning_multiple", conditioning_multiple),
                  ("generalization_multiple", generalization_multiple))]
    critical_tol = V.number("critical_tol", critical_tol, lo=0.0)
    if eta is not None:
        eta = V.number("lr", eta, lo=0.0, lo_open=True)
        if X is None:
            raise V.InputError("the learning-rate criterion needs inputs X", "X")
    sw2, no_critical = _resolve_sw2(act.name, sw2, sb2, q0, slope)
    if no_critical is None:
        grid = meanfield.solve_phase(act.name, [sw2], [sb2], q0=q0, slope=slope, critical_tol=critical_tol)
        point = {name: float(getattr(grid, name)[0, 0]) for name in
                 ("q_star", "chi_1", "chi_c", "xi_c", "xi_1", "xi_star", "xi_grad")}
        point["fixed_point"], point["phase"] = str(grid.fixed_point[0, 0]), str(grid.phase[0, 0])
    else:
        point = dict.fromkeys(("q_star", "chi_1", "chi_c", "xi_c", "xi_1", "xi_star", "xi_grad"), math.nan)
        point.update(fixed_point="unknown", phase="unknown")
    eta_max, lr_message = np.full(depths.size, np.nan), ""
    if eta is not None and no_critical is None:
        eta_max, lr_message = _eta_max(act.name, X, sw2, sb2, depths, q0, slope, loss, normalize)
    rows = [_verdict(sw2, sb2, int(L), point, multiples, no_critical, eta, float(e), lr_message, loss)
            for L, e in zip(depths, eta_max)]
    n = depths.size
    cols = {k: np.array([r[k] for r in rows], dtype=object if isinstance(rows[0][k], str) else float)
            for k in rows[0]}
    return Verdicts(activation=act.name, sw2=np.full(n, sw2), sb2=np.full(n, sb2), depth=depths.copy(),
                    q_star=np.full(n, point["q_star"]), fixed_point=np.full(n, point["fixed_point"], dtype=object),
                    phase=np.full(n, point["phase"], dtype=object), chi_1=np.full(n, point["chi_1"]),
                    chi_c=np.full(n, point["chi_c"]), xi_c=np.full(n, point["xi_c"]),
                    xi_1=np.full(n, point["xi_1"]), xi_star=np.full(n, point["xi_star"]),
                    eta=np.full(n, math.nan if eta is None else eta), eta_max=eta_max, **cols)


def check_point_resnet(activation: str, sw2, sb2, depths, *, q0: float = 1.0, slope: float = 0.01,
                       residual_scale=1.0, layer_norm: str = "none", eta=None, X=None, loss: str = "sum",
                       normalize: bool = True, **_multiples) -> Verdicts:
    """The criteria a residual network has (docs/theory.md section 17) for one (sw2, sb2) at every depth:
    signal (q^L of the residual stream finite and > 0) and, with ``eta``, the learning rate (eta_max = 2 /
    lambda_max of the resnet NTK on X).  Trainability, conditioning and generalization are fixed-point depth
    scales (xi_c, xi_1, xi_star) that residual networks do not have: 'n/a' with NaN limits; q*, chi_1, ... NaN."""
    from phasecli.meanfield.resnet import stream
    from phasecli.ntk.engines.resnet import check_layer_norm, check_residual_scale, residual_alpha

    act = V.activation(activation)
    if isinstance(sw2, str):
        raise V.InputError("residual networks have no critical sw2 (no fixed point): give sw2 as a number", "sw2")
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    depths = V.depths(depths)
    q0, slope = V.q0(q0), V.slope(slope)
    scale = check_residual_scale(residual_scale)
    ln = check_layer_norm(layer_norm)
    if eta is not None:
        eta = V.number("lr", eta, lo=0.0, lo_open=True)
        if X is None:
            raise V.InputError("the learning-rate criterion needs inputs X", "X")
    n = depths.size
    eta_max, lr_message = np.full(n, np.nan), ""
    if eta is not None:
        eta_max, lr_message = _eta_max(act.name, X, sw2, sb2, depths, q0, slope, loss, normalize,
                                       architecture="resnet", options={"residual_scale": scale, "layer_norm": ln})
    cols = {k: [] for k in ("verdict", "reason", "failed", "signal", "learning_rate")}
    if scale != "depth":
        q_all = stream(act.name, sw2, sb2, int(depths[-1]), q0=q0, slope=slope, alpha=scale, layer_norm=ln)[0]
    for L, e in zip(depths, eta_max):
        L = int(L)
        q = float(q_all[L] if scale != "depth" else
                  stream(act.name, sw2, sb2, L, q0=q0, slope=slope, alpha=residual_alpha(scale, L), layer_norm=ln)[0][L])
        status, reason = {}, {}
        if 0.0 < q < math.inf:
            status["signal"] = "pass"
        else:
            status["signal"] = "fail"
            reason["signal"] = (f"signal explodes: q^L of the residual stream overflows float64 at depth {L}"
                                if q == math.inf else f"no signal at depth {L} (q^L = {q:g})")
        status["learning_rate"], why = _learning_rate(eta, e, L, loss, lr_message)
        if why:
            reason["learning_rate"] = why
        first = next((c for c in ("signal", "learning_rate") if status[c] == "fail"), "")
        cols["verdict"].append("fail" if first else "pass")
        cols["reason"].append(reason.get(first, "").replace(",", ";"))
        cols["failed"].append(first)
        cols["signal"].append(status["signal"])
        cols["learning_rate"].append(status["learning_rate"])
    obj = {k: np.array(v, dtype=object) for k, v in cols.items()}
    nan = np.full(n, np.nan)
    na = np.array(["n/a"] * n, dtype=object)
    return Verdicts(activation=act.name, sw2=np.full(n, sw2), sb2=np.full(n, sb2), depth=depths.copy(),
                    q_star=nan, fixed_point=np.array(["none"] * n, dtype=object), phase=np.array([""] * n, dtype=object),
                    chi_1=nan, chi_c=nan, xi_c=nan, xi_1=nan, xi_star=nan, max_trainable_depth=nan,
                    max_conditioned_depth=nan, max_generalizing_depth=nan,
                    eta=np.full(n, math.nan if eta is None else eta), eta_max=np.asarray(eta_max, dtype=float),
                    trainability=na, conditioning=na.copy(), generalization=na.copy(),
                    architecture=np.array(["resnet"] * n, dtype=object),
                    residual_scale=np.array([residual_alpha(scale, int(L)) for L in depths]),
                    layer_norm=np.array([ln] * n, dtype=object), **obj)


def _eta_max(activation, X, sw2, sb2, depths, q0, slope, loss, normalize, **network):
    """eta_max = 2/lambda_max (sum loss) at every depth, and why it is NaN where it is."""
    from phasecli import ntk
    from phasecli.ntk.asymptotics import learning_rates

    spectra = ntk.ntk_spectra(activation, X, sw2, sb2, depths, slope=slope, normalize=normalize, q0=q0, **network)
    eta_max, _ = learning_rates(spectra.lambda_max, spectra.m, loss)
    return np.asarray(eta_max, dtype=float), spectra.message or spectra.status


def _verdict(sw2, sb2, L, p, multiples, no_critical, eta, eta_max, lr_message, loss) -> dict:
    """One row: limits, per-criterion status and the first failure's reason."""
    m_train, m_cond, m_gen = multiples
    chi_1 = p["chi_1"]
    if p["phase"] == "critical":
        # the depth scales diverge on the critical line; their sign there is rounding (chi_c = 1 + 1e-15)
        p = dict(p, **{k: abs(p[k]) for k in ("xi_c", "xi_1", "xi_star", "xi_grad")})
    zero_critical = p["fixed_point"] == "zero" and p["phase"] == "critical"
    # at q* = 0 (critical, sb2 = 0) c* is undefined: the linearized network's only scale is xi_grad
    xi_train = abs(p["xi_grad"]) if zero_critical else p["xi_c"]
    ordered_side = chi_1 <= 1.0
    chaotic_side = chi_1 > 1.0
    undefined = math.isnan(chi_1)
    limits = {
        "max_trainable_depth": m_train * xi_train,
        "max_conditioned_depth": math.nan if undefined else _limit(m_cond, p["xi_1"], ordered_side),
        "max_generalizing_depth": math.nan if undefined else _limit(m_gen, p["xi_star"], chaotic_side),
    }
    status, reasons = {}, {}
    if no_critical is not None:
        status["signal"], reasons["signal"] = "fail", no_critical
    elif p["fixed_point"] in ("stable", "marginal") and 0.0 < p["q_star"] < math.inf:
        status["signal"] = "pass"
    elif zero_critical:
        status["signal"] = "pass"
    else:
        status["signal"] = "fail"
        reasons["signal"] = _signal_reason(p, sw2, sb2)
    for name, column, scale_name, scale, multiple, applies, what in (
            ("trainability", "max_trainable_depth", "xi_grad" if zero_critical else "xi_c", xi_train, m_train, True,
             "not trainable"),
            ("conditioning", "max_conditioned_depth", "xi_1", p["xi_1"], m_cond, ordered_side or undefined,
             "ill-conditioned NTK"),
            ("generalization", "max_generalizing_depth", "xi_star", p["xi_star"], m_gen, chaotic_side or undefined,
             "will not generalize")):
        limit = limits[column]
        if not applies:
            status[name] = "n/a"
        elif not math.isnan(limit) and L <= limit:
            status[name] = "pass"
        else:
            status[name] = "fail"
            if math.isnan(limit):
                reasons[name] = f"{what}: {scale_name} is undefined (NaN) so depth {L} cannot be bounded"
            else:
                reasons[name] = f"{what}: depth {L} > {_g(limit)} = {multiple:g} {scale_name} " \
                                f"({scale_name} = {_g(scale)}){_WHY.get(name, '')}"
    status["learning_rate"], why = _learning_rate(eta, eta_max, L, loss, lr_message)
    if why:
        reasons["learning_rate"] = why
    first = next((c for c in CRITERIA if status[c] == "fail"), "")
    return dict(verdict="fail" if first else "pass", reason=reasons.get(first, "").replace(",", ";"), failed=first,
                **limits, **status)


_WHY = {"conditioning": "; kappa grows like exp(L/xi_1)",
        "generalization": "; trained networks lose their test accuracy over a few xi_star"}


def _learning_rate(eta, eta_max: float, L: int, loss: str, lr_message: str):
    """The learning-rate criterion at depth L: ("n/a" | "pass" | "fail", the reason of a fail or "")."""
    if eta is None:
        return "n/a", ""
    if not math.isnan(eta_max) and eta <= eta_max:
        return "pass", ""
    if math.isnan(eta_max):
        return "fail", f"no learning-rate bound at depth {L}: {lr_message or 'no NTK'}"
    return "fail", (f"learning rate too large: eta {eta:g} > eta_max = {_g(eta_max)} "
                    f"({'2m' if loss == 'mean' else '2'}/lambda_max at depth {L} with the {loss} loss)")


def _signal_reason(p, sw2, sb2) -> str:
    where = f"sw2={sw2:g} sb2={sb2:g}"
    if p["fixed_point"] == "infinite" or p["q_star"] == math.inf:
        return f"signal explodes: q* is infinite at {where} (q^l grows without bound)"
    if p["fixed_point"] == "zero" or p["q_star"] == 0.0:
        return (f"signal dies: q* = 0 at {where} (ordered phase with sb2 = 0: q^l shrinks like chi_1^l "
                f"with chi_1 = {_g(p['chi_1'])})")
    if p["fixed_point"] == "unconverged":
        return f"the length map did not converge at {where}: q* unknown"
    return f"no usable fixed point at {where} (q* = {p['q_star']:g} fixed point {p['fixed_point']})"


def check(activation: str, sw2, sb2, depths, **kwargs) -> Verdicts:
    """``check_point`` for every pair (sw2[i], sb2[i]) (scalars broadcast; sw2 may be 'critical')."""
    if isinstance(sw2, str):
        sb2 = np.atleast_1d(np.asarray(sb2, dtype=float))
        pairs = [(sw2, b) for b in sb2]
    else:
        a, b = np.broadcast_arrays(np.atleast_1d(np.asarray(sw2, dtype=float)),
                                   np.atleast_1d(np.asarray(sb2, dtype=float)))
        pairs = list(zip(a.ravel(), b.ravel()))
    return concat(check_point(activation, a, b, depths, **kwargs) for a, b in pairs)


# ----------------------------------------------------------------------------- init
@dataclass
class Recommendation(Rows):
    """A recommended initialization for depth L: sw2 on the critical line for sb2.

    w_std = sqrt(sw2), b_std = sqrt(sb2) (NTK parameterization, docs/theory.md section 1);
    w_std_standard = sqrt(sw2 / fan_in) (standard parameterization; NaN without fan_in).
    sb2_rule: 'given', 'he' (relu, leaky_relu, abs, linear: sb2 = 0), 'isometry' (the largest sb2
    meeting the isometry target), 'isometry-best' (the target is out of reach: the sb2 with
    the smallest excess), 'fixed' (the isometry analysis is not available) or 'zero' (a residual
    network's default).  sw2_rule: 'critical' (chi_1 = 1) or 'grad_growth' (a residual network:
    prod_l chi_l, which is mean_s2, equals the target; the fixed-point columns are NaN).
    """

    activation: str
    depth: int
    weights: str
    sw2: float
    sb2: float
    sb2_rule: str
    q_star: float
    chi_1: float
    xi_q: float
    xi_c: float
    max_trainable_depth: float
    mean_s2: float
    var_s2: float
    fan_in: int | None = None
    sw2_rule: str = "critical"
    architecture: str = "fc"
    residual_scale: float = math.nan
    layer_norm: str = ""

    @property
    def w_std(self) -> float:
        return math.sqrt(self.sw2)

    @property
    def b_std(self) -> float:
        return math.sqrt(self.sb2)

    @property
    def w_std_standard(self) -> float:
        return math.sqrt(self.sw2 / self.fan_in) if self.fan_in else math.nan

    def row_count(self) -> int:
        return 1

    def shell(self) -> str:
        """``NAME=value`` lines (full precision) that bash, zsh and sh can eval."""
        lines = [f"SW2={self.sw2!r}", f"SB2={self.sb2!r}", f"W_STD={self.w_std!r}", f"B_STD={self.b_std!r}"]
        if self.fan_in:
            lines.append(f"W_STD_STANDARD={self.w_std_standard!r}")
        return "\n".join(lines) + "\n"


def _check_weights(weights: str) -> str:
    if weights not in ("gaussian", "orthogonal"):
        raise V.InputError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}", "weights")
    return weights


def _critical(activation, sb2, q0, slope):
    """(sw2, q*) on the critical line at sb2, or (nan, reason) where there is no usable critical point."""
    from phasecli import meanfield

    line = meanfield.solve_critical(activation, [sb2], q0=q0, slope=slope)
    status = str(line.status[0])
    if status != "ok":
        return math.nan, f"{status}: {CRITICAL_TEXT.get(status, status)}"
    if not math.isfinite(float(line.q_star[0])):
        return math.nan, "q* is infinite on the critical line (q^l grows without bound)"
    return float(line.sw2_critical[0]), None


def _isometry():
    try:
        from phasecli import jacobian_spectrum as jacobian
    except ImportError:
        return None
    return jacobian


def _excesses(jacobian, activation, sb2, depth, weights, q0, slope, linear_var):
    """var_s2 at the critical sw2 of each sb2 minus the linear network's (same weights); NaN without a
    usable critical point."""
    from phasecli import meanfield

    line = meanfield.solve_critical(activation, sb2, q0=q0, slope=slope)
    out = np.full(line.sb2.size, np.nan)
    for k, (sw2, q_star, status) in enumerate(zip(line.sw2_critical, line.q_star, line.status)):
        if status == "ok" and math.isfinite(q_star):
            moments = jacobian.spectrum_moments(activation, float(sw2), float(line.sb2[k]), [depth], weights=weights,
                                                q0=q0, slope=slope)
            out[k] = float(moments["var_s2"][0]) - linear_var
    return out


def default_sb2(activation: str, depth: int, *, weights: str = "gaussian", q0: float = 1.0,
                slope: float = 0.01) -> tuple[float, str]:
    """(sb2, rule) for ``init`` without --sb2 (docs/theory.md section 15, "Default sb2").

    - relu, leaky_relu, abs, linear (homogeneous): sb2 = 0, rule 'he' (their only sb2 with a
      finite q* on the critical line; He et al. 2015);
    - otherwise, dynamical isometry (``phasecli.jacobian_spectrum``): the largest sb2 in
      [1e-12, 1] whose critical point has var_s2(L) <= var_s2 of the linear network with
      the same weights + ISOMETRY_EXCESS (= 1: the nonlinearity adds at most 1 to the
      variance of the squared singular values of the Jacobian, whose mean is 1 on the
      critical line), found on a log grid of 25 values and refined by bisection: rule
      'isometry'; where no sb2 meets the target, the grid sb2 with the smallest excess,
      rule 'isometry-best';
    - without the isometry module: FALLBACK_SB2 = 0.05, rule 'fixed'.
    Raises RuntimeFailure when no sb2 in the range has a critical point.
    """
    act = V.activation(activation)
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    if act.homogeneous:
        return 0.0, "he"
    jacobian = _isometry()
    if jacobian is None:
        return FALLBACK_SB2, "fixed"
    grid = np.geomspace(*SB2_SEARCH, SB2_GRID_POINTS)
    linear_var = float(jacobian.spectrum_moments("linear", 1.0, 0.0, [depth], weights=weights)["var_s2"][0])
    excess = _excesses(jacobian, act.name, grid, depth, weights, q0, slope, linear_var)
    ok = np.isfinite(excess) & (excess <= ISOMETRY_EXCESS)
    if not np.isfinite(excess).any():
        raise RuntimeFailure(f"no critical point for {act.name} at any sb2 in [{SB2_SEARCH[0]:g}, {SB2_SEARCH[1]:g}] "
                             f"(from q0={q0:g}): no initialization on the critical line")
    if not ok.any():
        return float(grid[int(np.nanargmin(excess))]), "isometry-best"
    k = int(np.flatnonzero(ok)[-1])
    if k == grid.size - 1:
        return float(grid[k]), "isometry"
    lo, hi = math.log(grid[k]), math.log(grid[k + 1])
    for _ in range(BISECTIONS):  # in log sb2, between the last grid point meeting the target and the next
        mid = 0.5 * (lo + hi)
        e = _excesses(jacobian, act.name, [math.exp(mid)], depth, weights, q0, slope, linear_var)[0]
        if math.isfinite(e) and e <= ISOMETRY_EXCESS:
            lo = mid
        else:
            hi = mid
    return math.exp(lo), "isometry"


def recommend(activation: str, depth: int, *, sb2=None, weights: str = "gaussian", q0: float = 1.0,
              slope: float = 0.01, trainable_multiple: float = DEFAULT_TRAINABLE_MULTIPLE,
              fan_in=None) -> Recommendation:
    """The critical initialization for depth L: sw2 with chi_1 = 1 at sb2 (given, or ``default_sb2``).

    Raises RuntimeFailure where there is no usable critical point (e.g. silu, gelu,
    softplus from q0 = 1; relu with sb2 > 0: q* infinite)."""
    from phasecli import meanfield

    act = V.activation(activation)
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    _check_weights(weights)
    q0, slope = V.q0(q0), V.slope(slope)
    trainable_multiple = V.number("trainable_multiple", trainable_multiple, lo=0.0, lo_open=True)
    fan_in = None if fan_in is None else V.integer("fan_in", fan_in, lo=1)
    if sb2 is None:
        sb2, rule = default_sb2(act.name, depth, weights=weights, q0=q0, slope=slope)
    else:
        sb2, rule = V.variance("sb2", sb2), "given"
    sw2, why = _critical(act.name, sb2, q0, slope)
    if why is not None:
        raise RuntimeFailure(f"no critical point for {act.name} at sb2={sb2:g} (from q0={q0:g}): {why}")
    grid = meanfield.solve_phase(act.name, [sw2], [sb2], q0=q0, slope=slope, trainable_multiple=trainable_multiple)
    mean_s2 = var_s2 = math.nan
    jacobian = _isometry()
    if jacobian is not None:
        moments = jacobian.spectrum_moments(act.name, sw2, sb2, [depth], weights=weights, q0=q0, slope=slope)
        mean_s2, var_s2 = float(moments["mean_s2"][0]), float(moments["var_s2"][0])
    return Recommendation(activation=act.name, depth=depth, weights=weights, sw2=sw2, sb2=float(sb2), sb2_rule=rule,
                          q_star=float(grid.q_star[0, 0]), chi_1=float(grid.chi_1[0, 0]), xi_q=float(grid.xi_q[0, 0]),
                          xi_c=float(grid.xi_c[0, 0]), max_trainable_depth=float(grid.max_trainable_depth[0, 0]),
                          mean_s2=mean_s2, var_s2=var_s2, fan_in=fan_in)


def _log_growth(activation, sw2, sb2, depth, q0, slope, alpha, layer_norm):
    """log prod_l chi_l of the residual stream at ``depth`` (inf once q^l overflows)."""
    from phasecli.meanfield.resnet import stream

    chi = stream(activation, sw2, sb2, depth, q0=q0, slope=slope, alpha=alpha, layer_norm=layer_norm)[1]
    return math.inf if np.isnan(chi).any() else math.fsum(np.log1p(chi - 1.0))


def recommend_resnet(activation: str, depth: int, *, sb2=None, weights: str = "gaussian", q0: float = 1.0,
                     slope: float = 0.01, fan_in=None, residual_scale=1.0, layer_norm: str = "none",
                     grad_growth: float = DEFAULT_GRAD_GROWTH) -> Recommendation:
    """A residual network's initialization for depth L (docs/theory.md section 17, "A recommended residual
    initialization"): the sw2 whose gradient growth prod_{l=1..L} chi_l (the mean squared singular value of
    dh^L/dh^0, ``jacobian --architecture resnet``) equals ``grad_growth`` > 1; sb2 = 0 unless given.

    The growth rises from 1 (sw2 = 0: the blocks do nothing) without bound in sw2, so the root exists; it is
    bracketed in log sw2 and refined by Brent's method to |log growth - log grad_growth| <= 1e-12 (else
    RuntimeFailure).  The weight law does not change the mean (``weights`` is carried into the row)."""
    from scipy.optimize import brentq

    from phasecli.ntk.engines.resnet import check_layer_norm, check_residual_scale, residual_alpha

    act = V.activation(activation)
    depth = V.integer("depth", depth, lo=1, hi=V.MAX_DEPTH)
    _check_weights(weights)
    q0, slope = V.q0(q0), V.slope(slope)
    fan_in = None if fan_in is None else V.integer("fan_in", fan_in, lo=1)
    sb2, rule = (0.0, "zero") if sb2 is None else (V.variance("sb2", sb2), "given")
    grad_growth = V.number("grad_growth", grad_growth, lo=1.0, lo_open=True, hi=1e300)
    scale = check_residual_scale(residual_scale)
    ln = check_layer_norm(layer_norm)
    alpha = residual_alpha(scale, depth)
    if alpha * alpha == 0.0:
        raise V.InputError(f"residual scale {alpha:g}: alpha^2 is 0 in float64, the blocks do nothing and no sw2 "
                           "changes the gradient growth", "residual_scale")
    target = math.log(grad_growth)

    def excess(log_sw2):
        return _log_growth(act.name, math.exp(log_sw2), sb2, depth, q0, slope, alpha, ln) - target

    # first guess: small sw2 keeps q^l near q^0, so log growth ~ L alpha^2 sw2 E[phi'^2] / s_0 = L (chi_1 - 1) / sw2
    gain_1 = math.expm1(_log_growth(act.name, 1.0, sb2, 1, q0, slope, alpha, ln))  # chi_1 - 1 at sw2 = 1
    guess = math.log(target / (depth * gain_1)) if 0.0 < gain_1 < math.inf else 0.0
    lo = hi = min(700.0, max(-700.0, guess))  # log sw2, bracketed by factors of 2 (the growth rises with sw2)
    f_lo = f_hi = excess(lo)
    while f_hi <= 0.0 and hi < 700.0:
        lo, f_lo = hi, f_hi
        hi += math.log(2.0)
        f_hi = excess(hi)
    while f_lo > 0.0 and lo > -700.0:
        hi, f_hi = lo, f_lo
        lo -= math.log(2.0)
        f_lo = excess(lo)
    if f_lo == math.inf:
        raise RuntimeFailure(f"the residual stream's variance q^l overflows float64 before depth {depth} whatever sw2 "
                             f"({act.name}, sb2={sb2:g}, alpha={alpha:g}): no gradient growth to solve for")
    if not (f_lo <= 0.0 < f_hi):
        raise RuntimeFailure(f"no sw2 in [1e-304, 1e304] gives a gradient growth of {grad_growth:g} for "
                             f"{act.name} at depth {depth}")
    if f_lo == 0.0:
        log_sw2 = lo
    else:
        # brentq needs finite values: an overflowed stream (inf) is far above the target
        log_sw2 = brentq(lambda x: min(excess(x), 1e300), lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                         maxiter=200)
    sw2 = math.exp(log_sw2)
    residual = _log_growth(act.name, sw2, sb2, depth, q0, slope, alpha, ln) - target
    if not abs(residual) <= 1e-12 * max(1.0, abs(target)):
        raise RuntimeFailure(f"the sw2 for a gradient growth of {grad_growth:g} did not converge ({act.name}, depth "
                             f"{depth}: log growth off by {residual:.3g})")
    nan = math.nan
    return Recommendation(activation=act.name, depth=depth, weights=weights, sw2=sw2, sb2=float(sb2), sb2_rule=rule,
                          q_star=nan, chi_1=nan, xi_q=nan, xi_c=nan, max_trainable_depth=nan,
                          mean_s2=math.exp(residual + target), var_s2=nan, fan_in=fan_in, sw2_rule="grad_growth",
                          architecture="resnet", residual_scale=alpha, layer_norm=ln)


def check_sweep(activation: str, sw2, sb2, depths, *, scheduler=None, **kwargs):
    """``check_point`` at every (sw2, sb2), sw2 outer (sw2 = 'critical': the critical sw2 at each sb2), in
    order: a ``plans.Sweep`` of Verdicts.  ``kwargs``: the other keywords of ``check_point``."""
    from phasecli.runtime import plans

    if isinstance(sw2, str):
        tasks = [{"sw2": sw2, "sb2": b} for b in sb2]
    else:
        tasks = [{"sw2": a, "sb2": b} for a in sw2 for b in sb2]
    resnet = kwargs.pop("architecture", "fc") == "resnet"
    if not resnet:
        kwargs.pop("residual_scale", None), kwargs.pop("layer_norm", None)
    return plans.Sweep(check_point_resnet if resnet else check_point, tasks,
                       dict(activation=activation, depths=depths, **kwargs), scheduler)


def recommend_all(activation: str, depths, *, sb2=None, weights=("gaussian",), architecture: str = "fc",
                  **kwargs):
    """``recommend`` (``recommend_resnet`` for architecture 'resnet') for every depth (outer), sb2 (None: the
    default rule) and weight law: a generator, each Recommendation as it is solved."""
    if architecture != "resnet":
        return (recommend(activation, int(d), sb2=b, weights=w, **kwargs)
                for d in depths for b in (sb2 or [None]) for w in weights)
    return _resnet_rows(activation, depths, sb2, weights, kwargs)


def _resnet_rows(activation, depths, sb2, weights, kwargs):
    """``recommend_resnet`` once per (depth, sb2): the weight law does not enter the solve, so the other laws'
    rows are that one's with their ``weights`` (each law still validated)."""
    for d in depths:
        for b in (sb2 or [None]):
            solved = None
            for w in weights:
                if solved is None:
                    solved = recommend_resnet(activation, int(d), sb2=b, weights=w, **kwargs)
                    yield solved
                else:
                    yield replace(solved, weights=_check_weights(w))
