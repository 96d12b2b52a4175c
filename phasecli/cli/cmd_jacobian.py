"""`phasecli jacobian`: the spectrum of the input-output Jacobian (dynamical isometry, Pennington et al.)."""

from __future__ import annotations

import click

from phasecli.cli import columns
from phasecli.cli import cli
from phasecli.cli.errors import fail, input_errors, partial_failure, warn
from phasecli.cli.inputs import explicit
from phasecli.cli.options import (WEIGHT_LAWS, complete_words, depth_option, grid_options, output_options,
                                  simulated_architecture_options, strict_option, sweep_options, weights_callback,
                                  width_option)
from phasecli.cli.progress import Progress, check_figure, render

JACOBIAN_COLUMNS = columns.JACOBIAN
EMPIRICAL_COLUMNS = columns.JACOBIAN_EMPIRICAL
DENSITY_POINTS = 500


@cli.command()
@grid_options(default_sw2="critical", default_sb2="0.05", sw2_critical=True)
@depth_option("8,32,128")
@click.option("--weights", default="gaussian,orthogonal", show_default=True, callback=weights_callback,
              metavar="WEIGHTS",
              shell_complete=complete_words(WEIGHT_LAWS, comma_list=True),
              help="Weight laws: gaussian (sqrt(sw2/N) x standard Gaussian), orthogonal (sqrt(sw2) x Haar "
                   "orthogonal), or a comma list of both (a row each).")
@click.option("--empirical", is_flag=True,
              help="Measure the same columns on finite random networks (phasecli.finite.network) instead.")
@width_option("500", "Width N of every layer (with --empirical; a row per width); one network holds 8 L N^2 bytes")
@click.option("--samples", type=click.IntRange(1, 100_000), default=4, show_default=True,
              help="Random networks per (sw2, sb2, weights) point (with --empirical); *_se need 2 or more.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed (with --empirical): network i draws from its own stream, the same for every point.")
@simulated_architecture_options
@sweep_options
@strict_option
@output_options(columns=EMPIRICAL_COLUMNS)
def jacobian(activation, sw2, sb2, q0, slope, depth_spec, weights, empirical, widths, samples, seed, architecture,
             residual_scale, layer_norm, scheduler, out):
    """Spectrum of J J^T for the input-output Jacobian J = D^L W^L ... D^1 W^1 (dynamical isometry).

    Infinite width, pre-activations at the fixed point q* (reached from --q0) in every
    layer, free probability (Pennington, Schoenholz & Ganguli 2017, 2018; `phasecli docs
    theory`): mean_s2 = chi_1^L is the mean squared singular value, var_s2 the variance of
    the squared singular values (exact, from the S-transform), s2_max / s2_min the edges
    of their support (numerical, relative accuracy ~1e-12; s2_min = 0 where the support
    reaches 0: always for Gaussian weights).  Dynamical isometry = var_s2 small at
    mean_s2 = 1: orthogonal weights, an activation linear near 0 (tanh, erf, hard_tanh;
    not relu) and a small sb2 on the critical line (--sw2 critical, the default).
    --empirical: the same columns measured on --samples random networks of width --width
    (standard errors *_se over networks; q_star and chi_1 measured).  --png: the
    singular-value densities per depth (Gaussian and orthogonal side by side) for one
    point; var_s2 against sb2 (or sw2) for a sweep.

    --architecture resnet (give --sw2: no critical point): J = dh^L/dh^0 of the
    residual stream, inputs at first-layer variance --q0; mean_s2 = prod_l (1 +
    alpha^2 sw2 E[phi'^2] / s_l), the gradient growth of `phasecli phase --architecture
    resnet`; var_s2, s2_max, s2_min are empty (status resnet_mean_only: not derived),
    measured with --empirical (`phasecli docs resnet`).

    Guide: `phasecli docs jacobian`.

    \b
    Examples:
      phasecli jacobian -a tanh --sb2 1e-4,0.05,0.5 --depth 128          # Pennington et al.'s comparison
      phasecli jacobian -a tanh --sb2 1e-4,3e-4,1e-3,3e-3,0.01,0.03,0.1,0.3 --depth 8,32,128 --png var.png
      phasecli jacobian -a tanh --sb2 0.05 --depth 2,8,32 --png density.png
      phasecli jacobian -a relu --sw2 2 --sb2 0 --weights orthogonal --depth 1:10
      phasecli jacobian -a tanh --sb2 0.05 --depth 8,32 --empirical --width 400 --samples 4
      phasecli jacobian -a relu --sw2 2 --sb2 0.1 --architecture resnet --layer-norm pre --depth 1,10,100
      phasecli jacobian -a tanh --sw2 1.5 --sb2 0.1 --architecture resnet --depth 4 --empirical --width 256
    """
    from phasecli import validate

    if not empirical:
        given = [f"--{o}" for n, o in (("widths", "width"), ("samples", "samples"), ("seed", "seed")) if explicit(n)]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise click.BadParameter(f"{', '.join(given)} only {verb} with --empirical", param_hint="'--empirical'")
    cols = EMPIRICAL_COLUMNS if empirical else JACOBIAN_COLUMNS
    out.check(cols)
    if architecture != "resnet":
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
    else:
        if sw2 == "critical":
            raise click.BadParameter("residual networks have no fixed point and no critical sw2: give --sw2 "
                                     "(e.g. --sw2 2)", param_hint="'--sw2'")
        if out.png:
            raise click.BadParameter("no figure for residual networks (their spectrum's density and edges are not "
                                     "derived): drop --png", param_hint="'--png'")
        resnet = {"residual_scale": residual_scale, "layer_norm": layer_norm}
    with input_errors():
        depths = validate.depths(depth_spec)
    if empirical:
        from phasecli.finite.jacobian import check_size

        with input_errors():
            for width in widths:
                check_size(width, int(depths[-1]))
    n_sw2 = 1 if sw2 == "critical" else len(sw2)
    layout = check_figure("jacobian", n_sw2=n_sw2, n_sb2=len(sb2), n_depth=len(depths)) if out.png else None
    points = [(a, b) for a in (["critical"] if sw2 == "critical" else sw2) for b in sb2]
    if architecture == "resnet" and not empirical:
        results = _resnet_theory(out, activation, points, depths, weights, q0, slope, resnet)
    elif empirical:
        results = _empirical(out, activation, points, depths, weights, q0, slope, widths, samples, seed, scheduler,
                             keep=layout == "density", architecture=architecture,
                             **(resnet if architecture == "resnet" else {}))
    else:
        results = _theory(out, activation, points, depths, weights, q0, slope, scheduler)
    if out.png:
        _figure(out.png, layout, activation, results, depths, weights, q0, slope, sw2 == "critical", empirical)
    return _report(results)


def _theory(out, activation, points, depths, weights, q0, slope, scheduler):
    from phasecli import jacobian_spectrum as jacobian

    results = []
    sweep = jacobian.jacobian_sweep(activation, points, depths, weights=weights, q0=q0, slope=slope,
                                    scheduler=scheduler)

    def chunks():
        with input_errors(), Progress(len(sweep), f"{activation} spectra", "points") as advance:
            for r in sweep:
                results.append(r)
                yield r.table(JACOBIAN_COLUMNS)
                advance()

    out.emit(JACOBIAN_COLUMNS, chunks())
    return results


def _resnet_theory(out, activation, points, depths, weights, q0, slope, resnet):
    from phasecli import jacobian_spectrum as jacobian

    results = []

    def chunks():
        with input_errors():
            for a, b in points:
                r = jacobian.resnet_jacobian_spectrum(activation, a, b, depths, weights=weights, q0=q0, slope=slope,
                                                      **resnet)
                results.append(r)
                yield r.table(JACOBIAN_COLUMNS)

    out.emit(JACOBIAN_COLUMNS, chunks())
    return results


def _empirical(out, activation, points, depths, weights, q0, slope, widths, samples, seed, scheduler, keep,
               **network):
    """S networks per (point, width, weights); one network per task; rows as each completes."""
    from phasecli.finite import jacobian as finite

    results = []

    def chunks():
        total = len(points) * len(widths) * len(weights) * samples
        with input_errors(), Progress(total, f"{activation} networks", "networks") as advance:
            for r in finite.empirical_sweep(activation, points, depths, weights=weights, widths=widths,
                                            samples=samples, seed=seed, q0=q0, slope=slope, keep=keep,
                                            scheduler=scheduler, progress=advance, **network):
                results.append(r)
                yield r.table(EMPIRICAL_COLUMNS)

    out.emit(EMPIRICAL_COLUMNS, chunks())
    return results


def _figure(path, layout, activation, results, depths, weights, q0, slope, critical, empirical):
    from phasecli import jacobian_spectrum as jacobian

    if layout == "density":
        point = results[0]
        if empirical:
            with input_errors():
                point = jacobian.jacobian_spectrum(activation, point.sw2, point.sb2, depths, weights=weights, q0=q0,
                                                   slope=slope)
        if point.status[0] not in ("ok", "edge_unconverged"):
            fail(f"no spectrum to draw at sw2={point.sw2:g}, sb2={point.sb2:g}: "
                 f"{jacobian.STATUS_TEXT[point.status[0]]}")
        densities = {}
        with input_errors(), Progress(len(weights) * len(depths), "densities", "curves") as advance:
            for w, d, dens in jacobian.spectral_densities(activation, point.sw2, point.sb2, depths, weights=weights,
                                                           q0=q0, slope=slope, points=DENSITY_POINTS):
                if _truncated(dens):
                    warn(f"the depth-{d} density ({w}) converged at {int(dens.converged.sum())} of "
                         f"{dens.converged.size} points; the figure shows those")
                densities[(w, d)] = dens
                advance()
        render("jacobian:density_figure", path, point, densities, weights, depths,
               measured=results if empirical else None)
        return
    render("jacobian:variance_figure", path, results, layout=layout, critical=critical, empirical=empirical)


def _truncated(dens) -> bool:
    """True when unconverged points cut off more than a far tail (density above 1e-6 of its peak there)."""
    ok = dens.converged
    if ok.all():
        return False
    if not ok.any():
        return True
    per_log = dens.density * dens.eigenvalue
    return bool(per_log[ok][0] > 1e-6 * per_log[ok].max())


def _report(results) -> int:
    from phasecli.jacobian_spectrum import INFORMATIONAL, STATUS_TEXT

    bad = [(r, k) for r in results for k, s in enumerate(r.status) if s != "ok" and s not in INFORMATIONAL]
    if not bad:
        return 0
    r, k = bad[0]
    rows = sum(r.rows for r in results)
    return partial_failure(f"{len(bad)} of {rows} rows have no value (NaN; first: sw2={r.sw2:g}, sb2={r.sb2:g}, "
                           f"{r.weights[k]}, depth {int(r.depth[k])}: {STATUS_TEXT[r.status[k]]})", len(bad), rows)
