"""`phasecli verify`: finite random networks of width M against the infinite-width theory (Seleznova & Kutyniok)."""

from __future__ import annotations

import click

from phasecli.cli import columns
from phasecli.cli import cli
from phasecli.cli.errors import input_errors, warn
from phasecli.cli.inputs import explicit
from phasecli.cli.options import (POSITIVE, depth_option, FiniteFloat, grid_options, output_options,
                                  simulated_architecture_options, sweep_options, width_option)
from phasecli.cli.progress import Progress, check_figure, render

VERIFY_COLUMNS = columns.VERIFY


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@click.option("--c0", type=FiniteFloat(-1.0, 1.0), default=0.5, show_default=True,
              help="First-layer correlation c^1 of the two inputs (both have q^1 = --q0).")
@width_option("32,128,512", "Hidden widths M (every hidden layer)")
@depth_option("1:20")
@click.option("--samples", type=click.IntRange(2, 10_000_000), default=1000, show_default=True,
              help="Independent random networks per (sw2, sb2, width); max_share needs a few hundred.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed: network i draws from its own stream (same output whatever the threads or --scheduler).")
@click.option("--tolerance", type=POSITIVE, default=0.1, show_default=True,
              help="T: trust needs |ntk_mean/ntk_theory - 1| <= T and ratio - 1 + 2 ratio_se <= T.")
@simulated_architecture_options
@sweep_options
@output_options(columns=VERIFY_COLUMNS)
def verify(activation, sw2, sb2, q0, slope, c0, widths, depth_spec, samples, seed, tolerance, architecture,
           residual_scale, layer_norm, scheduler, out):
    """Random finite networks against the theory: can the numbers be trusted at width M?

    For two inputs with q^1 = --q0 and correlation c^1 = --c0, S = --samples random networks
    of each width (NTK parameterization, scalar output) give at every depth L: the
    pre-activation variance q^L, the correlation c^L and the empirical NTK Theta(x1, x1),
    next to their infinite-width values (q_theory, c_theory, ntk_theory; *_se are standard
    errors), and the randomness ratio E[Theta^2] / E[Theta]^2 of Seleznova & Kutyniok: 1 at
    infinite width, growing with depth / width, fast in the chaotic phase (their figures
    use the standard parameterization: they match these numbers only qualitatively).
    trust=true when |ntk_mean/ntk_theory - 1| <= T and ratio - 1 + 2 ratio_se <= T; empty
    (undetermined) when one network holds more than 1% of sum Theta^2 (max_share): the
    ratio of a heavy-tailed Theta cannot be estimated from S networks.  Exact two-input
    sampler at O(M) per layer (`phasecli docs theory`).  --architecture resnet: residual
    networks drawn with their N x N weights (O(M^2) per block); q and c are those of the
    residual stream h^L (before any LayerNorm), h^0 the first layer with q^0 = --q0, c^0 = --c0;
    no phase (`phasecli docs resnet`).

    \b
    Examples:
      phasecli verify -a tanh --sw2 1,1.76,4 --sb2 0.05 --width 32,128,512 --depth 1:50
      phasecli verify -a relu --sw2 2 --sb2 0 --width 256 --depth 50 --samples 5000 -f csv
      phasecli verify -a tanh --sw2 4 --sb2 0.05 --width 32,512 --depth 1:50 --png ratio.png
      phasecli verify -a relu --sw2 2 --sb2 0.1 --architecture resnet --layer-norm pre --width 256 --depth 1,4 --samples 200
    """
    from phasecli.finite import verify as core

    out.check(VERIFY_COLUMNS)
    if architecture != "resnet":
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
    with input_errors("fewer --samples, a smaller --width or --depth, or --scheduler", depths="--depth",
                      width="--width", c0="--c0", samples="--samples"):
        sweep = core.verify_sweep(activation, sw2, sb2, widths, depth_spec, samples=samples, seed=seed, q0=q0,
                                  c0=c0, slope=slope, tolerance=tolerance, scheduler=scheduler,
                                  architecture=architecture, residual_scale=residual_scale, layer_norm=layer_norm)
    layout = check_figure("verify", n_points=len(sw2) * len(sb2), n_depth=len(sweep.depths)) if out.png else None
    results = []

    def chunks():
        with input_errors(depths="--depth", width="--width", c0="--c0"), \
                Progress(sweep.total, f"{activation} networks", "networks") as advance:
            for r in sweep.results(progress=advance):
                results.append(r)
                yield r.table(VERIFY_COLUMNS)

    out.emit(VERIFY_COLUMNS, chunks())
    if out.png:
        render("verify:verify_figure", out.png, results, layout=layout)
    _report(results, core.MAX_SHARE)
    return 0


def _report(results, max_share) -> None:
    heavy = [(r, int(d)) for r in results for d, share in zip(r.depth, r.max_share) if share > max_share]
    if heavy:
        r, d = heavy[0]
        warn(f"{len(heavy)} rows have a heavy-tailed Theta (max_share > {max_share:g}; first: sw2={r.sw2:g}, "
             f"sb2={r.sb2:g}, width {r.width}, depth {d}): their ratio is unreliable and trust is undetermined "
             "(more --samples lower max_share unless the tail is very heavy)")
    overflow = sum(int(sum(1 for reason in r.reason if reason == "Theta overflows float64")) for r in results)
    if overflow:
        warn(f"{overflow} rows overflow float64 (Theta beyond 1e308): no ratio there")
