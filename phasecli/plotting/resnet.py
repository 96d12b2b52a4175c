"""Residual networks at depth L (``phase`` / ``depth-scale --architecture resnet --depth L``): q^L, c^L,
the gradient growth and the exponent of 1 - c^l over the (sw2, sb2) grid (docs/theory.md section 17)."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Patch

from phasecli.plotting.base import (MASKED_COLOR, SB2_LABEL, SW2_LABEL, Figure, fit_row, heatmap, outside_legend,
                                    robust_norm, save)

# why a cell has no value, per status (the rows' status and exponent_status columns)
REASONS = {"overflow": "q^L or the gradient growth overflows", "q0_below_sb2": "q0 not above sb2",
           "alpha_depends_on_depth": "alpha = 1/sqrt(L) (no exponent over one network's layers)",
           "too_shallow": "L < 8 (too shallow to fit an exponent)", "c_reached_1": "1 - c^l reached 0",
           "no_decay": "1 - c^l does not decay", "not_power_law": "1 - c^l is not a power law"}
PANELS = (("q_depth", r"$q^L$ (variance of the residual stream)", "viridis", True),
          ("c_depth", r"$c^L$ (correlation of two inputs)", "cividis", False),
          ("grad_growth", r"gradient growth (product of the layers' $\chi_l$)", "magma", True),
          ("c_exponent", r"exponent $p$ of $1 - c^l \sim l^{-p}$", "plasma", False))


def _reasons(statuses, where) -> str:
    """The statuses behind the cells ``where``, most frequent first."""
    names, counts = np.unique(np.asarray(statuses, dtype=str)[where], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return "; ".join(f"{REASONS.get(names[k], names[k])} at {counts[k]} of {where.size}" for k in order)


def resnet_depth_figure(grid, sw2, sb2, *, layout: str, path: str) -> None:
    """Heatmaps over (sw2, sb2) for a 2-D grid, curves against the swept variable for a 1-D sweep; white cells
    (or gaps) are explained below the panels by their status."""
    sw2, sb2 = np.asarray(sw2, dtype=float), np.asarray(sb2, dtype=float)
    shape = (sw2.size, sb2.size)
    status = np.asarray(grid.status, dtype=object).reshape(shape)
    exponent_status = np.asarray(grid.exponent_status, dtype=object).reshape(shape)
    fig = Figure(figsize=(21, 5.2))
    axes = fig.subplots(1, 4)
    extra = []
    for ax, (name, title, cmap, log) in zip(axes, PANELS):
        values = np.asarray(getattr(grid, name), dtype=float).reshape(shape)
        ok = np.isfinite(values) & ((values > 0) if log else True)
        reason_of = exponent_status if name == "c_exponent" else status
        if layout == "heatmap":
            norm, extend, note = robust_norm(values, log=log) if ok.any() else (Normalize(0, 1), "neither", "")
            heatmap(fig, ax, sw2, sb2, np.where(ok, values, np.nan), title, cmap, norm,
                    title.split(" (")[0] + (" (log scale)" if log else ""), extend=extend, clip_note=note)
        else:
            x, label = (sw2, SW2_LABEL) if layout == "line-sw2" else (sb2, SB2_LABEL)
            y = values[:, 0] if layout == "line-sw2" else values[0]
            good = ok[:, 0] if layout == "line-sw2" else ok[0]
            order = np.argsort(x)
            ax.plot(x[order], np.where(good, y, np.nan)[order], "o-", lw=1.8, ms=3)
            if log and good.any():
                ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(title.split(" (")[0])
            ax.set_title(title)
            ax.grid(alpha=0.3)
        if not ok.all():
            extra.append(Patch(facecolor=MASKED_COLOR, edgecolor="0.3",
                               label=f"{'white' if layout == 'heatmap' else 'no point'} in "
                                     f"{title.split(' (')[0]}: {_reasons(reason_of, ~ok)}"))
    if extra:
        outside_legend(fig, axes[:0], ncol=1, extra=extra)
    alpha = float(np.asarray(grid.residual_scale, dtype=float).ravel()[0])
    depth = int(np.asarray(grid.depth).ravel()[0])
    fig.suptitle(f"{grid.activation}: residual network at depth L = {depth}, alpha = {alpha:.4g}, "
                 f"LayerNorm {grid.layer_norm} (no fixed point: the values at depth L)")
    fit_row(fig, axes)
    save(fig, path)
