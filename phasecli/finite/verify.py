"""``phasecli verify``: do finite random networks of width M follow the infinite-width theory?

For each (sw2, sb2, width) the two-input sampler (``twoinput``) draws S networks; at every
depth L the rows compare, on two inputs with q^1 = q0 and c^1 = c0 (docs/theory.md section 12):

- q^L (input variance of the L-th nonlinearity), c^L (cosine of h^L(x1), h^L(x2)) and the
  empirical NTK Theta(x1, x1) of the depth-L network with the mean-field q^L, K^L_12 / q^L and
  Theta^{L+1}(x1, x1) (``theory``);
- the randomness ratio E[Theta^2] / E[Theta]^2 of Seleznova & Kutyniok (1 in the limit), with a
  delta-method standard error, and max_share = max Theta^2 / sum Theta^2 (heavy tails);
- trust: |ntk_mean / ntk_theory - 1| <= T and ratio - 1 + 2 ratio_se <= T; undetermined (None)
  when max_share > MAX_SHARE (one network dominates: the ratio cannot be estimated).  The
  column says yes / no / undetermined (``TRUST_WORDS``); ``reason`` holds no commas.

The work is a list of independent tasks (one chunk of networks of one (sw2, sb2, width)) for
``phasecli.runtime.sweep.run``; every network has its own random stream, so the rows are the same
locally, with any number of threads and on a Dask cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli import meanfield
from phasecli import validate as V
from phasecli.errors import InputError
from phasecli.finite import twoinput
from phasecli.results import Rows

TRUST_WORDS = {True: "yes", False: "no", None: "undetermined"}  # the trust column
MAX_SHARE = 0.01
TASK_WORK = 2e8  # unit-layer steps per task (about 0.2-0.5 s)
MIN_TASK = 4  # networks per task at least (one per thread of a 2-4 core machine)
MAX_SAMPLES = 10_000_000
MAX_VALUES = 60_000_000  # per-network values held for one (sw2, sb2, width): samples x depths
MAX_WIDTH = 1_000_000
# unit-layer steps (one neuron of one layer of one network) per wall second, 2 shared cores: measured
# 7.2e9 steps (width 4096, depth 50, 1000 networks) in ~85 s for relu and tanh
STEPS_PER_SECOND = 8e7
THEORY_Q_MAX = 1e300  # beyond, the theory's two-point expectations overflow: q^l is reported as inf
# resnet networks are drawn explicitly (N x N weights): wall seconds per weight of a block, 2 shared cores
RESNET_SECONDS_PER_WEIGHT = 3e-8
VERIFY_ARCHITECTURES = ("fc", "resnet")


def parse_widths(spec) -> list[int]:
    """Widths from '32,128,512' or 'START:STOP:STEP' items (inclusive); sorted, de-duplicated."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(v) for v in np.atleast_1d(spec)]
    out = set()
    for item in items:
        try:
            parts = [int(p) for p in item.split(":")] if item else []
        except ValueError:
            raise InputError(f"{item!r} is not a width (positive integer) or START:STOP[:STEP]", "width") from None
        if not 1 <= len(parts) <= 3:
            raise InputError(f"{item!r} is not a width (positive integer) or START:STOP[:STEP]", "width")
        values = parts if len(parts) == 1 else range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1)
        if len(parts) == 3 and parts[2] <= 0 or len(parts) > 1 and parts[1] < parts[0]:
            raise InputError(f"{item!r} is an empty range", "width")
        for v in values:
            if not 1 <= v <= MAX_WIDTH:
                raise InputError(f"widths must be integers in 1..{MAX_WIDTH:,}, got {v}", "width")
            out.add(int(v))
    return sorted(out)


def theory(activation: str, sw2: float, sb2: float, depths, *, q0: float = 1.0, c0: float = 0.5,
           slope: float = 0.01):
    """Infinite-width (q^L, c^L, Theta^{L+1}(x1, x1)) at each depth L (docs/theory.md section 4):
    q^1 = q0, K^1_12 = q0 c0; q^{l+1} = sw2 E[phi(sqrt(q^l) z)^2] + sb2, K^{l+1}_12 = sw2 T(K^l)_12 + sb2;
    Theta^1 = q^1, Theta^{l+1} = q^{l+1} + sw2 E[phi'(sqrt(q^l) z)^2] Theta^l.  c^L = K^L_12 / q^L."""
    depths = V.depths(depths)
    q0 = V.q0(q0)
    c0 = V.number("c0", c0, lo=-1.0, hi=1.0)
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    lmax = int(depths[-1])
    q = np.full(lmax + 2, np.inf)
    k12 = np.full(lmax + 2, np.nan)
    ntk = np.full(lmax + 2, np.inf)
    q[1], k12[1], ntk[1] = q0, q0 * c0, q0
    for layer in range(1, lmax + 1):
        if not (math.isfinite(q[layer]) and q[layer] < THEORY_Q_MAX and math.isfinite(ntk[layer])):
            break
        ql, kl = q[layer], min(max(k12[layer], -q[layer]), q[layer])
        # one call: (u1, u2) with covariance [[q, K12], [K12, q]] and with u1 = u2 (E phi^2, E phi'^2)
        t, tdot = meanfield.pair_expectations(activation, ql, ql, [kl, ql], slope=slope)
        with np.errstate(over="ignore", invalid="ignore"):
            q[layer + 1] = sw2 * float(t[1]) + sb2
            k12[layer + 1] = sw2 * float(t[0]) + sb2
            ntk[layer + 1] = q[layer + 1] + sw2 * float(tdot[1]) * ntk[layer]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = k12 / q
    idx = np.asarray(depths)
    return q[idx], np.where(np.isfinite(q[idx]), c[idx], np.nan), ntk[idx + 1]


@dataclass
class VerifyResult(Rows):
    """One (sw2, sb2, width): the rows at every depth (arrays of length len(depth))."""

    activation: str
    sw2: float
    sb2: float
    width: int
    samples: int
    q0: float
    c0: float
    tolerance: float
    phase: str
    chi_1: float
    depth: np.ndarray
    q_theory: np.ndarray
    q_mean: np.ndarray
    q_se: np.ndarray
    c_theory: np.ndarray
    c_mean: np.ndarray
    c_se: np.ndarray
    ntk_theory: np.ndarray
    ntk_mean: np.ndarray
    ntk_se: np.ndarray
    ratio: np.ndarray
    ratio_se: np.ndarray
    max_share: np.ndarray
    trust: np.ndarray
    reason: np.ndarray
    architecture: str = "fc"
    residual_scale: np.ndarray | float = math.nan  # resnet: alpha at each depth
    layer_norm: str = ""  # resnet: none or pre

    def row_values(self, n: int) -> dict:
        return {"trust": [TRUST_WORDS[t] for t in self.trust], "reason": list(self.reason)}


def _mean_se(x, skip_nan=False):
    """Mean and standard error (sd with ddof 1 over sqrt(count)) over axis 0; ``skip_nan`` leaves out
    NaN entries (the cosine of a layer whose h^L is exactly zero)."""
    if not skip_nan:
        x = np.where(np.isnan(x), np.inf, x)  # a NaN Theta or q is an overflow: keep it visible
    count = np.sum(~np.isnan(x), axis=0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = np.nanmax(np.abs(x), axis=0) if x.size else np.ones(x.shape[1])
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)  # no overflow in the squares
        y = x / scale
        mean = np.nanmean(y, axis=0) if skip_nan and np.any(count < x.shape[0]) else y.mean(axis=0)
        var = np.nansum((y - mean) ** 2, axis=0) / (count - 1)
        se = np.where(count > 1, np.sqrt(var / count), np.nan) * scale
    return mean * scale, se


def ratio_statistics(theta):
    """(ratio, ratio_se, max_share) of samples theta (S, n): ratio = mean(Theta^2) / mean(Theta)^2, its
    delta-method standard error, and max Theta^2 / sum Theta^2.  Scale-free: computed on Theta / mean."""
    S = theta.shape[0]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        t = theta / theta.mean(axis=0)
        t2 = t * t
        r = t2.mean(axis=0) / t.mean(axis=0) ** 2
        if S > 1:
            var_t, var_t2 = t.var(axis=0, ddof=1), t2.var(axis=0, ddof=1)
            cov = ((t - t.mean(axis=0)) * (t2 - t2.mean(axis=0))).sum(axis=0) / (S - 1)
            # gradient of m2 / m1^2 at (m1, m2) = (1, r): (-2 r, 1)
            var_r = (4 * r * r * var_t - 4 * r * cov + var_t2) / S
            se = np.sqrt(np.maximum(var_r, 0.0))
        else:
            se = np.full(theta.shape[1], np.nan)
        share = t2.max(axis=0) / t2.sum(axis=0)
    return r, se, share


def _verdicts(ntk_mean, ntk_theory, ratio, ratio_se, share, tol):
    trust = np.empty(ntk_mean.size, dtype=object)
    reason = np.empty(ntk_mean.size, dtype=object)
    for i in range(ntk_mean.size):
        if not np.isfinite(ntk_mean[i]):
            trust[i], reason[i] = None, "Theta overflows float64"
            continue
        if not np.isfinite(ratio[i]):
            trust[i], reason[i] = None, "ratio undefined: Theta = 0 in every network"
            continue
        if not (np.isfinite(ntk_theory[i]) and ntk_theory[i] > 0):
            trust[i], reason[i] = False, "no finite infinite-width NTK"
            continue
        if share[i] > MAX_SHARE:
            trust[i], reason[i] = None, (f"heavy tail: one network holds {share[i]:.1%} of sum Theta^2; "
                                         "ratio unreliable (more --samples)")
            continue
        problems = []
        off = ntk_mean[i] / ntk_theory[i] - 1.0
        if abs(off) > tol:
            problems.append(f"ntk_mean {off:+.0%} off theory")
        if ratio[i] - 1.0 + 2.0 * ratio_se[i] > tol:
            problems.append(f"ratio {ratio[i]:.3g} +- {ratio_se[i]:.2g} above 1 + {tol:g}")
        trust[i] = not problems
        reason[i] = "; ".join(problems)
    return trust, reason


def summarize(chunks, theory_values, *, phase, chi_1, tolerance) -> VerifyResult:
    """The rows of one (sw2, sb2, width) from its chunks of ``TwoInputSamples`` (in network order)."""
    first = chunks[0]
    q = np.concatenate([c.q for c in chunks])
    cc = np.concatenate([c.c for c in chunks])
    theta = np.concatenate([c.ntk for c in chunks])
    q_mean, q_se = _mean_se(q)
    c_mean, c_se = _mean_se(cc, skip_nan=True)
    ntk_mean, ntk_se = _mean_se(theta)
    ratio, ratio_se, share = ratio_statistics(theta)
    q_th, c_th, ntk_th = theory_values
    trust, reason = _verdicts(ntk_mean, ntk_th, ratio, ratio_se, share, tolerance)
    return VerifyResult(first.activation, first.sw2, first.sb2, first.width, q.shape[0], first.q0, first.c0,
                        tolerance, phase, chi_1, first.depths, q_th, q_mean, q_se, c_th, c_mean, c_se, ntk_th,
                        ntk_mean, ntk_se, ratio, ratio_se, share, trust, reason)


def sample_chunk(*, sw2, sb2, width, first, count, activation, depths, seed, q0, c0, slope, architecture="fc",
                 residual_scale=1.0, layer_norm="none"):
    """One task: networks first .. first + count - 1 of one (sw2, sb2, width) (module level: picklable)."""
    if architecture == "resnet":
        from phasecli.finite import resnet

        return resnet.sample(activation, sw2, sb2, width=width, depths=depths, samples=count, seed=seed,
                             first=first, q0=q0, c0=c0, slope=slope, residual_scale=residual_scale,
                             layer_norm=layer_norm)
    return twoinput.sample(activation, sw2, sb2, width=width, depths=depths, samples=count, seed=seed, first=first,
                           q0=q0, c0=c0, slope=slope)


def plan(activation, sw2, sb2, widths, depths, *, samples, seed=0, q0=1.0, c0=0.5, slope=0.01, architecture="fc",
         residual_scale=1.0, layer_norm="none"):
    """Validated (tasks, shared, groups): tasks for ``sweep.run(sample_chunk, ...)``; ``groups`` lists
    each (sw2, sb2, width) with its number of consecutive tasks, in output order (sw2, sb2, width).
    ``architecture`` 'resnet' (``residual_scale``, ``layer_norm``): the residual networks of
    ``phasecli.finite.resnet`` (explicit weights, depth = blocks after the first layer)."""
    V.activation(activation)
    if architecture not in VERIFY_ARCHITECTURES:
        raise InputError(f"verify simulates architectures {', '.join(VERIFY_ARCHITECTURES)}, got {architecture!r}",
                         "architecture")
    resnet = architecture == "resnet"
    if resnet:
        from phasecli.ntk.engines.resnet import check_layer_norm, check_residual_scale

        residual_scale = check_residual_scale(residual_scale)
        layer_norm = check_layer_norm(layer_norm)
    sw2 = V.variances("sw2", sw2)
    sb2 = V.variances("sb2", sb2)
    if np.any(sw2 == 0):
        raise InputError("sw2 must be > 0: with sw2 = 0 the inputs do not reach the network", "sw2")
    widths = parse_widths(widths)
    depths = V.depths(depths)
    q0 = V.number("q0", q0, lo=0.0, hi=THEORY_Q_MAX, lo_open=True)  # the theory's overflow guard (``theory``)
    c0 = V.number("c0", c0, lo=-1.0, hi=1.0)
    slope = V.slope(slope)
    samples = V.integer("samples", samples, lo=2, hi=MAX_SAMPLES)
    seed = V.integer("seed", seed, lo=0)
    if samples * depths.size > MAX_VALUES:
        raise InputError(f"samples x depths = {samples * depths.size:,} exceeds {MAX_VALUES:,} (memory): fewer "
                         "--samples or depths", "samples")
    for b in sb2:
        twoinput.check_inputs(1.0, float(b), q0, c0)
    lmax = int(depths[-1])
    tasks, groups = [], []
    for a in sw2:
        for b in sb2:
            for m in widths:
                per_net = m * m * lmax * 50.0 if resnet else m * lmax * (lmax / 2 + 10)
                per_task = int(min(samples, max(MIN_TASK, TASK_WORK // per_net)))
                starts = range(0, samples, per_task)
                tasks += [{"sw2": float(a), "sb2": float(b), "width": m, "first": s,
                           "count": min(per_task, samples - s)} for s in starts]
                groups.append(((float(a), float(b), m), len(starts)))
    shared = {"activation": activation, "depths": depths, "seed": seed, "q0": q0, "c0": c0, "slope": slope}
    if resnet:
        shared.update(architecture="resnet", residual_scale=residual_scale, layer_norm=layer_norm)
    return tasks, shared, groups


def workload(tasks, depths, architecture="fc", residual_scale=1.0) -> float:
    """Unit-layer steps of ``plan``'s tasks: per network width x L x (L / 2 + 10), L the deepest depth
    (the two-input sampler is O(width) per layer; the NTK sum adds the L / 2).  resnet: width^2 weights per
    block (all depths' blocks with residual_scale 'depth'), in the same units of wall time."""
    lmax = float(np.max(depths))
    if architecture == "resnet":
        blocks = float(np.sum(depths)) if residual_scale == "depth" else lmax
        weights = float(sum(t["count"] * t["width"] ** 2 for t in tasks)) * (blocks + depths.size)
        return weights * RESNET_SECONDS_PER_WEIGHT * STEPS_PER_SECOND
    return float(sum(t["count"] * t["width"] for t in tasks)) * lmax * (lmax / 2 + 10)


def seconds(steps: float) -> float:
    """Rough wall time of ``steps`` unit-layer steps on 2 cores (``STEPS_PER_SECOND``)."""
    return steps / STEPS_PER_SECOND


def run(activation, sw2, sb2, widths, depths, *, samples, seed=0, q0=1.0, c0=0.5, slope=0.01, tolerance=0.1,
        scheduler=None, progress=None, **network):
    """Yield a ``VerifyResult`` per (sw2, sb2, width), sw2 outer, width inner, as each is complete.

    ``progress(n)`` (optional) is called with the number of networks of every finished task."""
    yield from verify_sweep(activation, sw2, sb2, widths, depths, samples=samples, seed=seed, q0=q0, c0=c0,
                            slope=slope, tolerance=tolerance, scheduler=scheduler,
                            check_budget=False, **network).results(progress)


@dataclass
class VerifySweep:
    """``plan``'s tasks, validated and budgeted once; ``results()`` runs them (``run``)."""

    activation: str
    tasks: list
    shared: dict
    groups: list
    tolerance: float
    scheduler: str | None = None

    @property
    def depths(self) -> np.ndarray:
        return self.shared["depths"]

    @property
    def total(self) -> int:
        """Random networks in the sweep (the progress units of ``results``)."""
        return sum(t["count"] for t in self.tasks)

    def results(self, progress=None):
        """Yield a ``VerifyResult`` per (sw2, sb2, width) as each is complete; ``progress(n)`` with the
        networks of every finished task."""
        from phasecli.runtime import sweep

        activation, depths = self.activation, self.depths
        q0, c0, slope = self.shared["q0"], self.shared["c0"], self.shared["slope"]
        architecture = self.shared.get("architecture", "fc")
        extra = {}
        if architecture == "resnet":
            from phasecli.finite import resnet

            scale, ln = self.shared["residual_scale"], self.shared["layer_norm"]
            extra = dict(architecture="resnet", layer_norm=ln,
                         residual_scale=np.array([1.0 / math.sqrt(L) if scale == "depth" else scale for L in depths]))
        points = {}
        results = sweep.run(sample_chunk, self.tasks, shared=self.shared, scheduler=self.scheduler)
        try:
            for (a, b, _width), n_tasks in self.groups:
                if (a, b) not in points and architecture == "resnet":  # no fixed point: no phase, no chi_1
                    points[(a, b)] = ("", math.nan, resnet.theory(activation, a, b, depths, q0=q0, c0=c0, slope=slope,
                                                                  residual_scale=scale, layer_norm=ln))
                elif (a, b) not in points:
                    grid = meanfield.solve_phase(activation, [a], [b], q0=q0, slope=slope)
                    points[(a, b)] = (str(grid.phase[0, 0]), float(grid.chi_1[0, 0]),
                                      theory(activation, a, b, depths, q0=q0, c0=c0, slope=slope))
                phase, chi_1, values = points[(a, b)]
                chunks = []
                for _ in range(n_tasks):
                    chunks.append(next(results))
                    if progress is not None:
                        progress(chunks[-1].samples)
                result = summarize(chunks, values, phase=phase, chi_1=chi_1, tolerance=self.tolerance)
                for name, value in extra.items():
                    setattr(result, name, value)
                yield result
        finally:
            results.close()  # an early stop (| head, Ctrl-C) cancels the remaining tasks


def verify_sweep(activation, sw2, sb2, widths, depths, *, samples, seed=0, q0=1.0, c0=0.5, slope=0.01,
                 tolerance=0.1, scheduler=None, check_budget=True, architecture="fc", residual_scale=1.0,
                 layer_norm="none") -> VerifySweep:
    """The networks of ``run``, planned once (``plan``); with ``check_budget`` a run estimated beyond
    ``plans.MAX_LOCAL_SECONDS`` here (``workload``, ``seconds``) raises ``plans.BudgetError``."""
    from phasecli.runtime import plans

    tolerance = V.number("tolerance", tolerance, lo=0.0, lo_open=True)
    tasks, shared, groups = plan(activation, sw2, sb2, widths, depths, samples=samples, seed=seed, q0=q0, c0=c0,
                                 slope=slope, architecture=architecture, residual_scale=residual_scale,
                                 layer_norm=layer_norm)
    if check_budget:
        steps = workload(tasks, shared["depths"], architecture, shared.get("residual_scale", 1.0))
        plans.check_seconds(seconds(steps), f"{steps:.2g} unit-layer steps", scheduler)
    return VerifySweep(activation, tasks, shared, groups, tolerance, scheduler)
