"""Mean-field figures: the phase diagram, depth scales, the critical line."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize

from phasecli.plotting.base import (SB2_LABEL, SW2_LABEL, Figure, chi_norm, clip_inf, finish_heatmaps, heatmap,
                                    log_norm, save)


def _line_axis(grid, layout):
    """For a 1-D sweep: (x values, x label, index into the grid arrays, the fixed variable)."""
    if layout == "line-sw2":
        return grid.sw2, SW2_LABEL, (slice(None), 0), rf"$\sigma_b^2$ = {grid.sb2[0]:g}"
    return grid.sb2, SB2_LABEL, (0, slice(None)), rf"$\sigma_w^2$ = {grid.sw2[0]:g}"


def _ranges(grid):
    return (float(np.min(grid.sw2)), float(np.max(grid.sw2))), (float(np.min(grid.sb2)), float(np.max(grid.sb2)))


def phase_figure(grid, critical, *, layout: str, path: str) -> None:
    """chi_1 with the critical line, c*, and xi_c on a log scale (heatmaps, or curves for a 1-D sweep)."""
    if layout != "heatmap":
        x, xlabel, idx, fixed = _line_axis(grid, layout)
        order = np.argsort(x)
        fig = Figure(figsize=(13, 4.2), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, values, ylabel, log in ((axes[0], grid.chi_1, r"$\chi_1$", False),
                                        (axes[1], grid.c_star, r"$c^*$", False),
                                        (axes[2], grid.xi_c, r"$\xi_c$", True)):
            y = np.asarray(values, dtype=float)[idx][order]
            ax.plot(x[order], clip_inf(y) if log else y, lw=1.8)
            if log and np.any(np.isfinite(y) & (y > 0)):
                ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0].axhline(1.0, color="black", ls="--", lw=1, label=r"$\chi_1 = 1$")
        axes[0].legend()
        fig.suptitle(f"{grid.activation}: mean-field phase, {fixed}")
        save(fig, path)
        return
    # a fixed layout (three heatmaps, the same axes labels whatever the grid): constrained layout took
    # half the time of this, the README's main figure (bench/RESULTS_first_minute.md)
    fig = Figure(figsize=(16, 4.8))
    fig.subplots_adjust(left=0.045, right=0.955, bottom=0.12, top=0.85, wspace=0.3)
    axes = fig.subplots(1, 3)
    sw2_range, sb2_range = _ranges(grid)
    masked = heatmap(fig, axes[0], grid.sw2, grid.sb2, grid.chi_1, r"$\chi_1$ (ordered < 1 < chaotic)", "RdBu_r",
                     chi_norm(grid.chi_1), r"$\chi_1$")
    masked += heatmap(fig, axes[1], grid.sw2, grid.sb2, grid.c_star, r"$c^*$ (fixed-point correlation)", "viridis",
                      Normalize(0, 1), r"$c^*$")
    heatmap(fig, axes[2], grid.sw2, grid.sb2, clip_inf(grid.xi_c), r"$\xi_c$ (correlation depth scale)", "magma",
            log_norm(grid.xi_c), r"$\xi_c$ (log scale)")
    finish_heatmaps(fig, axes, critical, sw2_range, sb2_range, f"{grid.activation}: order-to-chaos phase diagram",
                    path, masked=masked, masked_what=r"undefined ($q^*$ = 0 or $\infty$: $c^*$ NaN)")


def depth_scale_figure(grid, critical, multiple: float, *, layout: str, path: str) -> None:
    """Depth scales: curves for a 1-D sweep, heatmaps of xi_c and the trainable depth for a 2-D grid."""
    names = (("xi_q", r"$\xi_q$"), ("xi_c", r"$\xi_c$"), ("xi_1", r"$\xi_1$ (ordered)"),
             ("xi_star", r"$\xi_*$ (chaotic)"))
    if layout != "heatmap":
        x, xlabel, idx, fixed = _line_axis(grid, layout)
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
        save(fig, path)
        return
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    sw2_range, sb2_range = _ranges(grid)
    depth = multiple * np.asarray(grid.xi_c, dtype=float)
    masked = heatmap(fig, axes[0], grid.sw2, grid.sb2, clip_inf(grid.xi_c), r"$\xi_c$", "magma",
                     log_norm(grid.xi_c), r"$\xi_c$ (log scale)")
    heatmap(fig, axes[1], grid.sw2, grid.sb2, clip_inf(depth), rf"max trainable depth ${multiple:g}\,\xi_c$",
            "viridis", log_norm(depth), "layers (log scale)")
    finish_heatmaps(fig, axes, critical, sw2_range, sb2_range, f"{grid.activation}: depth scales", path,
                    masked=masked, masked_what=r"undefined ($q^*$ = 0 or $\infty$)")


def critical_figure(line, *, path: str) -> None:
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
    else:
        ax.text(0.5, 0.5, "no critical point in this range", transform=ax.transAxes, ha="center")
    ax.set_xlabel(SW2_LABEL)
    ax.set_ylabel(SB2_LABEL)
    ax.set_title(f"{line.activation}: order-to-chaos transition")
    ax.grid(alpha=0.3)
    if ok.sum() > 1:
        ax.legend(loc="upper left")
    save(fig, path)
