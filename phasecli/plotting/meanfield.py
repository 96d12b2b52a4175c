"""Mean-field figures: the phase diagram, depth scales, the critical line."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Patch

from phasecli.gate import DEFAULT_CONDITIONING_MULTIPLE, DEFAULT_GENERALIZATION_MULTIPLE
from phasecli.plotting.base import (FIXED_POINT_REASONS, MASKED_COLOR, SB2_LABEL, SW2_LABEL, Figure, chi_norm,
                                    clip_inf, draw_critical, empty_panel, fit_row, heatmap, outside_legend, points, robust_norm,
                                    save, why_undefined)


def _line_axis(grid, layout):
    """For a 1-D sweep: (x values, x label, index into the grid arrays, the fixed variable)."""
    if layout == "line-sw2":
        return grid.sw2, SW2_LABEL, (slice(None), 0), rf"$\sigma_b^2$ = {grid.sb2[0]:g}"
    return grid.sb2, SB2_LABEL, (0, slice(None)), rf"$\sigma_w^2$ = {grid.sw2[0]:g}"


def _ranges(grid):
    return (float(np.min(grid.sw2)), float(np.max(grid.sw2))), (float(np.min(grid.sb2)), float(np.max(grid.sb2)))


def _curve(ax, x, y, fixed_point, name, log=False):
    """One quantity against the swept variable, points marked; where it is undefined (or infinite) the panel
    says why, in its middle when (almost) nothing can be drawn."""
    ok = np.isfinite(y) & ((y > 0) if log else True)
    infinite = np.isposinf(y)
    notes = []
    if infinite.any():
        notes.append(f"{name} = $\\infty$ at {points(int(infinite.sum()))}")
    gaps = ~ok & ~infinite
    if gaps.any():
        notes.append(f"{name} undefined at {int(gaps.sum())} of {y.size} points: {why_undefined(fixed_point, gaps)}")
    xlim = (float(x.min()), float(x.max()))
    if ok.sum() <= 1:
        only = f"\ndefined only at {x[ok][0]:g} ({name} = {y[ok][0]:.4g})" if ok.any() else ""
        if ok.any():
            ax.plot(x[ok], y[ok], "o", ms=6)
        empty_panel(ax, "\n".join(notes) + only, xlim)
        return
    ax.plot(x, np.where(ok, y, np.nan), "o-", lw=1.8, ms=2.5)
    if log:
        ax.set_yscale("log")
    if notes:
        ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=7, va="bottom", color="0.2",
                bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.7", alpha=0.85))
    ax.set_xlim(*xlim)


REGION_LABEL_SHARE = 0.05  # an undefined region this large a share of the cells is labelled in the panel


def _label_regions(ax, grid, undefined):
    """Name the reason in the middle of each large white region (cells grouped by their fixed-point label)."""
    labels = np.asarray(grid.fixed_point, dtype=object)
    sw2, sb2 = np.meshgrid(np.asarray(grid.sw2, dtype=float), np.asarray(grid.sb2, dtype=float), indexing="ij")
    for name in sorted({str(v) for v in labels[undefined]}):
        cells = undefined & (labels == name)
        if cells.sum() < REGION_LABEL_SHARE * undefined.size or name == "stable":
            continue
        reason = FIXED_POINT_REASONS.get(name, name).replace(" (", "\n(")
        ax.text(float(np.median(sw2[cells])), float(np.median(sb2[cells])), reason, ha="center", va="center",
                fontsize=9, color="0.15", bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.6"))


def _finish_heatmaps(fig, axes, critical, grid, masks, title, path, fit=None):
    """Critical line on every panel, limits, large white regions named where they are, one legend below the
    panels (the critical line and why cells are white, per reason, naming the panels), title; then save."""
    sw2_range, sb2_range = _ranges(grid)
    reasons = {}
    for ax, (name, undefined) in zip(axes, masks):
        draw_critical(ax, critical, label=ax is axes[0])
        ax.set_xlim(*sw2_range)
        ax.set_ylim(*sb2_range)
        if undefined is None or not undefined.any():
            continue
        _label_regions(ax, grid, undefined)
        reasons.setdefault(why_undefined(grid.fixed_point, undefined), []).append(name)
    extra = [Patch(facecolor=MASKED_COLOR, edgecolor="0.3", label=f"white in {' and '.join(names)}: {reason}")
             for reason, names in reasons.items()]
    outside_legend(fig, axes[:1], ncol=1 + len(extra), extra=extra)
    fig.suptitle(title)
    if fit is not None:
        fit(fig, axes)
    save(fig, path)


def phase_figure(grid, critical, *, layout: str, path: str) -> None:
    """chi_1 with the critical line, c*, and xi_c on a log scale (heatmaps, or curves for a 1-D sweep).
    Undefined values (q* = 0 or infinite) are white and explained; an empty panel says why."""
    if layout != "heatmap":
        x, xlabel, idx, fixed = _line_axis(grid, layout)
        order = np.argsort(x)
        x = np.asarray(x, dtype=float)[order]
        fixed_point = np.asarray(grid.fixed_point, dtype=object)[idx][order]
        fig = Figure(figsize=(13, 4.2), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, values, name, log in ((axes[0], grid.chi_1, r"$\chi_1$", False),
                                      (axes[1], grid.c_star, r"$c^*$", False),
                                      (axes[2], grid.xi_c, r"$\xi_c$", True)):
            y = np.asarray(values, dtype=float)[idx][order]
            _curve(ax, x, y, fixed_point, name, log=log)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(name + (" (log scale)" if log else ""))
            ax.grid(alpha=0.3)
        if np.isfinite(np.asarray(grid.chi_1, dtype=float)[idx]).any():
            axes[0].axhline(1.0, color="black", ls="--", lw=1, label=r"$\chi_1 = 1$")
            axes[0].legend()
        fig.suptitle(f"{grid.activation}: mean-field phase, {fixed}")
        save(fig, path)
        return
    # a fixed layout fitted once to the tick labels (fit_row): the README's main job draws this figure, and
    # constrained layout would double its time
    fig = Figure(figsize=(16, 5.2))
    axes = fig.subplots(1, 3)
    c_star = np.asarray(grid.c_star, dtype=float)
    xi_c = clip_inf(grid.xi_c)
    heatmap(fig, axes[0], grid.sw2, grid.sb2, grid.chi_1, r"$\chi_1$ (ordered < 1 < chaotic)", "RdBu_r",
            chi_norm(grid.chi_1), r"$\chi_1$")
    heatmap(fig, axes[1], grid.sw2, grid.sb2, c_star, r"$c^*$ (fixed-point correlation)", "viridis",
            Normalize(0, 1), r"$c^*$")
    norm, extend, note = robust_norm(xi_c, log=True)
    heatmap(fig, axes[2], grid.sw2, grid.sb2, xi_c, r"$\xi_c$ (correlation depth scale)", "magma", norm,
            r"$\xi_c$ (log scale)", extend=extend, clip_note=note)
    masks = [(r"$\chi_1$", ~np.isfinite(np.asarray(grid.chi_1, dtype=float))), (r"$c^*$", ~np.isfinite(c_star)),
             (r"$\xi_c$", ~(np.isfinite(xi_c) & (xi_c > 0)))]
    _finish_heatmaps(fig, axes, critical, grid, masks, f"{grid.activation}: order-to-chaos phase diagram", path,
                     fit=fit_row)


def depth_scale_figure(grid, critical, multiple: float, *, layout: str, path: str) -> None:
    """Depth scales: curves for a 1-D sweep, heatmaps of xi_c and the trainable depth for a 2-D grid."""
    names = (("xi_q", r"$\xi_q$"), ("xi_c", r"$\xi_c$"), ("xi_1", r"$\xi_1$ (ordered)"),
             ("xi_star", r"$\xi_*$ (chaotic)"))
    if layout != "heatmap":
        x, xlabel, idx, fixed = _line_axis(grid, layout)
        order = np.argsort(x)
        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.subplots()
        drawn = 0
        check_multiples = {"xi_1": (DEFAULT_CONDITIONING_MULTIPLE, "conditioning"),
                           "xi_star": (DEFAULT_GENERALIZATION_MULTIPLE, "generalization")}
        for (name, label), colour in zip(names, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
            y = np.asarray(getattr(grid, name), dtype=float)[idx][order]
            ok = np.isfinite(y) & (y > 0)
            drawn += int(ok.any())
            ax.plot(x[order], np.where(ok, y, np.nan), lw=1.8, label=label, color=colour)
            if name in check_multiples and ok.any():
                m, what = check_multiples[name]
                ax.plot(x[order], np.where(ok, m * y, np.nan), "--", lw=1.2, color=colour,
                        label=rf"${m:g}\,${label.split(' ')[0]} (`check` {what} limit)")
        depth = multiple * np.asarray(grid.xi_c, dtype=float)[idx][order]
        ax.plot(x[order], np.where(np.isfinite(depth), depth, np.nan), "k--", lw=1.5,
                label=rf"max trainable depth ${multiple:g}\,\xi_c$ (`check` trainability limit)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("depth (layers)")
        ax.set_title(f"{grid.activation}: depth scales, {fixed}")
        if drawn:
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.legend()
        else:
            empty_panel(ax, "no depth scale is defined at any point:\n"
                        + why_undefined(np.asarray(grid.fixed_point, dtype=object)[idx]),
                        (float(np.min(x)), float(np.max(x))))
        save(fig, path)
        return
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    xi_c = clip_inf(grid.xi_c)
    depth = multiple * xi_c
    norm, extend, note = robust_norm(xi_c, log=True)
    heatmap(fig, axes[0], grid.sw2, grid.sb2, xi_c, r"$\xi_c$", "magma", norm, r"$\xi_c$ (log scale)", extend=extend,
            clip_note=note)
    norm, extend, note = robust_norm(depth, log=True)
    heatmap(fig, axes[1], grid.sw2, grid.sb2, depth, rf"max trainable depth ${multiple:g}\,\xi_c$",
            "viridis", norm, "layers (log scale)", extend=extend, clip_note=note)
    undefined = ~(np.isfinite(xi_c) & (xi_c > 0))
    _finish_heatmaps(fig, axes, critical, grid, [(r"$\xi_c$", undefined), ("the depth", undefined)],
                     f"{grid.activation}: depth scales", path)


REFINE_PASSES = 8
REFINE_TOLERANCE = 0.002  # of the axes' extent: a chord further than this from the line is split


def refine_line(line, solve, passes: int = REFINE_PASSES, tolerance: float = REFINE_TOLERANCE):
    """(sb2, sw2_critical) of the line with points added where it bends: between two solved neighbours the
    midpoint in sb2 is solved (``solve(sb2_array)`` -> an object with ``sb2``, ``sw2_critical``) and kept
    when it lies off the chord by more than ``tolerance`` of the plotted extent; repeated ``passes`` times."""
    sb2 = np.asarray(line.sb2, dtype=float)
    sw2c = np.asarray(line.sw2_critical, dtype=float)
    ok = np.isfinite(sw2c)
    sb2, sw2c = sb2[ok], sw2c[ok]
    order = np.argsort(sb2)
    sb2, sw2c = sb2[order], sw2c[order]
    if solve is None or sb2.size < 2:
        return sb2, sw2c
    for _ in range(passes):
        span_x = max(float(np.ptp(sw2c)), 1e-6 * float(np.max(np.abs(sw2c))))
        span_y = max(float(np.ptp(sb2)), 1e-12)
        mid = 0.5 * (sb2[1:] + sb2[:-1])
        new = solve(mid)
        new_sw2 = np.asarray(new.sw2_critical, dtype=float)
        chord = 0.5 * (sw2c[1:] + sw2c[:-1])
        # the distance of the midpoint from the chord, in axis fractions (x deviation dominates: y is exact)
        off = np.abs(new_sw2 - chord) / span_x
        keep = np.isfinite(new_sw2) & (off > tolerance) & (np.diff(sb2) > 1e-9 * span_y)
        if not keep.any():
            break
        sb2 = np.concatenate([sb2, mid[keep]])
        sw2c = np.concatenate([sw2c, new_sw2[keep]])
        order = np.argsort(sb2)
        sb2, sw2c = sb2[order], sw2c[order]
    return sb2, sw2c


def critical_figure(line, *, path: str, solve=None) -> None:
    """The order-to-chaos line in the (sigma_w^2, sigma_b^2) plane: the requested sb2 as dots, the line
    through them sampled adaptively (``refine_line``) when ``solve`` is given."""
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.subplots()
    sb2 = np.asarray(line.sb2, dtype=float)
    sw2c = np.asarray(line.sw2_critical, dtype=float)
    ok = np.isfinite(sw2c)
    if ok.sum() > 1:
        fine_sb2, fine_sw2 = refine_line(line, solve)
        added = fine_sb2.size - int(ok.sum())
        ax.plot(fine_sw2, fine_sb2, "k-", lw=2,
                label=r"$\chi_1 = 1$" + (f" (+{added} points where it bends)" if added else ""))
    ax.plot(sw2c[ok], sb2[ok], "o", color="tab:orange", mec="black", ms=4, zorder=5, label="requested sb2")
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
    if ok.any():
        ax.legend(loc="upper left")
    save(fig, path)
