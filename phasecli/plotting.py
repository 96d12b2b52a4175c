"""PNG figures: heatmaps over (sigma_w^2, sigma_b^2) and line plots.

matplotlib.figure.Figure only (no pyplot state); every file is written to a temporary
path and renamed, so a failure never leaves a half-written PNG.  Imported only by
commands given --png.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from phasecli.output import atomic_path

SW2_LABEL = r"$\sigma_w^2$ (weight variance)"
SB2_LABEL = r"$\sigma_b^2$ (bias variance)"


def _save(fig: Figure, path: str) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


def _sorted(grid_axis):
    order = np.argsort(grid_axis, kind="stable")
    return np.asarray(grid_axis)[order], order


def _finite_range(values, positive=False):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if positive:
        v = v[v > 0]
    if v.size == 0:
        return None
    return float(v.min()), float(v.max())


def _draw_critical(ax, critical, sw2_range, sb2_range, label=True):
    """The root-solved critical line chi_1 = 1, on top, within the plotted ranges."""
    if critical is None:
        return
    sb2 = np.asarray(critical.sb2, dtype=float)
    sw2c = np.asarray(critical.sw2_critical, dtype=float)
    ok = np.isfinite(sw2c) & (sw2c >= sw2_range[0]) & (sw2c <= sw2_range[1])
    if ok.sum() >= 2:
        order = np.argsort(sb2[ok])
        ax.plot(sw2c[ok][order], sb2[ok][order], color="black", lw=2.0,
                label=r"critical line $\chi_1 = 1$" if label else None, zorder=5)
    elif ok.sum() == 1:
        ax.plot(sw2c[ok], sb2[ok], "k*", ms=12, label=r"$\chi_1 = 1$" if label else None, zorder=5)


def _finish_heatmaps(fig, axes, critical, sw2_range, sb2_range, title, path):
    """The critical line on top of every (sw2, sb2) panel, limits, legend, title; then save."""
    for k, ax in enumerate(axes):
        _draw_critical(ax, critical, sw2_range, sb2_range, label=(k == 0))
        ax.set_xlim(*sw2_range)
        ax.set_ylim(*sb2_range)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def _heatmap(fig, ax, x, y, z, title, cmap, norm, cbar_label):
    xs, xo = _sorted(x)
    ys, yo = _sorted(y)
    zz = np.asarray(z, dtype=float)[np.ix_(xo, yo)].T  # rows: sb2, columns: sw2
    zz = np.ma.masked_invalid(zz)
    mesh = ax.pcolormesh(xs, ys, zz, shading="nearest", cmap=cmap, norm=norm)
    fig.colorbar(mesh, ax=ax, label=cbar_label)
    ax.set_xlabel(SW2_LABEL)
    ax.set_ylabel(SB2_LABEL)
    ax.set_title(title)


def _log_norm(values):
    rng = _finite_range(values, positive=True)
    if rng is None:
        return Normalize(0, 1)
    lo, hi = rng
    return LogNorm(vmin=lo, vmax=max(hi, lo * 10))


def _chi_norm(chi):
    rng = _finite_range(chi)
    if rng is None:
        return Normalize(0, 2)
    lo, hi = rng
    if lo < 1.0 < hi:
        return TwoSlopeNorm(vcenter=1.0, vmin=lo, vmax=hi)
    return Normalize(vmin=min(lo, 1.0), vmax=max(hi, 1.0))


def _clip_inf(values):
    v = np.array(values, dtype=float)
    finite = v[np.isfinite(v)]
    cap = finite.max() if finite.size else 1.0
    v[np.isposinf(v)] = cap
    return v


def _line_axis(grid):
    """For a 1-D sweep: (x values, x label, index into the flattened grid) or None for 2-D."""
    if grid.sb2.size == 1 and grid.sw2.size > 1:
        return grid.sw2, SW2_LABEL, (slice(None), 0), rf"$\sigma_b^2$ = {grid.sb2[0]:g}"
    if grid.sw2.size == 1 and grid.sb2.size > 1:
        return grid.sb2, SB2_LABEL, (0, slice(None)), rf"$\sigma_w^2$ = {grid.sw2[0]:g}"
    return None


def phase_figure(grid, critical, path: str) -> None:
    """chi_1 with the critical line, c*, and xi_c on a log scale (heatmaps or, for a sweep, lines)."""
    line = _line_axis(grid)
    if line is not None:
        x, xlabel, idx, fixed = line
        order = np.argsort(x)
        fig = Figure(figsize=(13, 4.2), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, values, ylabel, log in ((axes[0], grid.chi_1, r"$\chi_1$", False),
                                        (axes[1], grid.c_star, r"$c^*$", False),
                                        (axes[2], grid.xi_c, r"$\xi_c$", True)):
            y = np.asarray(values, dtype=float)[idx][order]
            ax.plot(x[order], _clip_inf(y) if log else y, lw=1.8)
            if log:
                ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0].axhline(1.0, color="black", ls="--", lw=1, label=r"$\chi_1 = 1$")
        axes[0].legend()
        fig.suptitle(f"{grid.activation}: mean-field phase, {fixed}")
        _save(fig, path)
        return
    fig = Figure(figsize=(16, 4.8), layout="constrained")
    axes = fig.subplots(1, 3)
    sw2_range = (float(np.min(grid.sw2)), float(np.max(grid.sw2)))
    sb2_range = (float(np.min(grid.sb2)), float(np.max(grid.sb2)))
    _heatmap(fig, axes[0], grid.sw2, grid.sb2, grid.chi_1, r"$\chi_1$ (ordered < 1 < chaotic)", "RdBu_r",
             _chi_norm(grid.chi_1), r"$\chi_1$")
    _heatmap(fig, axes[1], grid.sw2, grid.sb2, grid.c_star, r"$c^*$ (fixed-point correlation)", "viridis",
             Normalize(0, 1), r"$c^*$")
    _heatmap(fig, axes[2], grid.sw2, grid.sb2, _clip_inf(grid.xi_c), r"$\xi_c$ (correlation depth scale)",
             "magma", _log_norm(grid.xi_c), r"$\xi_c$ (log scale)")
    _finish_heatmaps(fig, axes, critical, sw2_range, sb2_range, f"{grid.activation}: order-to-chaos phase diagram",
                     path)


def depth_scale_figure(grid, critical, multiple: float, path: str) -> None:
    """Depth scales: a line plot for a 1-D sweep, heatmaps of xi_c and the trainable depth for a 2-D grid."""
    line = _line_axis(grid)
    names = (("xi_q", r"$\xi_q$"), ("xi_c", r"$\xi_c$"), ("xi_1", r"$\xi_1$ (ordered)"),
             ("xi_star", r"$\xi_*$ (chaotic)"))
    if line is not None:
        x, xlabel, idx, fixed = line
        order = np.argsort(x)
        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.subplots()
        for name, label in names:
            y = np.asarray(getattr(grid, name), dtype=float)[idx][order]
            ax.plot(x[order], np.where(np.isfinite(y) & (y > 0), y, np.nan), lw=1.8, label=label)
        depth = multiple * np.asarray(grid.xi_c, dtype=float)[idx][order]
        ax.plot(x[order], np.where(np.isfinite(depth), depth, np.nan), "k--", lw=1.5,
                label=rf"max trainable depth ${multiple:g}\,\xi_c$")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("depth (layers)")
        ax.set_title(f"{grid.activation}: depth scales, {fixed}")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        _save(fig, path)
        return
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    sw2_range = (float(np.min(grid.sw2)), float(np.max(grid.sw2)))
    sb2_range = (float(np.min(grid.sb2)), float(np.max(grid.sb2)))
    depth = multiple * np.asarray(grid.xi_c, dtype=float)
    _heatmap(fig, axes[0], grid.sw2, grid.sb2, _clip_inf(grid.xi_c), r"$\xi_c$", "magma", _log_norm(grid.xi_c),
             r"$\xi_c$ (log scale)")
    _heatmap(fig, axes[1], grid.sw2, grid.sb2, _clip_inf(depth), rf"max trainable depth ${multiple:g}\,\xi_c$",
             "viridis", _log_norm(depth), "layers (log scale)")
    _finish_heatmaps(fig, axes, critical, sw2_range, sb2_range, f"{grid.activation}: depth scales", path)


def critical_figure(line, path: str) -> None:
    """The order-to-chaos line in the (sigma_w^2, sigma_b^2) plane."""
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.subplots()
    sb2 = np.asarray(line.sb2, dtype=float)
    sw2c = np.asarray(line.sw2_critical, dtype=float)
    ok = np.isfinite(sw2c)
    order = np.argsort(sb2[ok])
    if ok.sum() > 1:
        ax.plot(sw2c[ok][order], sb2[ok][order], "k-", lw=2, label=r"$\chi_1 = 1$")
    ax.plot(sw2c[ok], sb2[ok], "ko", ms=3)
    if ok.any():
        xmin, xmax = float(sw2c[ok].min()), float(sw2c[ok].max())
        pad = max(0.25 * (xmax - xmin), 0.25)
        ax.set_xlim(max(0.0, xmin - pad), xmax + pad)
        ax.text(0.03, 0.5, "ordered", transform=ax.transAxes, fontsize=12, color="tab:blue")
        ax.text(0.97, 0.5, "chaotic", transform=ax.transAxes, fontsize=12, color="tab:red", ha="right")
    ax.set_xlabel(SW2_LABEL)
    ax.set_ylabel(SB2_LABEL)
    ax.set_title(f"{line.activation}: order-to-chaos transition")
    ax.grid(alpha=0.3)
    if ok.sum() > 1:
        ax.legend(loc="upper left")
    _save(fig, path)


def _depth_scales_overlay(ax, sw2, depth, xi_1, xi_star):
    """xi_1 (ordered side) and xi_star (chaotic side) over a (sw2, depth) heatmap, Xiao et al. Fig. 3."""
    for xi, style, label in ((xi_1, "w-", r"$\xi_1$ (ordered)"), (xi_star, "r-", r"$\xi_*$ (chaotic)")):
        ok = np.isfinite(xi) & (xi > 0)
        if ok.any():
            ax.plot(sw2[ok], np.clip(xi[ok], depth.min(), depth.max()), style, lw=2, label=label)
    ax.set_xlabel(SW2_LABEL)
    ax.set_ylabel("depth L (hidden layers)")
    ax.set_ylim(depth.min(), depth.max())
    ax.legend(loc="upper right", fontsize=8)


def _log10_eta(result, loss):
    """log10 eta_max from log10 lambda_max (finite even where lambda_max overflows)."""
    factor = 2.0 if loss == "sum" else 2.0 * result.m
    return np.log10(factor) - np.asarray(result.log10_lambda_max, dtype=float)


def ntk_figure(results, kind: str, loss: str, path: str) -> None:
    """kappa (kind 'kappa') or eta_max (kind 'lr') against depth for one point, or heatmaps
    over (sw2, depth) of log10 kappa and log10 eta_max with xi_1 and xi_star (Xiao et al. Fig. 3)."""
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    if len(results) == 1:
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        if kind == "kappa":
            ax.plot(depth, first.kappa, "o-", ms=3, lw=1.6, label=r"NTK $\kappa$")
            ax.plot(depth, first.nngp_kappa, "s-", ms=2, lw=1.0, alpha=0.7, label=r"NNGP $\kappa$")
            ax.plot(depth, first.kappa_theory, "k--", lw=1.4, label=r"Table 1 large-depth theory")
            ax.set_ylabel(r"condition number $\kappa = \lambda_{max} / \lambda_{min}$")
        else:
            eta = 10.0 ** _log10_eta(first, loss)
            ax.plot(depth, eta, "o-", ms=3, lw=1.6, label=r"$\eta_{max} = 2/\lambda_{max}$")
            ax.plot(depth, 2.0 * eta, "--", lw=1.4, label=r"catapult bound $4/\lambda_{max}$")
            ax.set_ylabel(f"learning rate ({loss} loss)")
        ax.set_yscale("log")
        if depth.size > 1 and depth.max() / max(depth.min(), 1.0) >= 20:
            ax.set_xscale("log")
        ax.set_xlabel("depth L (hidden layers)")
        ax.set_title(rf"{first.activation}: $\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g}, "
                     f"m = {first.m}, {first.phase}")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        _save(fig, path)
        return
    sw2 = np.array([r.sw2 for r in results], dtype=float)
    order = np.argsort(sw2)
    sw2 = sw2[order]
    results = [results[k] for k in order]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_kappa = np.array([np.log10(np.asarray(r.kappa, dtype=float)) for r in results])
        log_eta = np.array([_log10_eta(r, loss) for r in results])
    xi_1 = np.array([r.xi_1 for r in results], dtype=float)
    xi_star = np.array([r.xi_star for r in results], dtype=float)
    fig = Figure(figsize=(13, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, values, title, cmap in ((axes[0], log_kappa, r"$\log_{10}\kappa$ (NTK)", "viridis"),
                                    (axes[1], log_eta, rf"$\log_{{10}}\eta_{{max}}$ ({loss} loss)", "plasma")):
        mesh = ax.pcolormesh(sw2, depth, np.ma.masked_invalid(values.T), shading="nearest", cmap=cmap)
        fig.colorbar(mesh, ax=ax, label=title)
        _depth_scales_overlay(ax, sw2, depth, xi_1, xi_star)
        ax.set_title(title)
    fig.suptitle(rf"{first.activation}: NTK on m = {first.m} inputs, $\sigma_b^2$ = {first.sb2:g}")
    _save(fig, path)


def generalize_figure(results, path: str) -> None:
    """Test accuracy against depth for one point, or a heatmap over (sw2, depth) with xi_1 and
    xi_star on top (Xiao et al. Figure 3 on the user's data)."""
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    if len(results) == 1:
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        ax.plot(depth, first.test_accuracy, "o-", ms=3, lw=1.8, label="test accuracy")
        ax.plot(depth, first.train_accuracy, "s--", ms=2, lw=1.2, label="train accuracy")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("depth L (hidden layers)")
        ax.set_ylabel("accuracy")
        twin = ax.twinx()
        twin.plot(depth, first.prediction_scale, "k:", lw=1.4, label="prediction scale")
        twin.set_yscale("log")
        twin.set_ylabel("RMS prediction / RMS target")
        if depth.size > 1 and depth.max() / max(depth.min(), 1.0) >= 20:
            ax.set_xscale("log")
        ax.set_title(rf"{first.activation}: $\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g} "
                     f"({first.phase}, {first.predictor.upper()} predictor)")
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left")
        ax.grid(alpha=0.3)
        _save(fig, path)
        return
    sw2 = np.array([r.sw2 for r in results], dtype=float)
    order = np.argsort(sw2)
    sw2 = sw2[order]
    results = [results[k] for k in order]
    acc = np.array([r.test_accuracy for r in results], dtype=float)
    xi_1 = np.array([r.xi_1 for r in results], dtype=float)
    xi_star = np.array([r.xi_star for r in results], dtype=float)
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.subplots()
    mesh = ax.pcolormesh(sw2, depth, np.ma.masked_invalid(acc.T), shading="nearest", cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(mesh, ax=ax, label="test accuracy")
    _depth_scales_overlay(ax, sw2, depth, xi_1, xi_star)
    ax.set_title(rf"{first.activation}: {first.predictor.upper()} test accuracy, $\sigma_b^2$ = {first.sb2:g}")
    _save(fig, path)
