"""Figures of the NTK on data: kappa / eta_max (``kappa``, ``lr``) and test accuracy (``generalize``).

Layouts (chosen by ``phasecli.plotting.shapes``): 'depth' (one point against depth),
'heatmap-sw2' / 'heatmap-sb2' (a sweep against depth, Xiao et al. Figure 3, with the
depth scales xi_1 and xi_star on top), 'line-sw2' / 'line-sb2' (a sweep at one depth).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize

from matplotlib.patches import Patch

from phasecli.gate import DEFAULT_CONDITIONING_MULTIPLE, DEFAULT_GENERALIZATION_MULTIPLE
from phasecli.plotting.base import (AXIS_LABELS, DARK_OUTLINE, DEPTH_LABEL, LIGHT_OUTLINE, MASKED_COLOR, Figure,
                                    depth_axis, heatmap, log_spaced, outside_legend, robust_norm, save)

DEPTH_FLOOR = 0.5  # the lowest depth cell starts here at most (never at a negative depth)
# the depth scales drawn over the heatmaps, and the multiples of them that `phasecli check` allows
SCALE_STYLES = (("xi_1", "white", DARK_OUTLINE, DEFAULT_CONDITIONING_MULTIPLE, r"\xi_1", "ordered",
                 "conditioning limit"),
                ("xi_star", "black", LIGHT_OUTLINE, DEFAULT_GENERALIZATION_MULTIPLE, r"\xi_*", "chaotic",
                 "generalization limit"))


def _log10_eta(result, loss):
    """log10 eta_max from log10 lambda_max (finite even where lambda_max overflows)."""
    factor = 2.0 if loss == "sum" else 2.0 * result.m
    return np.log10(factor) - np.asarray(result.log10_lambda_max, dtype=float)


def _sweep(results, axis):
    x = np.array([getattr(r, axis) for r in results], dtype=float)
    order = np.argsort(x, kind="stable")
    return x[order], [results[k] for k in order]


def _fixed_label(first, axis):
    other = "sb2" if axis == "sw2" else "sw2"
    sym = r"\sigma_b^2" if other == "sb2" else r"\sigma_w^2"
    return rf"${sym}$ = {getattr(first, other):g}"


def _overlay_scales(ax, scales, depth):
    """xi_1 (ordered side, white with a dark outline) and xi_star (chaotic side, black with a light outline)
    against the swept variable, solid; the multiples `phasecli check` allows (conditioning and generalization
    limits) dashed beside them; clipped by the axes."""
    if scales is None:
        return
    x = np.asarray(scales["x"], dtype=float)
    for key, colour, outline, multiple, sym, side, what in SCALE_STYLES:
        xi = np.asarray(scales[key], dtype=float)
        ok = np.isfinite(xi) & (xi > 0)
        if not ok.any():
            continue
        y = np.where(ok, xi, np.nan)
        ax.plot(x, y, "-", color=colour, lw=2, path_effects=outline, label=rf"${sym}$ ({side})", zorder=4)
        ax.plot(x, multiple * y, "--", color=colour, lw=1.6, path_effects=outline, zorder=4,
                label=rf"${multiple:g}\,{sym}$ (`check` {what})")
    ax.set_ylim(*_depth_limits(depth))


def _depth_limits(depth):
    """The y extent of a depth heatmap: the outer edges of its first and last rows."""
    from phasecli.plotting.base import cell_edges

    depth = np.asarray(depth, dtype=float)
    edges = cell_edges(depth, log=log_spaced(depth))
    return max(float(edges[0]), min(DEPTH_FLOOR, float(depth[0]))), float(edges[-1])


def _depth_axis(ax, depth):
    depth_axis(ax, depth)


def _depth_x(ax, depth):
    """Depth on the x axis, logarithmic when the depths are log-spaced."""
    ax.set_xlabel(DEPTH_LABEL)
    if log_spaced(depth):
        ax.set_xscale("log")


def _heatmaps(fig, axes, x, axis, depth, panels, scales, masked_what):
    """Heatmaps over (swept variable, depth), with the depth scales on top and one legend below."""
    masked = 0
    for ax, (values, label, cmap, (norm, extend, note)) in zip(axes, panels):
        masked += heatmap(fig, ax, x, depth, values, label, cmap, norm, label, xlabel=AXIS_LABELS[axis],
                          ylabel=DEPTH_LABEL, extend=extend, log_y=log_spaced(depth), clip_note=note,
                          y_floor=DEPTH_FLOOR)
        _overlay_scales(ax, scales, depth)
        ax.set_xlim(*_x_limits(x))
        ax.set_ylim(*_depth_limits(depth))
    extra = [Patch(facecolor=MASKED_COLOR, edgecolor="0.3", label=f"white: {masked_what}")] if masked else []
    return extra


def _x_limits(x):
    from phasecli.plotting.base import cell_edges

    edges = cell_edges(np.asarray(x, dtype=float))
    return float(edges[0]), float(edges[-1])


def ntk_figure(results, kind: str, loss: str, *, layout: str, path: str, scales=None) -> None:
    """kappa (kind 'kappa') or the learning rates eta_max and eta_catapult (kind 'lr'): against depth for one
    point, as heatmaps over (swept variable, depth), or against the swept variable at one depth."""
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    if layout == "depth":
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        if kind == "kappa":
            ax.plot(depth, first.kappa, "o-", ms=3, lw=1.6, label=r"NTK $\kappa$")
            ax.plot(depth, first.nngp_kappa, "s-", ms=2, lw=1.0, alpha=0.7, label=r"NNGP $\kappa$")
            rate = first.phase == "ordered" and first.dropout is None  # Table 1 gives the rate there
            if np.isfinite(np.asarray(first.kappa_theory, dtype=float)).any():  # none without a fixed point
                ax.plot(depth, first.kappa_theory, "k--", lw=1.4,
                        label=r"Table 1 rate $m p^* / (l \chi_1^l)$ (not its value)" if rate
                        else r"Table 1 large-depth theory")
            limit = np.asarray(first.kappa_limit, dtype=float)
            if rate and np.isfinite(limit).any():
                ax.plot(depth, limit, "k:", lw=1.6, label=r"exact large-depth asymptote (kappa_limit)")
            ax.set_ylabel(r"condition number $\kappa = \lambda_{max} / \lambda_{min}$")
        else:
            eta = 10.0 ** _log10_eta(first, loss)
            ax.fill_between(depth, eta, 2.0 * eta, color="tab:orange", alpha=0.2, lw=0,
                            label="catapult window (the loss spikes, then converges)")
            ax.plot(depth, eta, "o-", ms=3, lw=1.6, label=r"$\eta_{max} = 2/\lambda_{max}$ (lazy below)")
            ax.plot(depth, 2.0 * eta, "s--", ms=3, lw=1.4, color="tab:red",
                    label=r"$\eta_{catapult} = 4/\lambda_{max}$ (diverges above)")
            ax.set_ylabel(f"learning rate ({loss} loss)")
        ax.set_yscale("log")
        _depth_x(ax, depth)
        what = first.phase
        if getattr(first, "architecture", "fc") == "resnet":  # no phase: say which residual network
            alphas = np.asarray(first.residual_scale, dtype=float)
            alpha = f"{alphas[0]:g}" if np.all(alphas == alphas[0]) else r"1/$\sqrt{L}$"
            what = rf"resnet, $\alpha$ = {alpha}, LayerNorm {first.layer_norm}"
            ax.set_xlabel("depth L (residual blocks)")
        ax.set_title(rf"{first.activation}: $\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g}, "
                     f"m = {first.m}, {what}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        save(fig, path)
        return
    axis = layout.split("-")[1]
    x, results = _sweep(results, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_kappa = np.array([np.log10(np.asarray(r.kappa, dtype=float)) for r in results])
        log_eta = np.array([_log10_eta(r, loss) for r in results])
    title = rf"{first.activation}: NTK on m = {first.m} inputs, {_fixed_label(first, axis)}"
    if layout.startswith("line"):
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        if kind == "kappa":
            ax.plot(x, log_kappa[:, 0], "o-", ms=3, lw=1.6)
            ax.set_ylabel(r"$\log_{10}\kappa$ (NTK)")
        else:
            ax.fill_between(x, log_eta[:, 0], log_eta[:, 0] + np.log10(2.0), color="tab:orange", alpha=0.2, lw=0,
                            label="catapult window")
            ax.plot(x, log_eta[:, 0], "o-", ms=3, lw=1.6, label=r"$\eta_{max} = 2/\lambda_{max}$")
            ax.plot(x, log_eta[:, 0] + np.log10(2.0), "s--", ms=3, lw=1.4, color="tab:red",
                    label=r"$\eta_{catapult} = 4/\lambda_{max}$")
            ax.set_ylabel(rf"$\log_{{10}}$ learning rate ({loss} loss)")
            ax.legend(fontsize=8)
        ax.set_xlabel(AXIS_LABELS[axis])
        ax.set_title(f"{title}, depth {int(depth[0])}")
        ax.grid(alpha=0.3)
        save(fig, path)
        return
    eta_label = rf"$\log_{{10}}\eta_{{max}}$ ({loss} loss)"
    eta_colours = robust_norm(log_eta, max_span=ETA_DECADES, keep="high")
    if kind == "kappa":
        fig = Figure(figsize=(13, 5.6), layout="constrained")
        axes = fig.subplots(1, 2)
        kappa_colours = robust_norm(log_kappa, cap=max(KAPPA_CAP, np.log10(first.m) + 3.0))
        panels = ((log_kappa, r"$\log_{10}\kappa$ (NTK)", "viridis", kappa_colours),
                  (log_eta, eta_label, "plasma", eta_colours))
        extra = _heatmaps(fig, axes, x, axis, depth, panels, scales,
                          r"$\kappa$ unresolved (beyond float64) or undefined")
        outside_legend(fig, axes[:1], extra=extra)
        fig.suptitle(title)
        save(fig, path)
        return
    fig = Figure(figsize=(13, 5.6), layout="constrained")
    axes = fig.subplots(1, 2)
    extra = _heatmaps(fig, axes[:1], x, axis, depth, ((log_eta, eta_label, "plasma", eta_colours),), scales,
                      r"no $\lambda_{max}$ (no kernel)")
    _catapult_window(axes[1], x, axis, depth, log_eta, loss)
    outside_legend(fig, axes[:1], extra=extra)
    fig.suptitle(title)
    save(fig, path)


KAPPA_CAP = 6.0  # log10 kappa colours stop here (or at log10 m + 3): beyond, the kernel is ill-conditioned
ETA_DECADES = 8.0  # log10 eta_max colours span at most this many decades below the largest
LR_CURVES = 5  # values of the swept variable drawn in the lr figure's right panel


def _catapult_window(ax, x, axis, depth, log_eta, loss):
    """eta_max and eta_catapult = 2 eta_max against depth at a few values of the swept variable, the
    catapult window between them shaded."""
    from matplotlib import colormaps

    picks = sorted(set(np.linspace(0, x.size - 1, min(LR_CURVES, x.size)).round().astype(int)))
    cmap = colormaps["viridis"]
    for n, k in enumerate(picks):
        colour = cmap(0.85 * n / max(len(picks) - 1, 1))
        eta = 10.0 ** log_eta[k]
        sym = AXIS_LABELS[axis].split(" ")[0]
        ax.fill_between(depth, eta, 2.0 * eta, color=colour, alpha=0.15, lw=0)
        ax.plot(depth, eta, "-", color=colour, lw=1.6, label=f"{sym} = {x[k]:.3g}")
        ax.plot(depth, 2.0 * eta, "--", color=colour, lw=1.2)
    ax.set_yscale("log")
    _depth_x(ax, depth)
    ax.set_ylabel(f"learning rate ({loss} loss)")
    ax.set_title(r"solid $\eta_{max} = 2/\lambda_{max}$, dashed $\eta_{catapult} = 4/\lambda_{max}$;"
                 "\nshaded: catapult window", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")


def generalize_figure(results, *, layout: str, path: str, scales=None, time=None, sizes=None) -> None:
    """Test accuracy of the ensemble of trained networks (the initial function's variance included: Xiao et
    al. Figure 3 on the user's data) beside the mean predictor's, against depth for one point, as heatmaps over
    (swept variable, depth) with xi_1, xi_star and the multiples `check` allows on top, or against the swept
    variable at one depth.  Cells with kappa > 1e10 (ill-conditioned solve) are marked.
    ``sizes``: (training examples, test examples), for the title."""
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    when = r"$t = \infty$" if time is None else f"t = {time:g}"
    data = f"{sizes[0]} train / {sizes[1]} test examples, " if sizes else ""
    chance = 1.0 / first.class_counts.size if first.class_counts is not None else None
    if layout == "depth":
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        ax.plot(depth, first.ensemble_accuracy, "o-", ms=3, lw=2.0, label="test accuracy, ensemble of trained nets")
        ax.plot(depth, first.test_accuracy, "^-", ms=3, lw=1.2, label="test accuracy, mean predictor (argmax of mu)")
        ax.plot(depth, first.train_accuracy, "s--", ms=2, lw=1.0, label="train accuracy, mean predictor")
        if chance is not None:
            ax.axhline(chance, color="0.5", lw=1.0, ls="-.", label=f"chance (1/{first.class_counts.size})")
        ill = np.asarray(first.ill_conditioned, dtype=bool)
        if ill.any():
            ax.plot(depth[ill], np.asarray(first.test_accuracy)[ill], "rx", ms=8,
                    label=r"$\kappa > 10^{10}$ (solve loses digits)")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("accuracy")
        twin = ax.twinx()
        twin.plot(depth, first.delta, "k:", lw=1.4, label=r"residual predictor $\Delta^{(l)}$")
        if np.any(np.asarray(first.delta) > 0):
            twin.set_yscale("log")
        twin.set_ylabel(r"$\|\Delta^{(l)} Y\|$ / RMS target")
        _depth_x(ax, depth)
        ax.set_title(rf"{first.activation}: $\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g} "
                     f"({first.phase}, {first.predictor.upper()}, {when})"
                     + (f"\n{data[:-2]}" if data else ""), fontsize=10)
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=8)
        ax.grid(alpha=0.3)
        save(fig, path)
        return
    axis = layout.split("-")[1]
    x, results = _sweep(results, axis)
    ens = np.array([r.ensemble_accuracy for r in results], dtype=float)
    acc = np.array([r.test_accuracy for r in results], dtype=float)
    ill = np.array([r.ill_conditioned for r in results], dtype=bool)
    title = (rf"{first.activation}: {first.predictor.upper()} test accuracy, {_fixed_label(first, axis)}, "
             f"{data}{when}")
    if layout.startswith("line"):
        fig = Figure(figsize=(8, 5.5), layout="constrained")
        ax = fig.subplots()
        ax.plot(x, ens[:, 0], "o-", ms=3, lw=2.0, label="ensemble of trained nets")
        ax.plot(x, acc[:, 0], "^-", ms=3, lw=1.2, label="mean predictor (argmax of mu)")
        if chance is not None:
            ax.axhline(chance, color="0.5", lw=1.0, ls="-.", label="chance")
        if ill[:, 0].any():
            ax.plot(x[ill[:, 0]], acc[ill[:, 0], 0], "rx", ms=8, label=r"$\kappa > 10^{10}$")
        ax.set_xlabel(AXIS_LABELS[axis])
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"{title}, depth {int(depth[0])}", fontsize=10)
        save(fig, path)
        return
    fig = Figure(figsize=(13, 6.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    accuracy = (Normalize(0, 1), "neither", "")
    extra = _heatmaps(fig, axes, x, axis, depth,
                      ((ens, "ensemble of trained networks", "viridis", accuracy),
                       (acc, "mean predictor (argmax of mu)", "viridis", accuracy)),
                      scales, "no prediction (no kernel or singular)")
    for ax, name in zip(axes, ("test accuracy: ensemble of trained networks",
                               "test accuracy: mean predictor (argmax of mu)")):
        ax.set_title(name, fontsize=10)
        if ill.any():
            xx, dd = np.meshgrid(x, depth, indexing="ij")
            ax.plot(xx[ill], dd[ill], "x", color="white", ms=5, mew=1.3, ls="none", path_effects=DARK_OUTLINE,
                    zorder=3, label=r"$\kappa > 10^{10}$ (ill-conditioned solve)")
    axes[1].set_ylabel("")
    fig.suptitle(title, fontsize=11)
    outside_legend(fig, [axes[0]], ncol=3, extra=extra)
    save(fig, path)
