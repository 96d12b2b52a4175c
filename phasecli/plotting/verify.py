"""Figure of ``phasecli verify``: the randomness ratio E[Theta^2] / E[Theta]^2 against depth (Seleznova & Kutyniok's figures).

Layout 'panels' (``phasecli.plotting.shapes``): one panel per (sw2, sb2) point, titled with
its phase, one curve per width with the delta-method standard error as error bars, the
infinite-width value 1 and the trust threshold 1 + T; rows whose trust is undetermined
(heavy-tailed Theta, max_share > 1%) are drawn hollow.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, ScalarFormatter

from phasecli.plotting.base import Figure, depth_axis, save


def _points(results):
    """Results grouped by (sw2, sb2) in first-seen order: [((sw2, sb2), [result per width])]."""
    groups = {}
    for r in results:
        groups.setdefault((r.sw2, r.sb2), []).append(r)
    return list(groups.items())


def verify_figure(results, *, layout: str, path: str) -> None:
    """Ratio against depth per width, one panel per (sw2, sb2), theory 1 and threshold 1 + T."""
    points = _points(results)
    first = results[0]
    widths = sorted({r.width for r in results})
    colors = colormaps["viridis"](np.linspace(0.0, 0.85, max(len(widths), 1)))
    color = dict(zip(widths, colors))
    n = len(points)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = Figure(figsize=(5.2 * cols, 4.3 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    ratios = np.concatenate([np.asarray(r.ratio, dtype=float) for r in results])
    finite = ratios[np.isfinite(ratios)]
    log_scale = finite.size > 0 and finite.max() > 3.0
    for ax, ((sw2, sb2), group) in zip(axes, points):
        for r in group:
            depth = np.asarray(r.depth, dtype=float)
            ratio = np.asarray(r.ratio, dtype=float)
            se = np.asarray(r.ratio_se, dtype=float)
            undetermined = np.array([t is None for t in r.trust])
            c = color[r.width]
            ax.errorbar(depth, ratio, yerr=np.where(np.isfinite(se), se, 0.0), color=c, lw=1.4, capsize=2,
                        label=f"M = {r.width}")
            ax.plot(depth[~undetermined], ratio[~undetermined], "o", color=c, ms=4)
            ax.plot(depth[undetermined], ratio[undetermined], "o", mfc="white", mec=c, ms=5)
        ax.axhline(1.0, color="black", lw=1.2, ls="-")
        ax.axhline(1.0 + first.tolerance, color="0.3", lw=1.0, ls="--")
        g = group[0]
        ax.set_title(rf"$\sigma_w^2$ = {sw2:g}, $\sigma_b^2$ = {sb2:g}: {g.phase} ($\chi_1$ = {g.chi_1:.4g})")
        depth_axis(ax, group[0].depth, axis="x")  # logarithmic for log-spaced depths
        ax.grid(alpha=0.3, which="both")
        if log_scale:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(ScalarFormatter())
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel(r"randomness ratio $E[\Theta^2] / E[\Theta]^2$")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="black", lw=1.2), Line2D([], [], color="0.3", lw=1.0, ls="--"),
                Line2D([], [], ls="none", marker="o", mfc="white", mec="0.3")]
    labels += ["infinite width (1)", f"trust threshold 1 + T = {1 + first.tolerance:g}",
               "undetermined (max_share > 1%)"]
    axes[0].legend(handles, labels, fontsize=8, loc="upper left")
    fig.suptitle(f"{first.activation}: Theta(x1, x1) of {first.samples} random networks per width "
                 f"(NTK parameterization, q0 = {first.q0:g}, c0 = {first.c0:g})")
    save(fig, path)
