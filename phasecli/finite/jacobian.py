"""The input-output Jacobian of finite random networks: the Monte Carlo side of ``phasecli jacobian --empirical``.

Built on the shared simulator ``phasecli.finite.network`` (its ``draw``, ``forward`` and
``effective_weight``; nothing is simulated here a second time).  Network i of a seed is
``draw(..., samples=1, first=i)`` with square layers (dim = width), so orthogonal weights
are Haar in every layer, as the theory assumes.  The input is x = a 1 / sqrt(N) with a
chosen so that the first layer's variance q^1 = sw2 |x|^2 / N + sb2 equals q* (docs/theory.md section 4,
"Jacobian spectrum": pre-activations at q* in every layer).

    J^l = D^l A^l J^{l-1},  J^0 = I,  A^l = sqrt(sw2 / N) W^l,  D^l = diag phi'(h^l)

One network of depth max(depths) gives the Jacobian of every shallower depth (its first l
layers are a depth-l network), so each network yields a row per depth; the eigenvalues of
J J^T are the squared singular values of J.  Per row and network: mean and mean square of
the N eigenvalues, the largest and the smallest; pooled over the S networks:
mean_s2, var_s2 (population variance of the pooled eigenvalues), s2_max and s2_min (means
of the per-network extremes), with standard errors over networks (jackknife for var_s2).
Cost per network: L N^3 (products) + n_depths * SVD(N); memory 8 L N^2 bytes.  Nothing prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from phasecli import validate as V
from phasecli.errors import InputError
from phasecli.finite import network
from phasecli.runtime.blas import single_threaded as single_threaded_blas

MAX_NETWORK_BYTES = network.MAX_BYTES


def check_size(width: int, depth: int) -> None:
    """Refuse a width outside [2, 20000] and a network whose weights do not fit (one is held at a time)."""
    width = V.integer("width", width, lo=2, hi=20_000)
    need = 8.0 * (depth + 1) * width * (width + 1)
    if need > MAX_NETWORK_BYTES:
        raise InputError(f"one network of depth {depth} and width {width} needs {need / 2**30:.1f} GiB of weights "
                         f"(limit {MAX_NETWORK_BYTES / 2**30:.0f} GiB): use a smaller --width or depth", "width")


def network_statistics(activation: str, sw2: float, sb2: float, q_star: float, depths, *, weights: str, width: int,
                       seed: int, index: int, slope: float = 0.01, keep: bool = False) -> dict:
    """Statistics of one random network's Jacobians at every depth (a module-level task for ``sweep.run``).

    Returns {"stats": (n_depths, 4) [mean lambda, mean lambda^2, max lambda, min lambda],
    "q": mean h^2 over all units and layers, "d2": mean phi'(h)^2, "eigenvalues": list per
    depth (only with ``keep``)}."""
    depths = V.depths(depths)
    top = int(depths[-1])
    check_size(width, top)
    with single_threaded_blas():
        return _statistics(activation, sw2, sb2, q_star, depths, weights, width, seed, index, slope, keep)


def _statistics(activation, sw2, sb2, q_star, depths, weights, width, seed, index, slope, keep):
    top = int(depths[-1])
    nets = network.draw(activation, sw2, sb2, depth=top, width=width, dim=width, outputs=1, samples=1, seed=seed,
                        weights=weights, slope=slope, first=index)
    scale = math.sqrt(max(q_star - sb2, 0.0) * width / sw2) if sw2 > 0 else 0.0
    x = np.full((1, width), scale / math.sqrt(width))
    fwd = network.forward(nets, x)
    stats = np.empty((depths.size, 4))
    kept = []
    jac = np.eye(width)
    row = 0
    q_sum = d2_sum = 0.0
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for layer in range(1, top + 1):
            d = fwd.dphi[layer - 1][0, 0]
            h = fwd.pre[layer - 1][0, 0]
            q_sum += float(np.mean(h * h))
            d2_sum += float(np.mean(d * d))
            jac = d[:, None] * (nets.effective_weight(layer)[0] @ jac)
            if layer == depths[row]:
                lam = np.linalg.svd(jac, compute_uv=False) ** 2
                stats[row] = lam.mean(), np.mean(lam * lam), lam.max(), lam.min()
                if keep:
                    kept.append(lam)
                row += 1
    return {"stats": stats, "q": q_sum / top, "d2": d2_sum / top, "eigenvalues": kept}


@dataclass
class EmpiricalSpectrum:
    """Pooled statistics over S networks at every depth (arrays over depths)."""

    depth: np.ndarray
    samples: int
    width: int
    mean_s2: np.ndarray
    var_s2: np.ndarray
    s2_max: np.ndarray
    s2_min: np.ndarray
    mean_s2_se: np.ndarray
    var_s2_se: np.ndarray
    s2_max_se: np.ndarray
    q_star: float
    chi_1: float
    eigenvalues: list = field(default_factory=list, repr=False)  # per depth: all kept eigenvalues


def pool(results, depths, width: int, sw2: float) -> EmpiricalSpectrum:
    """Combine ``network_statistics`` results of S networks (standard errors need S >= 2)."""
    depths = V.depths(depths)
    stats = np.stack([r["stats"] for r in results])  # (S, n_depths, 4)
    S = stats.shape[0]
    m1, m2 = stats[..., 0], stats[..., 1]
    mean = m1.mean(axis=0)
    var = m2.mean(axis=0) - mean ** 2
    s2_max, s2_min = stats[..., 2].mean(axis=0), stats[..., 3].mean(axis=0)
    nan = np.full(depths.size, np.nan)
    if S >= 2:
        mean_se = m1.std(axis=0, ddof=1) / math.sqrt(S)
        max_se = stats[..., 2].std(axis=0, ddof=1) / math.sqrt(S)
        loo_m1 = (m1.sum(axis=0) - m1) / (S - 1)
        loo_var = (m2.sum(axis=0) - m2) / (S - 1) - loo_m1 ** 2
        var_se = np.sqrt((S - 1) / S * np.sum((loo_var - loo_var.mean(axis=0)) ** 2, axis=0))
    else:
        mean_se = max_se = var_se = nan
    eig = []
    if results and results[0]["eigenvalues"]:
        eig = [np.concatenate([r["eigenvalues"][k] for r in results]) for k in range(depths.size)]
    q = float(np.mean([r["q"] for r in results]))
    chi_1 = sw2 * float(np.mean([r["d2"] for r in results]))
    return EmpiricalSpectrum(depths, S, width, mean, var, s2_max, s2_min, mean_se, var_se, max_se, q, chi_1, eig)


def rows(theory, weights: str, pooled: EmpiricalSpectrum | None):
    """The rows of ``phasecli jacobian --empirical`` for one weight law: the theory point's labels
    (activation, sw2, sb2, phase) with the measured values; NaN rows with the theory's status when
    there is no fixed point to measure at (``pooled`` None)."""
    from phasecli.jacobian_spectrum import JacobianSpectrum

    n = theory.depth.size // max(1, len(set(theory.weights)))
    depth = np.asarray(theory.depth[:n])
    nan = np.full(n, np.nan)
    if pooled is None:
        status = np.array(list(theory.status[:n]), dtype=object)
        extra = {"width": [np.nan] * n, "samples": [0] * n, "mean_s2_se": nan, "var_s2_se": nan, "s2_max_se": nan}
        return JacobianSpectrum(theory.activation, theory.sw2, theory.sb2, theory.q_star, theory.chi_1, theory.phase,
                                np.array([weights] * n, dtype=object), depth, nan, nan, nan, nan, status, extra)
    extra = {"width": [pooled.width] * n, "samples": [pooled.samples] * n, "mean_s2_se": pooled.mean_s2_se,
             "var_s2_se": pooled.var_s2_se, "s2_max_se": pooled.s2_max_se, "eigenvalues": pooled.eigenvalues}
    status = np.array(["ok"] * n, dtype=object)
    return JacobianSpectrum(theory.activation, theory.sw2, theory.sb2, pooled.q_star, pooled.chi_1, theory.phase,
                            np.array([weights] * n, dtype=object), depth, pooled.mean_s2, pooled.var_s2,
                            pooled.s2_max, pooled.s2_min, status, extra)


def resnet_rows(theory, weights: str, pooled: EmpiricalSpectrum):
    """The rows of ``jacobian --empirical --architecture resnet`` for one weight law: the theory's labels and
    appended columns with the measured values (q_star, chi_1 and the phase do not exist: NaN, '')."""
    from phasecli.jacobian_spectrum import JacobianSpectrum

    n = theory.depth.size // max(1, len(set(theory.weights)))
    extra = {"width": [pooled.width] * n, "samples": [pooled.samples] * n, "mean_s2_se": pooled.mean_s2_se,
             "var_s2_se": pooled.var_s2_se, "s2_max_se": pooled.s2_max_se, "architecture": ["resnet"] * n,
             "residual_scale": np.asarray(theory.extra["residual_scale"][:n]), "layer_norm": theory.extra["layer_norm"][:n]}
    return JacobianSpectrum(theory.activation, theory.sw2, theory.sb2, math.nan, math.nan, "",
                            np.array([weights] * n, dtype=object), np.asarray(theory.depth[:n]), pooled.mean_s2,
                            pooled.var_s2, pooled.s2_max, pooled.s2_min, np.array(["ok"] * n, dtype=object), extra)


def _networks(statistics, shared: dict, samples: int, scheduler, progress) -> list:
    """``statistics(index=i, **shared)`` of ``samples`` random networks, one task each (``runtime.sweep``);
    ``progress(1)`` after each network."""
    from phasecli.runtime import sweep

    stats = []
    for s in sweep.run(statistics, [{"index": i} for i in range(samples)], shared=shared, scheduler=scheduler):
        stats.append(s)
        if progress is not None:
            progress(1)
    return stats


def empirical_sweep(activation: str, points, depths, *, weights, widths, samples: int, seed: int = 0, q0: float = 1.0,
                    slope: float = 0.01, keep: bool = False, scheduler=None, progress=None, architecture: str = "fc",
                    residual_scale=1.0, layer_norm: str = "none"):
    """Yield the rows (``rows``) of ``samples`` random networks per (point, width, weight law), points outer,
    as each completes: the theory's point (``isometry.jacobian_spectrum``) sets q*; one network per task;
    ``progress(1)`` after each network.  A point without a spectrum yields its theory row only."""
    from phasecli import jacobian_spectrum as isometry

    if architecture == "resnet":  # the residual stream's Jacobian, inputs at first-layer variance q0
        from phasecli.finite.resnet import jacobian_statistics

        for a, b in points:
            theory = isometry.resnet_jacobian_spectrum(activation, a, b, depths, weights=weights, q0=q0, slope=slope,
                                                       residual_scale=residual_scale, layer_norm=layer_norm)
            for width in widths:
                check_size(width, int(V.depths(depths)[-1]))
                for w in weights:
                    shared = dict(activation=activation, sw2=theory.sw2, sb2=theory.sb2, depths=depths, weights=w,
                                  width=width, seed=seed, q0=q0, slope=slope, residual_scale=residual_scale,
                                  layer_norm=layer_norm)
                    stats = _networks(jacobian_statistics, shared, samples, scheduler, progress)
                    yield resnet_rows(theory, w, pool(stats, depths, width, theory.sw2))
        return
    for a, b in points:
        theory = isometry.jacobian_spectrum(activation, a, b, depths, weights=weights, q0=q0, slope=slope)
        for width in widths:
            for w in weights:
                if theory.status[0] not in ("ok", "edge_unconverged"):
                    yield rows(theory, w, None)
                    continue
                shared = dict(activation=activation, sw2=theory.sw2, sb2=theory.sb2, q_star=theory.q_star,
                              depths=depths, weights=w, width=width, seed=seed, slope=slope, keep=keep)
                stats = _networks(network_statistics, shared, samples, scheduler, progress)
                yield rows(theory, w, pool(stats, depths, width, theory.sw2))
