"""Figures comparing architectures: ``generalize --architecture cnn-f,cnn-p --png`` (Xiao et al. Figure 3, bottom).

Layouts from ``phasecli.plotting.shapes`` ('generalize-compare'): 'heatmap-sw2' / 'heatmap-sb2'
(test accuracy of each architecture over (swept variable, depth) with xi_1 and xi_star on
top, plus the difference of the first two), 'depth' and 'line-*' (one curve per architecture).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize, TwoSlopeNorm

from phasecli.plotting.base import AXIS_LABELS, DEPTH_LABEL, Figure, heatmap, log_spaced, outside_legend, save
from phasecli.plotting.ntk import (DEPTH_FLOOR, _depth_limits, _depth_x, _fixed_label, _overlay_scales, _sweep,
                                   _x_limits)

NAMES = {"fc": "FCN", "cnn-f": "CNN-F", "cnn-p": "CNN-P"}


def _by_architecture(results):
    groups = {}
    for r in results:
        groups.setdefault(r.architecture, []).append(r)
    return groups


def comparison_figure(results, *, layout: str, path: str, scales=None, time=None, sizes=None) -> None:
    """Test accuracy of each architecture and (heatmaps) the difference of the first two.
    ``sizes``: (training examples, test examples), for the title."""
    groups = _by_architecture(results)
    names = list(groups)
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    when = r"$t = \infty$" if time is None else f"t = {time:g}"
    if sizes:
        when = f"{sizes[0]} train / {sizes[1]} test examples, {when}"
    label = lambda a: NAMES.get(a, a)  # noqa: E731
    if layout == "depth" or layout.startswith("line"):
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        for name in names:
            if layout == "depth":
                ax.plot(depth, groups[name][0].test_accuracy, "o-", ms=3, lw=1.6, label=label(name))
            else:
                x, rs = _sweep(groups[name], layout.split("-")[1])
                ax.plot(x, [r.test_accuracy[0] for r in rs], "o-", ms=3, lw=1.6, label=label(name))
        if layout == "depth":
            _depth_x(ax, depth)
        else:
            ax.set_xlabel(AXIS_LABELS[layout.split("-")[1]])
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        where = (rf"$\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g}" if layout == "depth"
                 else f"{_fixed_label(first, layout.split('-')[1])}, depth {int(depth[0])}")
        ax.set_title(f"{first.activation}: {first.predictor.upper()} test accuracy, {where}, {when}")
        save(fig, path)
        return
    axis = layout.split("-")[1]
    grids = {}
    for name in names:
        x, rs = _sweep(groups[name], axis)
        grids[name] = np.array([r.test_accuracy for r in rs], dtype=float)
    panels = [(grids[n], f"{label(n)} test accuracy", "viridis", Normalize(0, 1), "test accuracy") for n in names]
    if len(names) >= 2:
        diff = grids[names[0]] - grids[names[1]]
        span = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
        span = max(span, 1e-3)
        panels.append((diff, f"{label(names[0])} - {label(names[1])}", "RdBu",
                       TwoSlopeNorm(0.0, -span, span), "accuracy difference"))
    fig = Figure(figsize=(5.2 * len(panels), 5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (values, title, cmap, norm, cbar) in zip(axes, panels):
        heatmap(fig, ax, x, depth, values, title, cmap, norm, cbar, xlabel=AXIS_LABELS[axis], ylabel=DEPTH_LABEL,
                log_y=log_spaced(depth), y_floor=DEPTH_FLOOR)
        _overlay_scales(ax, scales, depth)
        ax.set_xlim(*_x_limits(x))
        ax.set_ylim(*_depth_limits(depth))
    outside_legend(fig, axes[:1])
    fig.suptitle(f"{first.activation}: {first.predictor.upper()} test accuracy, {_fixed_label(first, axis)}, {when}")
    save(fig, path)
