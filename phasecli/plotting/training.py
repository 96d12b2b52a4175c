"""Figures of training at large learning rates: ``catapult`` (the two-scalar map) and ``train`` (finite networks).

Layouts (``phasecli.plotting.shapes``): 'curves' (loss and lambda against the step),
'curves+summary' (the same plus outcomes against lr_factor), 'summary' (outcomes only,
for scans too long to draw curve by curve).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.transforms import blended_transform_factory

from phasecli.plotting.base import Figure, save

REGIME_COLORS = {"lazy": "tab:blue", "catapult": "tab:orange", "unconverged": "tab:gray", "divergent": "tab:red"}
LEGEND_CURVES = 10  # up to this many curves get a legend; more are coloured by lr_factor with a colorbar
# viridis without its light yellow end, which does not show on white
CURVE_CMAP = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.82, 256)), name="viridis_dark")
DIVERGED_Y = 1.04  # diverged runs are drawn in a strip above the axes (axes fraction), not at a finite value


def _colours(fig, axes, lr, location="right"):
    """One colour per curve, with a legend (few curves) or a colorbar over lr_factor (many; ``location``
    'bottom' keeps it clear of a panel to the right)."""
    if lr.size <= LEGEND_CURVES:
        return [colormaps["tab10"](i % 10) for i in range(lr.size)], False
    norm = Normalize(float(lr.min()), float(lr.max()))
    label = "lr_factor (multiple of 2/lambda)" if location == "bottom" else "lr_factor\n(multiple of 2/lambda)"
    fig.colorbar(ScalarMappable(norm=norm, cmap=CURVE_CMAP), ax=axes, label=label, location=location,
                 pad=0.02, aspect=30, shrink=0.9)
    return [CURVE_CMAP(norm(v)) for v in lr], True


def _diverged_strip(ax, lr, diverged, label="diverged (loss overflowed: no value)"):
    """Runs without a finite value as red triangles in a strip above the axes, at their lr_factor."""
    if not diverged.any():
        return
    where = blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot(lr[diverged], np.full(int(diverged.sum()), DIVERGED_Y), "^", color="tab:red", mec="black", ms=6,
            ls="none", transform=where, clip_on=False, label=label, zorder=5)
    ax.spines["top"].set_color("tab:red")  # the strip's edge: below it, finite values only


def _step_axis(ax, last):
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, 1.5 * max(last, 10))  # room to the right: a curve ending at the last step is not cut
    ax.set_xlabel("step t (linear to 10, then log)")
    ax.grid(alpha=0.3, which="both")


def _mark_divergence(ax, t, y, colour):
    """An x at the last finite point of a curve that overflowed."""
    finite = np.flatnonzero(np.isfinite(y) & (y > 0))
    if finite.size:
        ax.plot(t[finite[-1]], y[finite[-1]], "x", color=colour, ms=9, mew=2)


def _clip_to_bounded(ax_loss, ax_lam, curves, regime, first):
    """Axis limits from the runs that stayed finite, so that a divergent run does not flatten the others."""
    bounded = [c for c, r in zip(curves, regime) if r != "divergent"]
    if not bounded:
        return
    losses = np.concatenate([c[0] for c in bounded])
    positive = losses[np.isfinite(losses) & (losses > 0)]
    if positive.size:
        ax_loss.set_ylim(min(float(positive.min()), first.tol) / 10, float(positive.max()) * 1e3)
    lams = np.concatenate([c[1] for c in bounded] + [[first.lambda0]])
    lams = lams[np.isfinite(lams)]
    lo, hi = min(0.0, float(lams.min())), float(lams.max())
    ax_lam.set_ylim(lo - 0.05 * (hi - lo), hi + 0.1 * (hi - lo))


def _regime_scatter(ax, lr, values, regime):
    for name, colour in REGIME_COLORS.items():
        sel = (regime == name) & np.isfinite(values)
        if sel.any():
            ax.plot(lr[sel], values[sel], "o", ms=3 if lr.size > 50 else 5, color=colour, label=name, ls="none")


def catapult_figure(kept, curves, *, layout: str, path: str) -> None:
    """loss_t and lambda_t per lr_factor; with a summary, peak_loss / loss_0 and eta lambda_final against lr_factor."""
    lr = np.concatenate([r.lr_factor for r in kept])
    regime = np.concatenate([r.regime for r in kept])
    first = kept[0]
    with_curves = curves is not None and "curves" in layout
    with_summary = "summary" in layout
    rows = int(with_curves) + int(with_summary)
    fig = Figure(figsize=(10.5, 4.2 * rows + 0.4), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, 2)).ravel())
    if with_curves:
        ax_loss, ax_lam = axes[0], axes[1]
        colours, bar = _colours(fig, axes[:2], lr)
        last = 1
        for i, (loss, lam) in enumerate(curves):
            t = np.arange(loss.size)
            label = None if bar else f"{lr[i]:g} ({regime[i]})"
            ax_loss.plot(t, np.where(loss > 0, loss, np.nan), color=colours[i], lw=1.2, label=label)
            ax_lam.plot(t, lam, color=colours[i], lw=1.2)
            if regime[i] == "divergent":
                _mark_divergence(ax_loss, t, loss, colours[i])
            last = max(last, loss.size - 1)
        ax_loss.set_yscale("log")
        _clip_to_bounded(ax_loss, ax_lam, curves, regime, first)
        ax_loss.set_ylabel(r"loss$_t = f_t^2 / 2$")
        ax_loss.axhline(first.tol, color="0.4", ls=":", lw=1, label=f"tol = {first.tol:g}")
        ax_loss.legend(fontsize=7, title="lr_factor (regime)" if not bar else None, title_fontsize=7)
        ax_lam.set_ylabel(r"NTK eigenvalue $\lambda_t$" + "\n(divergent runs leave the top)")
        ax_lam.axhline(first.lambda0, color="0.4", ls=":", lw=1)
        for ax in (ax_loss, ax_lam):
            _step_axis(ax, last)
    if with_summary:
        ax_peak, ax_el = axes[-2], axes[-1]
        peak = np.concatenate([r.peak_loss for r in kept]) / max(first.loss0, np.finfo(float).tiny)
        eta_lam = np.concatenate([r.eta_lambda_final for r in kept])
        diverged = regime == "divergent"
        _regime_scatter(ax_peak, lr, np.where(diverged | ~np.isfinite(peak), np.nan, peak), regime)
        _regime_scatter(ax_el, lr, np.where(diverged | ~np.isfinite(eta_lam), np.nan, eta_lam), regime)
        for ax in (ax_peak, ax_el):
            _diverged_strip(ax, lr, diverged | ~np.isfinite(peak if ax is ax_peak else eta_lam),
                            label="divergent (no finite value)")
        ax_peak.set_yscale("log")
        ax_peak.set_ylabel(r"peak loss / loss$_0$")
        ax_el.set_ylabel(r"$\eta\,\lambda$ at the end (converged: < 2)")
        ax_el.axhline(2.0, color="k", ls="--", lw=1)
        for ax in (ax_peak, ax_el):
            ax.axvline(1.0, color="0.5", ls=":", lw=1)
            ax.axvline(2.0, color="0.5", ls=":", lw=1)
            ax.set_xlabel(r"lr_factor ($\eta = $ lr_factor $\cdot 2/\lambda_0$)")
            ax.grid(alpha=0.3)
        ax_peak.legend(fontsize=7, loc="upper left")
    fig.suptitle(rf"two-scalar catapult map: $\lambda_0$ = {first.lambda0:g}, $f_0$ = {first.f0:g}, "
                 f"n = {first.width:,}, T = {first.n_steps:,}" + ("" if with_curves else " (too many steps to draw "
                                                                   "the curves: outcomes only)"))
    save(fig, path)


def _divergence_threshold(lr, regime):
    """(largest convergent lr_factor below the first divergent one, smallest divergent one) or None."""
    order = np.argsort(lr)
    lr, regime = lr[order], regime[order]
    divergent = np.flatnonzero(regime == "divergent")
    if divergent.size == 0:
        return None
    k = int(divergent[0])
    return (float(lr[k - 1]) if k > 0 else None), float(lr[k])


def train_figure(runs, setup, *, layout: str, path: str) -> None:
    """Median loss curves per lr_factor; with a summary, final loss against lr_factor (Xiao et al.'s Figure 2
    top, with lr_factor 1 and the measured divergence threshold marked) and eta lambda_max at t = 0, T."""
    lr = np.array([r.lr_factor for r in runs])
    regime = np.array([r.regime for r in runs], dtype=object)
    ncols = 3 if "summary" in layout else 1
    fig = Figure(figsize=(4.8 * ncols, 4.4), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, ncols)))
    colours, bar = _colours(fig, axes[:1], lr, location="bottom" if ncols > 1 else "right")
    ax = axes[0]
    for i, run in enumerate(runs):
        curve = run.median_curve
        t = np.arange(curve.size)
        ax.plot(t, np.where(np.isfinite(curve) & (curve > 0), curve, np.nan), color=colours[i], lw=1.3,
                label=None if bar else f"{run.lr_factor:g} ({run.regime})")
        if run.regime == "divergent":
            _mark_divergence(ax, t, curve, colours[i])
    ax.set_yscale("log")
    ax.set_ylabel(f"median training loss over {setup.samples} networks")
    _step_axis(ax, setup.n_steps)
    if not bar:
        ax.legend(fontsize=7, title="lr_factor (regime)", title_fontsize=7)
    if ncols == 3:
        ax_final, ax_el = axes[1], axes[2]
        final = np.array([r.final_loss for r in runs])
        finite = np.isfinite(final) & (regime != "divergent")
        order = np.argsort(lr)
        ax_final.plot(lr[order][finite[order]], final[order][finite[order]], "-", color="0.6", lw=1)
        _regime_scatter(ax_final, lr, np.where(finite, final, np.nan), regime)
        _diverged_strip(ax_final, lr, ~finite)
        ax_final.set_yscale("log")
        ax_final.set_ylabel(f"median final loss after T = {setup.n_steps} steps")
        init = np.array([r.eta_lambda_init for r in runs], dtype=float)
        last = np.array([r.eta * r.lambda_max_final for r in runs], dtype=float)
        ax_el.plot(lr, init, "o", mfc="none", ms=9, ls="none", color="tab:purple",
                   label=r"$\eta\,\lambda_{max}$ at $t = 0$")
        kept_last = np.isfinite(last) & (regime != "divergent")
        ax_el.plot(lr, np.where(kept_last, last, np.nan), "s", ms=4, ls="none", color="tab:green",
                   label=r"at $t = T$")
        _diverged_strip(ax_el, lr, ~kept_last, label=r"diverged (no $\lambda_{max}$ at $t = T$)")
        ax_el.axhline(2.0, color="k", ls="--", lw=1)
        ax_el.set_ylabel(r"$\eta\,\lambda_{max}$ of the empirical NTK (medians)")
        ax_el.legend(fontsize=7)
        threshold = _divergence_threshold(lr, regime)
        for a in (ax_final, ax_el):
            a.axvline(1.0, color="0.4", ls=":", lw=1.2, label=r"$\eta = 2/\lambda_{max}$ (theory)")
            if threshold is not None:
                a.axvline(threshold[1], color="tab:red", ls="--", lw=1.2,
                          label=f"first divergent lr_factor {threshold[1]:g}")
            a.set_xlabel(r"lr_factor ($\eta / \eta_{max}$, $\eta_{max} = 2/\lambda_{max}$ infinite width)")
            a.grid(alpha=0.3, which="both")
        ax_final.legend(fontsize=7)
    fig.suptitle(rf"{setup.activation}{_network_label([setup])}, depth {setup.depth}, width {setup.width}: "
                 rf"$\sigma_w^2$ = {setup.sw2:g}, "
                 rf"$\sigma_b^2$ = {setup.sb2:g}, m = {setup.m}, k = {setup.outputs}, "
                 rf"$\eta_{{max}}$ = {setup.eta_max:.4g}")
    save(fig, path)


ANNOTATE_CELLS = 150  # grids up to this many cells get their values written in
MIN_ACCURACY_SPAN = 0.1  # the accuracy colour scale spans at least 10 points
EMPIRICAL_ROOM = 2.0  # the finite networks' 2/lambda and 4/lambda lines widen the lr_factor axis at most this factor


def _depth_quantity(runs, setups):
    """(values per run, colour-bar label, title words, log colour scale) of the depth heatmap: test accuracy
    with a test set, else train accuracy with labels, else the median final loss."""
    first = setups[0]
    if first.X_test is not None:
        return (np.array([r.test_accuracy for r in runs], dtype=float), "test accuracy (mean over the networks)",
                f"test accuracy on {first.m_test} rows", False)
    if first.classes is not None:
        return (np.array([r.train_accuracy for r in runs], dtype=float), "train accuracy (mean over the networks)",
                "train accuracy (no --test)", False)
    return (np.array([r.final_loss for r in runs], dtype=float), "median final training loss",
            "final training loss (no labels)", True)


def train_depth_figure(runs, setups, *, path: str) -> None:
    """Xiao et al.'s Figure 2 over (depth, lr_factor): the test accuracy (train accuracy without a test set,
    final loss without labels) of the trained finite networks as a heatmap, depth across (one column per
    depth, in the order given), lr_factor up (log), with eta = 2/lambda_max and 4/lambda_max of the
    infinite-width NTK (lr_factor 1 and 2) and of the finite networks at t = 0 (lambda_max_empirical)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from phasecli.plotting.base import DARK_OUTLINE, LIGHT_OUTLINE, cell_edges, robust_norm

    first = setups[0]
    depths = [s.depth for s in setups]
    lrs = np.array(sorted({r.lr_factor for r in runs}), dtype=float)
    column = {d: j for j, d in enumerate(depths)}
    row = {f: i for i, f in enumerate(lrs.tolist())}
    values, label, what, log = _depth_quantity(runs, setups)
    grid = np.full((lrs.size, len(depths)), np.nan)
    partial = np.zeros(grid.shape, dtype=bool)
    for run, v in zip(runs, values):
        i, j = row[run.lr_factor], column[run.depth]
        grid[i, j] = v if np.isfinite(v) and (not log or v > 0) else np.nan
        partial[i, j] = 0.0 < run.diverged < 1.0
    norm, extend, note = robust_norm(grid, log=log)
    if not log and norm.vmax - norm.vmin < MIN_ACCURACY_SPAN:  # chance everywhere is not a pattern
        mid = 0.5 * (norm.vmin + norm.vmax)
        lo = min(max(mid - MIN_ACCURACY_SPAN / 2, 0.0), 1.0 - MIN_ACCURACY_SPAN)
        norm, extend, note = Normalize(lo, lo + MIN_ACCURACY_SPAN), "neither", ""
    fig = Figure(figsize=(min(16.0, max(6.4, 1.0 + 0.55 * len(depths))), 5.6), layout="constrained")
    ax = fig.subplots()
    x_edges = np.arange(len(depths) + 1) - 0.5
    y_edges = cell_edges(lrs, log=True)
    import matplotlib
    import matplotlib.ticker

    cmap = matplotlib.colormaps["magma" if log else "viridis"].with_extremes(bad="white")
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(grid), cmap=cmap, norm=norm, shading="flat")
    fig.colorbar(mesh, ax=ax, extend=extend, label=label + (f"\n({note})" if note else ""))
    ax.set_yscale("log")
    ax.set_facecolor("white")
    if grid.size <= ANNOTATE_CELLS:
        for i in range(lrs.size):
            for j in range(len(depths)):
                v = grid[i, j]
                text = ("div." if not np.isfinite(v) else (f"{v:.2g}" if log else f"{v:.2f}")) + \
                    ("*" if partial[i, j] else "")
                shade = 0.5 if not np.isfinite(v) else norm(v)
                dark = np.isfinite(v) and shade < 0.55  # the dark end of viridis and magma alike
                ax.text(j, lrs[i], text, ha="center", va="center", fontsize=7, zorder=6,
                        color="white" if dark else "black",
                        bbox=dict(boxstyle="round,pad=0.25", lw=0, alpha=0.9,
                                  facecolor=cmap(norm(v)) if np.isfinite(v) else "white"))
    # eta = 2/lambda and 4/lambda: infinite width (lr_factor 1 and 2 by construction), finite networks at t = 0
    emp = np.array([np.nan] * len(depths))
    for run in runs:
        emp[column[run.depth]] = run.lambda_max_inf / run.lambda_max_empirical
    xs = np.arange(len(depths))
    lines = [(1.0, "-", r"$\eta = 2/\lambda_{max}$, infinite width (lr_factor 1)"),
             (2.0, "--", r"$\eta = 4/\lambda_{max}$, infinite width (lr_factor 2)")]
    for y, ls, text in lines:
        ax.plot([x_edges[0], x_edges[-1]], [y, y], ls=ls, color="black", lw=1.8, path_effects=LIGHT_OUTLINE,
                label=text, zorder=4)
    # the cells and the infinite-width lines set the axis; the finite networks' lines may widen it by at most
    # a factor EMPIRICAL_ROOM each way (a tiny lambda_max_empirical would flatten the cells), else they leave it
    lo, hi = min(float(y_edges[0]), 1.0) / 1.15, max(float(y_edges[-1]), 2.0) * 1.15
    finite = emp[np.isfinite(emp) & (emp > 0)]
    if finite.size:
        lo = max(min(lo, float(finite.min()) / 1.15), lo / EMPIRICAL_ROOM)
        hi = min(max(hi, 2.0 * float(finite.max()) * 1.15), hi * EMPIRICAL_ROOM)
    ax.set_ylim(lo, hi)
    outside = np.any((emp < lo) | (2 * emp > hi))
    clipped = " (leaves the axes)" if outside else ""
    ax.plot(xs, emp, "o-", color="tab:red", lw=1.6, ms=5, mec="white", path_effects=LIGHT_OUTLINE, zorder=5,
            label=rf"$\eta = 2/\lambda_{{max}}$ of the width-{first.width} networks at t = 0 (median)")
    ax.plot(xs, 2 * emp, "s--", color="tab:red", lw=1.6, ms=5, mec="white", path_effects=LIGHT_OUTLINE, zorder=5,
            label=rf"$\eta = 4/\lambda_{{max}}$ of the width-{first.width} networks at t = 0{clipped}")
    ax.set_xlim(x_edges[0], x_edges[-1])
    shown_x = xs if len(depths) <= 30 else np.unique(np.linspace(0, len(depths) - 1, 30).round().astype(int))
    ax.set_xticks(shown_x, [str(depths[j]) for j in shown_x])
    # lr_factor 1 and 2 (the infinite-width lines) always labelled, grid values at least 1/14 of the axis apart
    gap = math.log(hi / lo) / 14
    ticks = [1.0, 2.0]
    for t in lrs:
        if all(abs(math.log(t / u)) >= gap for u in ticks):
            ticks.append(float(t))
    ticks = np.sort(ticks)
    ax.set_yticks(ticks, [f"{v:g}" for v in ticks])
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    resnet = getattr(first, "architecture", "fc") == "resnet"
    ax.set_xlabel("depth L (residual blocks)" if resnet else "depth L (hidden layers)")
    ax.set_ylabel(r"lr_factor = $\eta / \eta_{max}$ ($\eta_{max} = 2/\lambda_{max}$, infinite-width NTK)")
    extra = []
    if np.isnan(grid).any():
        extra.append(Patch(facecolor="white", edgecolor="0.4", label="div.: every network diverged (no value)"))
    if partial.any():
        extra.append(Line2D([], [], ls="none", marker="$*$", color="black",
                            label="*: some networks diverged (value over the others)"))
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles + extra, labels + [h.get_label() for h in extra], loc="outside lower center", fontsize=7,
               ncol=2, framealpha=0.9)
    nets = "1 network" if first.samples == 1 else f"{first.samples} networks"
    ax.set_title(f"{what} after T = {first.n_steps} full-batch steps, {nets} per cell",
                 fontsize=9)
    fig.suptitle(rf"{first.activation}{_network_label(setups)}: $\sigma_w^2$ = {first.sw2:g}, "
                 rf"$\sigma_b^2$ = {first.sb2:g}, width "
                 rf"{first.width}, m = {first.m} training rows, k = {first.outputs}", fontsize=10)
    save(fig, path)


def _network_label(setups) -> str:
    """'' for fully connected networks; ' resnet (alpha = ..., LayerNorm)' for residual ones."""
    first = setups[0]
    if getattr(first, "architecture", "fc") != "resnet":
        return ""
    alphas = {s.residual_scale for s in setups}
    alpha = rf"$\alpha$ = {first.residual_scale:g}" if len(alphas) == 1 else r"$\alpha = 1/\sqrt{L}$"
    return f" resnet ({alpha}{', LayerNorm' if first.layer_norm == 'pre' else ''})"
