"""Mean-field commands: phase, critical, depth-scale, activations."""

from __future__ import annotations

import sys

import click

from phasecli import defaults
from phasecli.activations import ACTIVATIONS, NAMES
from phasecli.cli import cli
from phasecli.cli.errors import fail, input_errors, partial_failure
from phasecli.cli.options import (GRID, GRID_GRAMMAR, UNIT, activation_option, grid_options, output_options,
                                  q0_option, resnet_depth_options, slope_option, strict_option,
                                  sweep_options, trainable_option)
from phasecli.cli.inputs import explicit
from phasecli.cli.progress import Progress, check_figure, render
from phasecli.cli.writing import writing
from phasecli.cli.columns import ACTIVATIONS as ACTIVATION_COLUMNS
from phasecli.cli.columns import CRITICAL as CRITICAL_COLUMNS
from phasecli.cli.columns import DEPTH_SCALE as DEPTH_COLUMNS
from phasecli.cli.columns import PHASE as PHASE_COLUMNS
from phasecli.cli.columns import RESNET_DEPTH as RESNET_COLUMNS
from phasecli.cli.output import write_rows

SUMMARY_ROWS = 200
MAX_KEPT_CELLS = 25_000_000  # a figure keeps its arrays in memory
_CRITICAL_REASONS = {
    "unconverged": "the root solver did not converge",
    "no_crossing": "chi_1 jumps across 1 where the stable fixed point from q0 changes branch",
    "q_infinite": "q* becomes infinite before chi_1 reaches 1 on the branch from q0",
    "out_of_range": "chi_1 does not cross 1 inside --sw2-range",
}


class _Stats:
    """Phase counts and ranges of chi_1 and q* accumulated over the chunks of a grid (the summary)."""

    def __init__(self):
        self.n = 0
        self.by_phase = {}

    def add(self, grid):
        import numpy as np

        self.n += grid.phase.size
        for label in ("ordered", "critical", "chaotic", "unknown"):
            mask = grid.phase == label
            if not mask.any():
                continue
            entry = self.by_phase.setdefault(label, [0, np.inf, -np.inf, np.inf, -np.inf])
            entry[0] += int(mask.sum())
            for k, values in ((1, grid.chi_1[mask]), (3, grid.q_star[mask])):
                v = values[~np.isnan(values)]
                if v.size:
                    entry[k] = min(entry[k], float(v.min()))
                    entry[k + 1] = max(entry[k + 1], float(v.max()))

    def rows(self):
        for label, (count, chi_lo, chi_hi, q_lo, q_hi) in self.by_phase.items():
            chi = f"{chi_lo:.4g} .. {chi_hi:.4g}" if chi_lo <= chi_hi else "nan"
            q = f"{q_lo:.4g} .. {q_hi:.4g}" if q_lo <= q_hi else "nan"
            yield [label, count, f"{100 * count / self.n:.1f}%", chi, q]


def _solve_blocks(activation, sw2, sb2, q0, slope, label, scheduler=None, **kwargs):
    """PhaseGrid blocks of consecutive sw2 rows (all sb2), in order, with progress on a terminal."""
    from phasecli import meanfield

    with input_errors(grid="--sw2' / '--sb2"):
        sweep = meanfield.phase_sweep(activation, sw2, sb2, q0=q0, slope=slope, scheduler=scheduler, **kwargs)
    return _progress_blocks(sweep, label)


def _progress_blocks(sweep, label):
    with input_errors(), Progress(sweep.total, label, "cells") as advance:
        for grid in sweep:
            yield grid
            advance(grid.phase.size)


def _stream_grid(out, columns, blocks, keep=False, stats=None):
    """Write each block's rows as it arrives; optionally keep the blocks (figures) or summarize them."""
    kept = []
    bad = 0
    total = 0

    def chunks():
        nonlocal bad, total
        for grid in blocks:
            bad += int((~grid.converged).sum())
            total += grid.converged.size
            if keep:
                kept.append(grid)
            if stats is not None:
                stats.add(grid)
                continue
            yield grid.table(columns)

    if stats is None:
        out.emit(columns, chunks())
    else:
        for _ in chunks():
            pass
    return kept, bad, total


def _report_unconverged(bad, total) -> int:
    return partial_failure(f"{bad} of {total} cells did not converge (fixed_point=unconverged, values NaN)", bad,
                           total)


def _check_kept(out, n_cells):
    if out.png and n_cells > MAX_KEPT_CELLS:
        raise click.BadParameter(f"a figure of {n_cells:,} cells is too large (at most {MAX_KEPT_CELLS:,}); "
                                 "write the rows without --png", param_hint="'--png'")


@cli.command()
@grid_options(default_sw2="0.5:4:141", default_sb2="0:1:101")
@click.option("--critical-tol", type=UNIT, default=defaults.CRITICAL_TOL, show_default=True,
              help="Cells with |chi_1 - 1| <= tol are labelled 'critical'.")
@trainable_option
@click.option("--summary/--no-summary", default=None,
              help="Summarize instead of listing every cell [default: summary for a table of more than "
                   f"{SUMMARY_ROWS} rows on a terminal].")
@resnet_depth_options
@sweep_options
@strict_option
@output_options(columns=PHASE_COLUMNS)
def phase(activation, sw2, sb2, q0, slope, critical_tol, trainable_multiple, summary, architecture, residual_scale,
          layer_norm, depth, scheduler, out):
    """q*, c*, chi_1, chi_c, depth scales and the phase on a (sw2, sb2) grid.

    The phase is classified by chi_1 alone: ordered (chi_1 < 1), chaotic (chi_1 > 1),
    critical within --critical-tol.  fixed_point says which fixed point q* is: stable
    (reached from --q0), marginal, zero (signal dies, c* undefined), infinite (q^l grows
    without bound) or unconverged (values NaN and a warning; exit status 1 with --strict
    or when no cell converged).  Rows are written as
    the grid is computed (sw2 outer, sb2 inner).  --png: heatmaps of chi_1, c* and
    xi_c for a 2-D grid, curves for a 1-D sweep.

    \b
    Examples:
      phasecli phase --png phase.png                      # tanh diagram + summary
      phasecli phase -a erf --sw2 0.5:3:100 --sb2 0,0.05 -f csv > erf.csv
      phasecli phase -a silu --sw2 2.73 --sb2 0.05 --q0 0.83 -f json
      phasecli phase --sw2 0.5:4:2000 --sb2 0:1:2000 | head -3
      phasecli phase -a relu --sw2 1:3:5 --sb2 0,0.1 --architecture resnet --layer-norm pre --depth 100

    --architecture resnet --depth L: residual networks have no fixed point; the rows
    (`phasecli docs resnet`) give q^L and c^L of two inputs (q^0 = --q0, c^0 = 0.5), the
    gradient growth prod chi_l and the exponent p of 1 - c^l ~ l^-p (exponent_status says
    why it is empty where it does not exist); --png: heatmaps (or curves) of the four.
    """
    resnet = _resnet_rows(out, activation, sw2, sb2, q0, slope, architecture, residual_scale, layer_norm, depth)
    if resnet:
        return 0 if resnet is True else resnet
    out.check(PHASE_COLUMNS)
    layout = check_figure("phase", n_sw2=len(sw2), n_sb2=len(sb2)) if out.png else None
    _check_kept(out, len(sw2) * len(sb2))
    n_rows = len(sw2) * len(sb2)
    summarize = summary or (summary is None and out.fmt == "table" and not out.value and not out.columns
                            and n_rows > SUMMARY_ROWS and sys.stdout is not None and sys.stdout.isatty())
    stats = _Stats() if summarize else None
    blocks = _solve_blocks(activation, sw2, sb2, q0, slope, f"{activation} grid", scheduler,
                           critical_tol=critical_tol, trainable_multiple=trainable_multiple)
    kept, bad, total = _stream_grid(out, PHASE_COLUMNS, blocks, keep=bool(out.png), stats=stats)
    if summarize:
        _write_summary(activation, sw2, sb2, q0, slope, stats)
        click.echo(f"phasecli: {n_rows:,} rows summarized; --format csv or --no-summary lists every cell", err=True)
    if out.png:
        from phasecli import meanfield

        grid = meanfield.concat_grids(kept)
        render("phase_figure", out.png, grid, _critical_line(activation, sb2, q0, slope, layout), layout=layout)
    return _report_unconverged(bad, total)


def _resnet_rows(out, activation, sw2, sb2, q0, slope, architecture, residual_scale, layer_norm, depth):
    """Write the resnet rows (True, or the exit status of a partial failure) or check that no resnet option
    was given (False)."""
    if architecture != "resnet":
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm", "depth") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
        return False
    if depth is None:
        raise click.BadParameter("residual networks have no fixed point: give the depth L (--depth L)",
                                 param_hint="'--depth'")
    layout = check_figure("phase", n_sw2=len(sw2), n_sb2=len(sb2)) if out.png else None
    from phasecli import validate

    with input_errors(depths="--depth"):
        depths = validate.depths(depth)
    if depths.size != 1:
        raise click.BadParameter(f"{depth!r}: give one depth L (the rows are at that depth)", param_hint="'--depth'")
    depth = int(depths[0])
    from phasecli.meanfield.resnet import resnet_depth_grid

    out.check(RESNET_COLUMNS)
    n_cells = len(sw2) * len(sb2)
    with input_errors(), Progress(n_cells * depth, f"{activation} resnet, {depth} layers", "cell-layers") as advance:
        grid = resnet_depth_grid(activation, sw2, sb2, depth, q0=q0, slope=slope, residual_scale=residual_scale,
                                 layer_norm=layer_norm, progress=lambda done, total: advance(n_cells))
    out.emit(RESNET_COLUMNS, iter([grid.table(RESNET_COLUMNS)]))
    if out.png:
        render("resnet:resnet_depth_figure", out.png, grid, sw2, sb2, layout=layout)
    bad = [str(x) for x in grid.status if x != "ok"]
    if bad:
        return partial_failure(f"{len(bad)} of {grid.status.size} cells have no values (status {bad[0]}: "
                               + ("q0 is not above sb2: no inputs with that first-layer variance)" if bad[0] ==
                                  "q0_below_sb2" else "q^L or the gradient growth overflows float64)"),
                               len(bad), grid.status.size) or True
    return True


def _critical_line(activation, sb2, q0, slope, layout):
    """The root-solved critical line for a figure, on a fine sb2 grid spanning the plotted range."""
    from phasecli import meanfield

    if layout != "heatmap":
        return None
    return meanfield.critical_curve(activation, sb2, q0=q0, slope=slope)


def _write_summary(activation, sw2, sb2, q0, slope, stats):
    """The terminal summary of a large grid: phase counts and ranges, and six points of the critical line."""
    from phasecli import meanfield

    title = (f"{activation}: {len(sw2)} x {len(sb2)} grid, sw2 {min(sw2):g}..{max(sw2):g}, "
             f"sb2 {min(sb2):g}..{max(sb2):g}")
    picks = sorted(set(sb2[int(round(k * (len(sb2) - 1) / 5))] for k in range(6))) if len(sb2) > 1 else sb2
    line = meanfield.solve_critical(activation, picks, q0=q0, slope=slope)
    with writing():
        write_rows(("phase", "cells", "share", "chi_1", "q_star"), stats.rows(), "table", sys.stdout, title=title)
        rows = line.table(CRITICAL_COLUMNS)
        write_rows(CRITICAL_COLUMNS, zip(*(rows[c] for c in CRITICAL_COLUMNS)), "table", sys.stdout,
                   title="critical line (root-solved, chi_1 = 1)")


@cli.command()
@activation_option
@click.option("--sb2", type=GRID, default="0.05", show_default=True,
              help=f"Bias VARIANCE sigma_b^2 (not the std): {GRID_GRAMMAR}.")
@q0_option
@slope_option
@click.option("--sw2-range", default="{:g}:{:g}".format(*defaults.SW2_RANGE), show_default=True, metavar="LOW:HIGH",
              callback=lambda c, p, v: _sw2_range(v),
              help="Search interval LOW:HIGH for the critical sw2 (two numbers, 0 < LOW < HIGH; not a grid).")
@output_options(columns=CRITICAL_COLUMNS, value_default="sw2_critical")
def critical(activation, sb2, q0, slope, sw2_range, out):
    """The order-to-chaos line: for each sb2, the sw2 with chi_1 = 1, root-solved.

    Bracketing plus Brent's method on chi_1(sw2, q*(sw2, sb2)) - 1, with q* the stable
    fixed point from --q0: not read off a grid.  Exit status 1 if some sb2 has no
    critical point (status: no_crossing, q_infinite, out_of_range or unconverged).
    --value prints the bare critical sw2 (full precision, one line per sb2, an empty
    line where there is none).

    \b
    Examples:
      phasecli critical --activation tanh --sb2 0.05 --format csv
      SW2=$(phasecli critical -a tanh --sb2 0.05 --value)
      phasecli critical -a erf --sb2 0:2:50 --png edge.png
    """
    from phasecli import meanfield

    out.check(CRITICAL_COLUMNS)
    if out.png:
        check_figure("critical", n_sb2=len(sb2))
    with input_errors():
        line = meanfield.solve_critical(activation, sb2, q0=q0, slope=slope, sw2_range=sw2_range)
    out.emit(CRITICAL_COLUMNS, [line.table(CRITICAL_COLUMNS)])
    if out.png:
        render("critical_figure", out.png, line,
               solve=lambda more: meanfield.solve_critical(activation, more, q0=q0, slope=slope, sw2_range=sw2_range))
    failed = [k for k, s in enumerate(line.status) if s != "ok"]
    if failed:
        k = failed[0]
        fail(f"no critical point for {len(failed)} of {line.sb2.size} sb2 values "
             f"(first: sb2={line.sb2[k]:g}, status {line.status[k]}: {_CRITICAL_REASONS[line.status[k]]})")
    return 0


def _sw2_range(value):
    try:
        parts = [float(v) for v in value.split(":")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not LOW:HIGH") from None
    if len(parts) != 2 or not (0 < parts[0] < parts[1] < float("inf")):
        raise click.BadParameter(f"{value!r} must be LOW:HIGH with 0 < LOW < HIGH")
    return tuple(parts)


@cli.command("depth-scale")
@grid_options(default_sw2="0.5:4:200", default_sb2="0.05")
@trainable_option
@resnet_depth_options
@sweep_options
@strict_option
@output_options(columns=DEPTH_COLUMNS)
def depth_scale(activation, sw2, sb2, q0, slope, trainable_multiple, architecture, residual_scale, layer_norm, depth,
                scheduler, out):
    """Depth scales xi_q, xi_c, xi_grad, xi_1, xi_star and the maximum trainable depth.

    xi_q = -1/ln(q-map slope), xi_c = -1/ln chi_c, xi_grad = -1/ln chi_1 (negative:
    gradients grow), xi_1 (ordered side, NaN in chaos), xi_star = -1/(ln chi_c - ln chi_1)
    (chaotic side, NaN when ordered).  max_trainable_depth = multiple * xi_c.  --png: a
    line plot for a 1-D sweep, heatmaps for a 2-D grid.

    \b
    Examples:
      phasecli depth-scale --sw2 0.5:4:200 --sb2 0.05 --png xi.png   # line plot
      phasecli depth-scale --sw2 1:3:60 --sb2 0:0.5:40 --png xi.png   # heatmaps
      phasecli depth-scale -a erf --sw2 1.2 --sb2 0.05 --trainable-multiple 4.5

    --architecture resnet --depth L: the rows of `phasecli phase --architecture resnet`
    (no fixed point, so no depth scales; `phasecli docs resnet`).
    """
    resnet = _resnet_rows(out, activation, sw2, sb2, q0, slope, architecture, residual_scale, layer_norm, depth)
    if resnet:
        return 0 if resnet is True else resnet
    out.check(DEPTH_COLUMNS)
    layout = check_figure("depth-scale", n_sw2=len(sw2), n_sb2=len(sb2)) if out.png else None
    _check_kept(out, len(sw2) * len(sb2))
    blocks = _solve_blocks(activation, sw2, sb2, q0, slope, f"{activation} grid", scheduler,
                           trainable_multiple=trainable_multiple)
    kept, bad, total = _stream_grid(out, DEPTH_COLUMNS, blocks, keep=bool(out.png))
    if out.png:
        from phasecli import meanfield

        grid = meanfield.concat_grids(kept)
        render("depth_scale_figure", out.png, grid, _critical_line(activation, sb2, q0, slope, layout),
               trainable_multiple, layout=layout)
    return _report_unconverged(bad, total)


@cli.command()
@output_options(columns=ACTIVATION_COLUMNS, png=False)
@click.option("--grammar", is_flag=True,
              help="Print the grammar of activation expressions (--activation EXPR) instead of the list.")
def activations(out, grammar):
    """List the activations with a one-line description each.

    Besides these names, --activation takes an expression in x, e.g. Mish
    'x*tanh(softplus(x))' or a scaled sine 'sin(2*x)/2': numbers, + - * / **,
    exp log log1p expm1 sqrt abs sin cos tanh sinh cosh erf erfc sigmoid
    softplus, min/max with a constant, where(cond, a, b) (--grammar for the
    whole grammar; `phasecli docs activations`).  Smooth expressions go through
    every command; expressions with kinks (hard-swish 'x*min(max(x+3,0),6)/6')
    through the mean-field, Jacobian and fully connected NTK commands (kappa,
    lr, generalize, check), not the cnn / resnet kernels.  The first run of an
    expression compiles every kernel it uses (minutes), later runs load them
    from the cache.

    \b
    Examples:
      phasecli activations
      phasecli activations -f csv --columns name,kind
      phasecli activations --grammar
      phasecli critical -a 'sin(2*x)/2' --sb2 0.05
    """
    if grammar:
        from phasecli.activations.expression import GRAMMAR

        click.echo(GRAMMAR.rstrip("\n"))
        return 0
    columns = ACTIVATION_COLUMNS
    registered = [ACTIVATIONS[n] for n in NAMES]  # not an expression this process installed
    out.emit(columns, [{"name": list(NAMES), "kind": [a.kind for a in registered],
                        "description": [a.description for a in registered]}])
    return 0
