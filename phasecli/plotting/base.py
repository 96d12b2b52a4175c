"""Shared figure pieces: saving, heatmaps with colorbars, colour scales, the critical line, legends."""

from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from phasecli.cli.output import atomic_path

SW2_LABEL = r"$\sigma_w^2$ (weight variance)"
SB2_LABEL = r"$\sigma_b^2$ (bias variance)"
DEPTH_LABEL = "depth L (hidden layers)"
AXIS_LABELS = {"sw2": SW2_LABEL, "sb2": SB2_LABEL}
MASKED_COLOR = "white"
# a dark outline behind light lines and markers (and a light one behind dark ones): readable on any colour map
DARK_OUTLINE = [patheffects.withStroke(linewidth=4.0, foreground="black")]
LIGHT_OUTLINE = [patheffects.withStroke(linewidth=4.0, foreground="white")]
ROBUST_QUANTILES = (0.02, 0.98)  # colour limits: cells beyond these quantiles get the end colours (arrows)
FIXED_POINT_REASONS = {"zero": "$q^*$ = 0 (the signal dies)", "infinite": r"$q^*$ = $\infty$ (no finite fixed point)",
                       "unconverged": "$q^*$ unconverged", "marginal": "$q^*$ marginal (slope 1)"}

__all__ = ["Figure", "SW2_LABEL", "SB2_LABEL", "DEPTH_LABEL", "AXIS_LABELS", "save", "finite_range", "heatmap",
           "log_norm", "chi_norm", "clip_inf", "draw_critical", "finish_heatmaps", "masked_legend", "robust_limits",
           "robust_norm", "cell_edges", "log_spaced", "depth_axis", "empty_panel", "DARK_OUTLINE", "LIGHT_OUTLINE",
           "outside_legend", "why_undefined", "fit_row"]


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


def heatmap(fig, ax, x, y, z, title, cmap, norm, cbar_label, xlabel=SW2_LABEL, ylabel=SB2_LABEL, extend="neither",
            log_y=False, clip_note="", y_floor=None):
    """z[i, j] at (x[i], y[j]) as a pcolormesh (columns x, rows y), with its colorbar.  Cells are centred on
    their values, edges half-way between neighbours (geometric half-way and a log y axis when ``log_y``).
    Colour-bar arrows (``extend``) say the range is clipped, ``clip_note`` how; the lowest row starts no lower
    than ``y_floor``.  Returns the number of masked
    (non-finite) cells, drawn in MASKED_COLOR."""
    xo = np.argsort(x, kind="stable")
    yo = np.argsort(y, kind="stable")
    zz = np.asarray(z, dtype=float)[np.ix_(xo, yo)].T
    masked = np.ma.masked_invalid(zz)
    cmap_obj = _cmap(cmap)
    xs, ys = np.asarray(x, dtype=float)[xo], np.asarray(y, dtype=float)[yo]
    y_edges = cell_edges(ys, log=log_y)
    if y_floor is not None:  # e.g. depth cells start at 0.5, never at a negative depth
        y_edges[0] = max(y_edges[0], min(y_floor, ys[0]))
    mesh = ax.pcolormesh(cell_edges(xs), y_edges, masked, shading="flat", cmap=cmap_obj, norm=norm)
    if extend != "neither":
        cbar_label = f"{cbar_label}\n({clip_note or 'arrows: colours clipped'})"
    fig.colorbar(mesh, ax=ax, label=cbar_label, extend=extend)
    if log_y:
        ax.set_yscale("log")
    ax.set_facecolor(MASKED_COLOR)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return int(np.ma.count_masked(masked))


def cell_edges(values, log=False):
    """Edges of cells centred on sorted ``values``: half-way between neighbours (geometric mean when ``log``),
    the ends as far out as the first and last half-steps (one cell of width 1, or a factor 2, for one value)."""
    v = np.asarray(values, dtype=float)
    if log:
        return np.exp(cell_edges(np.log(v)))
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def log_spaced(values) -> bool:
    """Whether sorted positive ``values`` are sampled geometrically (a log axis shows them evenly): they span
    at least a factor 10 and their log-steps vary less than their steps do (1,10,100,1000 or log:1:1000:30
    yes; 1:60 no)."""
    v = np.unique(np.asarray(values, dtype=float))
    if v.size < 2 or v[0] <= 0 or v[-1] / v[0] < 10:
        return False
    if v.size == 2:
        return True
    step, log_step = np.diff(v), np.diff(np.log(v))
    return float(np.std(log_step) / np.mean(log_step)) < float(np.std(step) / np.mean(step))


def depth_axis(ax, depth, axis="y"):
    """Label a depth axis and make it logarithmic when the depths are log-spaced (``log_spaced``)."""
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(DEPTH_LABEL)
    if log_spaced(depth):
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def empty_panel(ax, reason: str, xlim=None):
    """A panel with nothing to draw says why in its middle (and keeps the sweep's x range)."""
    import textwrap

    reason = "\n".join(textwrap.fill(line, 34) for line in reason.split("\n"))
    ax.text(0.5, 0.5, reason, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            bbox=dict(boxstyle="round", facecolor="0.95", edgecolor="0.6"))
    if xlim is not None and xlim[1] > xlim[0]:
        ax.set_xlim(*xlim)
    ax.set_yticks([])


def why_undefined(fixed_point, where=None) -> str:
    """The fixed-point labels behind undefined cells, most frequent first ('$q^*$ = inf at 40 of 50 points')."""
    labels = np.asarray(fixed_point, dtype=object)
    if where is not None:
        labels = labels[np.asarray(where, dtype=bool)]
    labels = [str(x) for x in labels.ravel() if str(x) != "stable"]
    if not labels:
        return "undefined"
    names, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return "; ".join(f"{FIXED_POINT_REASONS.get(names[k], names[k])} at {points(counts[k])}" for k in order)


def points(n: int) -> str:
    return f"{n} point" if n == 1 else f"{n} points"


def fit_row(fig, axes, pad=0.012):
    """A fixed layout for one row of panels with colorbars and a legend below: the margins and the gaps
    measured once from the drawn labels (one text layout pass, where constrained layout takes several)."""
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.17, top=0.88, wspace=0.3)
    renderer = FigureCanvasAgg(fig).get_renderer()
    width = fig.bbox.width
    gap = 0.0
    boxes = [ax.get_tightbbox(renderer) for ax in axes]
    bars = [cb.ax.get_tightbbox(renderer) if (cb := _colorbar(ax)) is not None else box for ax, box in zip(axes, boxes)]
    left = max(0.0, -boxes[0].x0) / width
    right = max(0.0, bars[-1].x1 - width) / width
    for bar, box in zip(bars[:-1], boxes[1:]):
        gap = max(gap, (bar.x1 - box.x0) / width)
    # above the panels the title, below them the legend: lower the top or raise the bottom where they meet
    height = fig.bbox.height
    top, bottom = 0.88, 0.17
    suptitle = getattr(fig, "_suptitle", None)  # matplotlib keeps no public handle on it
    if suptitle is not None:
        title = suptitle.get_window_extent(renderer)
        overlap = max(max(box.y1, bar.y1) for box, bar in zip(boxes, bars)) - title.y0
        top -= max(0.0, overlap) / height + pad
    if fig.legends:
        legend = fig.legends[0].get_window_extent(renderer)
        overlap = legend.y1 - min(min(box.y0, bar.y0) for box, bar in zip(boxes, bars))
        bottom += max(0.0, overlap) / height + pad
    # widen what overflows, keep what fits; wspace is a fraction of the mean panel width
    n = len(axes)
    lo, hi = 0.05 + left + pad, 0.95 - right - pad
    panel = (hi - lo) / (n + 0.3 * (n - 1))
    wspace = 0.3 + max(0.0, gap + pad) / panel
    fig.subplots_adjust(left=lo, right=hi, wspace=wspace, top=top, bottom=bottom)


def _colorbar(ax):
    """The colorbar drawn for ``ax``'s mesh (heatmap), if any."""
    for artist in ax.collections:
        if getattr(artist, "colorbar", None) is not None:
            return artist.colorbar
    return None


def outside_legend(fig, axes, ncol=None, extra=()):
    """One legend for ``axes`` below the figure, where it covers no data (duplicate labels once)."""
    seen = {}
    for ax in np.atleast_1d(axes):
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    for h in extra:
        seen.setdefault(h.get_label(), h)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center", fontsize=8,
                   ncol=ncol or min(len(seen), 4), framealpha=0.9)


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=MASKED_COLOR)


def masked_legend(ax, what: str, handles=None, loc="upper left"):
    """A legend entry explaining the white (masked) cells, added to the axis' other entries."""
    h, labels = ax.get_legend_handles_labels()
    h = list(handles or h)
    labels = [x.get_label() for x in h] if handles else list(labels)
    h.append(Patch(facecolor=MASKED_COLOR, edgecolor="0.4", label=what))
    labels.append(what)
    ax.legend(h, labels, loc=loc, fontsize=8, framealpha=0.85)


def robust_norm(values, log=False, quantiles=ROBUST_QUANTILES, max_span=None, keep="high", cap=None):
    """(norm, extend, note): colour limits at the ``quantiles`` of the finite (positive, for ``log``) values,
    so that a few extreme cells do not compress the bulk into one shade; at most ``max_span`` wide (in
    decades for ``log``), keeping the ``keep`` end; the top at most ``cap``.  ``extend`` gives the colour-bar
    arrows and ``note`` says on the colour bar what they mean."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if v.size == 0:
        return (LogNorm(1, 10) if log else Normalize(0, 1)), "neither", ""
    w = np.log10(v) if log else v
    lo, hi = float(w.min()), float(w.max())
    bottom, top = (float(q) for q in np.quantile(w, quantiles)) if w.size > 20 else (lo, hi)
    if top - bottom < 1e-12 * max(1.0, abs(top)):
        bottom, top = lo, hi
    why = [f"{_ordinal(quantiles[0])}-{_ordinal(quantiles[1])} percentile"]
    if cap is not None and top > cap:
        top = max(cap, bottom + 1e-9)
        why.append(f"top {cap:g}")
    if max_span is not None and top - bottom > max_span:
        bottom, top = (top - max_span, top) if keep == "high" else (bottom, bottom + max_span)
        why.append(f"span {max_span:g}{' decades' if log else ''}")
    if hi - lo == 0:
        bottom, top = lo - (1.0 if log else 0.5), hi + (1.0 if log else 0.5)
    ext_lo, ext_hi = lo < bottom, hi > top
    extend = "both" if ext_lo and ext_hi else ("min" if ext_lo else ("max" if ext_hi else "neither"))
    norm = LogNorm(10.0 ** bottom, 10.0 ** top) if log else Normalize(bottom, top)
    note = "" if extend == "neither" else "arrows: clipped; " + ", ".join(why)
    return norm, extend, note


def _ordinal(q):
    n = round(100 * q)
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


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
