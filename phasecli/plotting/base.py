"""Shared figure pieces: saving, heatmaps with colorbars, colour scales, the critical line, legends."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from phasecli.output import atomic_path

SW2_LABEL = r"$\sigma_w^2$ (weight variance)"
SB2_LABEL = r"$\sigma_b^2$ (bias variance)"
DEPTH_LABEL = "depth L (hidden layers)"
AXIS_LABELS = {"sw2": SW2_LABEL, "sb2": SB2_LABEL}
MASKED_COLOR = "white"

__all__ = ["Figure", "SW2_LABEL", "SB2_LABEL", "DEPTH_LABEL", "AXIS_LABELS", "save", "finite_range", "heatmap",
           "log_norm", "chi_norm", "clip_inf", "draw_critical", "finish_heatmaps", "masked_legend", "robust_limits"]


def save(fig: Figure, path: str) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


def finite_range(values, positive=False):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if positive:
        v = v[v > 0]
    if v.size == 0:
        return None
    return float(v.min()), float(v.max())


def robust_limits(values, upper_quantile=0.9, lower_quantile=None, floor_span=1.0):
    """Colour limits that keep the structure visible: the top (and bottom) tails beyond the
    quantiles are drawn in the end colours (colorbar arrows say so).  Returns (lo, hi, extend)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0, "neither"
    lo, hi = float(v.min()), float(v.max())
    bottom = float(np.quantile(v, lower_quantile)) if lower_quantile is not None and v.size > 10 else lo
    top = float(np.quantile(v, upper_quantile)) if v.size > 10 else hi
    top = min(hi, max(top, bottom + floor_span))
    extend_lo, extend_hi = lo < bottom, hi > top
    extend = "both" if extend_hi and extend_lo else ("max" if extend_hi else ("min" if extend_lo else "neither"))
    return bottom, top, extend


def heatmap(fig, ax, x, y, z, title, cmap, norm, cbar_label, xlabel=SW2_LABEL, ylabel=SB2_LABEL, extend="neither"):
    """z[i, j] at (x[i], y[j]) as a pcolormesh (columns x, rows y), with its colorbar.  Returns the
    number of masked (non-finite) cells, drawn in MASKED_COLOR."""
    xo = np.argsort(x, kind="stable")
    yo = np.argsort(y, kind="stable")
    zz = np.asarray(z, dtype=float)[np.ix_(xo, yo)].T
    masked = np.ma.masked_invalid(zz)
    cmap_obj = _cmap(cmap)
    mesh = ax.pcolormesh(np.asarray(x, dtype=float)[xo], np.asarray(y, dtype=float)[yo], masked, shading="nearest",
                         cmap=cmap_obj, norm=norm)
    fig.colorbar(mesh, ax=ax, label=cbar_label, extend=extend)
    ax.set_facecolor(MASKED_COLOR)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return int(np.ma.count_masked(masked))


def _cmap(name):
    import matplotlib

    cmap = matplotlib.colormaps[name].copy()
    cmap.set_bad(MASKED_COLOR)
    return cmap


def masked_legend(ax, what: str, handles=None, loc="upper left"):
    """A legend entry explaining the white (masked) cells, added to the axis' other entries."""
    h, labels = ax.get_legend_handles_labels()
    h = list(handles or h)
    labels = [x.get_label() for x in h] if handles else list(labels)
    h.append(Patch(facecolor=MASKED_COLOR, edgecolor="0.4", label=what))
    labels.append(what)
    ax.legend(h, labels, loc=loc, fontsize=8, framealpha=0.85)


def log_norm(values):
    rng = finite_range(values, positive=True)
    if rng is None:
        return Normalize(0, 1)
    lo, hi = rng
    return LogNorm(vmin=lo, vmax=max(hi, lo * 10))


def chi_norm(chi):
    rng = finite_range(chi)
    if rng is None:
        return Normalize(0, 2)
    lo, hi = rng
    if lo < 1.0 < hi:
        return TwoSlopeNorm(vcenter=1.0, vmin=lo, vmax=hi)
    return Normalize(vmin=min(lo, 1.0), vmax=max(hi, 1.0))


def clip_inf(values):
    v = np.array(values, dtype=float)
    finite = v[np.isfinite(v)]
    cap = finite.max() if finite.size else 1.0
    v[np.isposinf(v)] = cap
    return v


def draw_critical(ax, critical, label=True):
    """The root-solved critical line chi_1 = 1, on top (clipped to the axes by their limits)."""
    if critical is None:
        return
    sb2 = np.asarray(critical.sb2, dtype=float)
    sw2c = np.asarray(critical.sw2_critical, dtype=float)
    ok = np.isfinite(sw2c)
    if ok.sum() >= 2:
        order = np.argsort(sb2[ok])
        ax.plot(sw2c[ok][order], sb2[ok][order], color="black", lw=2.0,
                label=r"critical line $\chi_1 = 1$" if label else None, zorder=5)
    elif ok.sum() == 1:
        ax.plot(sw2c[ok], sb2[ok], "k*", ms=12, label=r"$\chi_1 = 1$" if label else None, zorder=5)


def finish_heatmaps(fig, axes, critical, sw2_range, sb2_range, title, path, masked=0, masked_what="undefined"):
    """The critical line on top of every (sw2, sb2) panel, limits, legend, title; then save."""
    for k, ax in enumerate(axes):
        draw_critical(ax, critical, label=(k == 0))
        ax.set_xlim(*sw2_range)
        ax.set_ylim(*sb2_range)
    if masked:
        masked_legend(axes[0], f"white: {masked_what}")
    elif axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    save(fig, path)
