"""Figures of the NTK on data: kappa / eta_max (``kappa``, ``lr``) and test accuracy (``generalize``).

Layouts (chosen by ``phasecli.plotting.shapes``): 'depth' (one point against depth),
'heatmap-sw2' / 'heatmap-sb2' (a sweep against depth, Xiao et al. Figure 3, with the
depth scales xi_1 and xi_star on top), 'line-sw2' / 'line-sb2' (a sweep at one depth).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize

from phasecli.plotting.base import AXIS_LABELS, DEPTH_LABEL, Figure, heatmap, masked_legend, robust_limits, save


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
    """xi_1 (ordered side) and xi_star (chaotic side) against the swept variable, clipped by the axes."""
    if scales is None:
        return
    x = np.asarray(scales["x"], dtype=float)
    for key, style, label in (("xi_1", "w-", r"$\xi_1$ (ordered)"), ("xi_star", "r-", r"$\xi_*$ (chaotic)")):
        xi = np.asarray(scales[key], dtype=float)
        ok = np.isfinite(xi) & (xi > 0)
        if ok.any():
            y = np.where(ok, xi, np.nan)
            ax.plot(x, y, style, lw=2, label=label, zorder=4)
    ax.set_ylim(depth.min(), depth.max())


def _depth_axis(ax, depth):
    ax.set_ylabel(DEPTH_LABEL)
    if depth.size > 1 and depth.max() / max(depth.min(), 1.0) >= 20:
        ax.set_yscale("log")


def ntk_figure(results, kind: str, loss: str, *, layout: str, path: str, scales=None) -> None:
    """kappa (kind 'kappa') or eta_max (kind 'lr'): against depth for one point, as heatmaps over
    (swept variable, depth), or against the swept variable at one depth."""
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    if layout == "depth":
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
            ax.plot(depth, 2.0 * eta, "--", lw=1.4, label=r"$4/\lambda_{max}$ (two-scalar model's divergence)")
            ax.set_ylabel(f"learning rate ({loss} loss)")
        ax.set_yscale("log")
        if depth.size > 1 and depth.max() / max(depth.min(), 1.0) >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(DEPTH_LABEL)
        ax.set_title(rf"{first.activation}: $\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g}, "
                     f"m = {first.m}, {first.phase}")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
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
        values = log_kappa[:, 0] if kind == "kappa" else log_eta[:, 0]
        ax.plot(x, values, "o-", ms=3, lw=1.6)
        ax.set_xlabel(AXIS_LABELS[axis])
        ax.set_ylabel(r"$\log_{10}\kappa$ (NTK)" if kind == "kappa" else rf"$\log_{{10}}\eta_{{max}}$ ({loss} loss)")
        ax.set_title(f"{title}, depth {int(depth[0])}")
        ax.grid(alpha=0.3)
        save(fig, path)
        return
    fig = Figure(figsize=(13, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    cap = max(6.0, np.log10(first.m) + 3.0)
    k_lo, k_hi, _ = robust_limits(log_kappa, upper_quantile=0.9)
    k_hi = min(k_hi, cap)
    finite = log_kappa[np.isfinite(log_kappa)]
    k_ext = "max" if finite.size and finite.max() > k_hi else "neither"
    e_lo, e_hi, e_ext = robust_limits(log_eta, upper_quantile=1.0, lower_quantile=0.1)
    panels = ((axes[0], log_kappa, r"$\log_{10}\kappa$ (NTK)", "viridis", Normalize(min(k_lo, 0.0), k_hi), k_ext),
              (axes[1], log_eta, rf"$\log_{{10}}\eta_{{max}}$ ({loss} loss)", "plasma", Normalize(e_lo, e_hi), e_ext))
    masked = 0
    for ax, values, label, cmap, norm, extend in panels:
        masked += heatmap(fig, ax, x, depth, values, label, cmap, norm, label, xlabel=AXIS_LABELS[axis],
                          ylabel=DEPTH_LABEL, extend=extend)
        _depth_axis(ax, depth)
        _overlay_scales(ax, scales, depth)
        ax.set_xlim(x.min(), x.max())
    if masked:
        masked_legend(axes[0], r"white: $\kappa$ unresolved (beyond float64) or undefined", loc="upper right")
    elif axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    save(fig, path)


def generalize_figure(results, *, layout: str, path: str, scales=None, time=None) -> None:
    """Test accuracy against depth for one point, a heatmap over (swept variable, depth) with xi_1
    and xi_star on top (Xiao et al. Figure 3 on the user's data), or accuracy against the swept
    variable at one depth.  Cells with kappa > 1e10 (ill-conditioned solve) are marked."""
    first = results[0]
    depth = np.asarray(first.depth, dtype=float)
    when = r"$t = \infty$" if time is None else f"t = {time:g}"
    if layout == "depth":
        fig = Figure(figsize=(7.5, 5), layout="constrained")
        ax = fig.subplots()
        ax.plot(depth, first.test_accuracy, "o-", ms=3, lw=1.8, label="test accuracy")
        ax.plot(depth, first.train_accuracy, "s--", ms=2, lw=1.2, label="train accuracy")
        ill = np.asarray(first.ill_conditioned, dtype=bool)
        if ill.any():
            ax.plot(depth[ill], np.asarray(first.test_accuracy)[ill], "rx", ms=8,
                    label=r"$\kappa > 10^{10}$ (solve loses digits)")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(DEPTH_LABEL)
        ax.set_ylabel("accuracy")
        twin = ax.twinx()
        twin.plot(depth, first.prediction_scale, "k:", lw=1.4, label="prediction scale")
        if np.any(np.asarray(first.prediction_scale) > 0):
            twin.set_yscale("log")
        twin.set_ylabel("RMS prediction / RMS target")
        if depth.size > 1 and depth.max() / max(depth.min(), 1.0) >= 20:
            ax.set_xscale("log")
        ax.set_title(rf"{first.activation}: $\sigma_w^2$ = {first.sw2:g}, $\sigma_b^2$ = {first.sb2:g} "
                     f"({first.phase}, {first.predictor.upper()} predictor, {when})")
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left")
        ax.grid(alpha=0.3)
        save(fig, path)
        return
    axis = layout.split("-")[1]
    x, results = _sweep(results, axis)
    acc = np.array([r.test_accuracy for r in results], dtype=float)
    ill = np.array([r.ill_conditioned for r in results], dtype=bool)
    title = (rf"{first.activation}: {first.predictor.upper()} test accuracy, {_fixed_label(first, axis)}, "
             f"{when}")
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.subplots()
    if layout.startswith("line"):
        ax.plot(x, acc[:, 0], "o-", ms=3, lw=1.6, label="test accuracy")
        if ill[:, 0].any():
            ax.plot(x[ill[:, 0]], acc[ill[:, 0], 0], "rx", ms=8, label=r"$\kappa > 10^{10}$")
        ax.set_xlabel(AXIS_LABELS[axis])
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"{title}, depth {int(depth[0])}")
        save(fig, path)
        return
    masked = heatmap(fig, ax, x, depth, acc, title, "viridis", Normalize(0, 1), "test accuracy",
                     xlabel=AXIS_LABELS[axis], ylabel=DEPTH_LABEL)
    _depth_axis(ax, depth)
    if ill.any():
        xx, dd = np.meshgrid(x, depth, indexing="ij")
        ax.plot(xx[ill], dd[ill], "x", color="0.85", ms=4, mew=0.8, ls="none",
                label=r"$\kappa > 10^{10}$ (ill-conditioned)")
    _overlay_scales(ax, scales, depth)
    ax.set_xlim(x.min(), x.max())
    if masked:
        masked_legend(ax, "white: no prediction (no kernel or singular)", loc="upper right")
    elif ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    save(fig, path)
