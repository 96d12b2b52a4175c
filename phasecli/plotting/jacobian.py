"""Figures of `phasecli jacobian`: singular-value densities per depth, var_s2 against sb2 (Pennington et al.)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps

from phasecli.plotting.base import SB2_LABEL, SW2_LABEL, Figure, save

WEIGHT_STYLE = {"gaussian": "-", "orthogonal": "--"}
WEIGHT_TITLE = {"gaussian": r"Gaussian weights $\sqrt{\sigma_w^2/N}\,\mathcal{N}(0,1)$",
                "orthogonal": r"orthogonal weights $\sqrt{\sigma_w^2}\,$Haar"}


def _colors(n):
    cmap = colormaps["viridis"]
    return [cmap(0.85 * k / max(n - 1, 1)) for k in range(n)]


def _row(results, weights, depth):
    """(row object, index) of the row (weights, depth) among ``results`` (JacobianSpectrum objects)."""
    for r in results:
        for k, (w, d) in enumerate(zip(r.weights, r.depth)):
            if w == weights and int(d) == depth:
                return r, k
    return None, None


def _label(point, measured, weights, depth):
    r, k = _row([point], weights, depth)
    text = rf"L = {depth}: var$_{{s^2}}$ = {r.var_s2[k]:.3g}" if r is not None else f"L = {depth}"
    m, j = _row(measured or [], weights, depth)
    if m is not None:
        se = np.asarray(m.extra.get("var_s2_se", [np.nan] * m.rows))[j]
        text += f" (networks {m.var_s2[j]:.3g}" + (f" $\pm$ {se:.2g})" if np.isfinite(se) else ")")
    return text


def _eigenvalues(measured, weights, depth):
    m, j = _row(measured or [], weights, depth)
    if m is None or not m.extra.get("eigenvalues"):
        return None
    return m.extra["eigenvalues"][j]


def density_figure(point, densities, weights, depths, *, measured=None, path: str) -> None:
    """One panel per weight law: the density of log10 sigma (sigma = singular values of J) for every
    depth, sigma = 1 (isometry) marked; ``measured`` (finite-network rows with their eigenvalues):
    their histograms on top."""
    fig = Figure(figsize=(6.2 * len(weights), 4.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(weights), squeeze=False, sharex=True, sharey=True)[0])  # one scale
    colors = _colors(len(depths))
    atoms, curves = [], 0  # over all panels: they share their axes
    for ax, w in zip(axes, weights):
        for color, d in zip(colors, depths):
            dens = densities[(w, int(d))]
            if dens.eigenvalue.size == 1:  # a point mass (a linear network with orthogonal weights)
                atoms.append(float(dens.sigma[0]))
                ax.axvline(atoms[-1], color=color, lw=2.5, label=_label(point, measured, w, int(d)) + " (point mass)")
                continue
            curves += 1
            ok = dens.converged & np.isfinite(dens.density)
            sigma = dens.sigma[ok]
            y = math.log(10.0) * 2.0 * dens.eigenvalue[ok] * dens.density[ok]  # density of log10 sigma
            ax.plot(sigma, y, color=color, lw=1.8, label=_label(point, measured, w, int(d)))
            lam = _eigenvalues(measured, w, int(d))
            if lam is not None:
                s = np.sqrt(np.clip(lam, 1e-300, None))
                lo = max(np.log10(s.min()), np.log10(sigma.min()) if sigma.size else -6)
                bins = np.linspace(lo, np.log10(s.max()) + 1e-9, 60)
                hist, edges = np.histogram(np.log10(s), bins=bins)
                hist = hist / (s.size * np.diff(edges))
                ax.stairs(hist, 10.0 ** edges, color=color, alpha=0.6, lw=1.0)
        ax.axvline(1.0, color="0.4", ls=":", lw=1.2, label=r"$\sigma = 1$ (isometry)")
        ax.set_xscale("log")
        ax.set_xlabel(r"singular value $\sigma$ of $J$ (log scale)")
        if ax is axes[0]:
            ax.set_ylabel(r"density of $\log_{10}\sigma$ (same scale in every panel)")
        ax.tick_params(labelleft=True)
        ax.set_title(WEIGHT_TITLE[w], fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left")
    if atoms and not curves:
        axes[0].set_xlim(0.5 * min(atoms + [1.0]), 2.0 * max(atoms + [1.0]))
    extra = "; steps: finite networks" if measured else ""
    fig.suptitle(f"{point.activation}, $\\sigma_w^2$ = {point.sw2:.6g}, $\\sigma_b^2$ = {point.sb2:g}, "
                 f"$q^*$ = {point.q_star:.4g}: singular values of the input-output Jacobian{extra}")
    save(fig, path)


def _series(results, axis):
    """{(weights, depth): (x, var, var_se, s2_max)} sorted by x."""
    data = {}
    for r in results:
        x = r.sb2 if axis == "sb2" else r.sw2
        se = r.extra.get("var_s2_se")
        for k, (w, d) in enumerate(zip(r.weights, r.depth)):
            entry = data.setdefault((w, int(d)), [[], [], [], []])
            entry[0].append(x)
            entry[1].append(r.var_s2[k])
            entry[2].append(np.asarray(se)[k] if se is not None else np.nan)
            entry[3].append(r.s2_max[k])
    out = {}
    for key, values in data.items():
        arr = np.array(values, dtype=float)
        order = np.argsort(arr[0])
        out[key] = arr[:, order]
    return out


def variance_figure(results, *, layout: str, critical: bool, empirical: bool, path: str) -> None:
    """var_s2 and s2_max against sb2 (or sw2): colour = depth, line style = weight law (Pennington et al.'s picture)."""
    axis = "sb2" if layout == "variance-sb2" else "sw2"
    series = _series(results, axis)
    depths = sorted({d for _, d in series})
    colors = dict(zip(depths, _colors(len(depths))))
    fig = Figure(figsize=(13, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    xs_all = np.concatenate([v[0] for v in series.values()]) if series else np.array([1.0])
    for (w, d), (x, var, se, s2_max) in sorted(series.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        label = f"L = {d}, {w}"
        style = dict(color=colors[d], ls=WEIGHT_STYLE[w], lw=1.8, marker="o" if empirical else None, ms=3)
        positive = np.isfinite(var) & (var > 0)
        axes[0].plot(x[positive], var[positive], label=label, **style)
        if empirical and np.isfinite(se).any():
            axes[0].errorbar(x[positive], var[positive], yerr=se[positive], fmt="none", ecolor=colors[d], alpha=0.6)
        top = np.isfinite(s2_max) & (s2_max > 0)
        axes[1].plot(x[top], s2_max[top], label=label, **style)
    positive_x = xs_all[np.isfinite(xs_all) & (xs_all > 0)]
    log_x = positive_x.size == xs_all.size and positive_x.size > 1 and positive_x.max() > 20 * positive_x.min()
    for ax, ylabel in ((axes[0], r"var$_{s^2}$: variance of the squared singular values"),
                       (axes[1], r"$s^2_{\max}$: largest squared singular value")):
        ax.set_yscale("log")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(SB2_LABEL if axis == "sb2" else SW2_LABEL)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8, ncol=2)
    act = results[0].activation if results else ""
    where = "on the critical line ($\\chi_1 = 1$)" if critical else (
        f"$\\sigma_w^2$ = {results[0].sw2:g}" if axis == "sb2" and results else
        f"$\\sigma_b^2$ = {results[0].sb2:g}" if results else "")
    kind = "finite networks" if empirical else "infinite width"
    fig.suptitle(f"{act} {where}: spectrum of $JJ^T$ ({kind}; solid Gaussian, dashed orthogonal weights)")
    save(fig, path)
