"""The phasecli command line.  click and rich live here; the numeric core never prints.

Heavy modules (numpy, numba, scipy, matplotlib) are imported inside the commands that
need them, so ``phasecli --help`` and tab completion stay instant.
"""

from __future__ import annotations

import os
import sys

import click

from phasecli import __version__
from phasecli.activations import ACTIVATIONS, NAMES
from phasecli.grids import GridSpecError, parse_grid
from phasecli.output import FORMATS, check_writable, default_format, write_rows

PHASE_COLUMNS = ("activation", "sw2", "sb2", "q_star", "c_star", "chi_1", "chi_c", "xi_q", "xi_c", "xi_grad",
                 "xi_1", "xi_star", "max_trainable_depth", "phase", "q_slope", "fixed_point", "converged")
DEPTH_COLUMNS = ("activation", "sw2", "sb2", "chi_1", "chi_c", "xi_q", "xi_c", "xi_grad", "xi_1", "xi_star",
                 "max_trainable_depth", "phase", "fixed_point", "converged")
CRITICAL_COLUMNS = ("activation", "sb2", "sw2_critical", "q_star", "status")
KAPPA_COLUMNS = ("activation", "sw2", "sb2", "depth", "lambda_max", "lambda_min", "lambda_bulk", "kappa",
                 "kappa_theory", "nngp_lambda_max", "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa",
                 "log10_lambda_max", "phase", "resolved", "status")
GENERALIZE_COLUMNS = ("activation", "sw2", "sb2", "depth", "test_accuracy", "test_mse", "train_accuracy", "kappa",
                      "prediction_scale", "predictor", "ill_conditioned", "phase", "status")
LR_COLUMNS = ("activation", "sw2", "sb2", "depth", "lambda_max", "eta_max", "eta_catapult", "loss", "m", "phase",
              "status")
SUMMARY_ROWS = 200


class GridSpec(click.ParamType):
    """--sw2 / --sb2 values: NUMBER, LIST (a,b,c) or inclusive linspace START:STOP:NUM."""

    name = "SPEC"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            return parse_grid(str(value), param.name if param else "value")
        except GridSpecError as exc:
            self.fail(str(exc), param, ctx)


GRID = GridSpec()


def _positive(ctx, param, value):
    if value is not None and not (value > 0 and value < float("inf")):
        raise click.BadParameter(f"must be a positive finite number, got {value}")
    return value


def grid_options(default_sw2: str, default_sb2: str):
    """--activation, --sw2, --sb2, --q0, --slope: declared once for every grid command."""

    def decorate(f):
        options = [
            click.option("--activation", "-a", type=click.Choice(NAMES), default="tanh", show_default=True,
                         help="Nonlinearity phi (see `phasecli activations`)."),
            click.option("--sw2", type=GRID, default=default_sw2, show_default=True,
                         help="Weight VARIANCE sigma_w^2 (not the std): NUMBER, LIST a,b,c or START:STOP:NUM."),
            click.option("--sb2", type=GRID, default=default_sb2, show_default=True,
                         help="Bias VARIANCE sigma_b^2 (not the std): NUMBER, LIST a,b,c or START:STOP:NUM."),
            click.option("--q0", type=float, default=1.0, show_default=True, callback=_positive,
                         help="Inputs' variance q^1; q* is the stable fixed point reached from it."),
            click.option("--slope", type=click.FloatRange(0.0, 1.0), default=0.01, show_default=True,
                         help="Negative slope of leaky_relu."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def output_options(f):
    """--format and --png, declared once."""
    f = click.option("--png", type=click.Path(dir_okay=False), default=None,
                     help="Also render a PNG figure to this path (written atomically).")(f)
    f = click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
                     help="Output format [default: table on a terminal, csv in a pipe].")(f)
    return f


def emit(columns, rows, fmt) -> None:
    """Write rows to stdout; a closed pipe (| head) ends the command quietly with status 0."""
    try:
        write_rows(columns, rows, fmt)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise click.exceptions.Exit(0) from None


def _check_png(png):
    if png is not None:
        reason = check_writable(png)
        if reason:
            raise click.BadParameter(f"cannot write {png}: {reason}", param_hint="'--png'")


def _render(fn, path, *args):
    """Draw figure ``fn(*args, path)``; OSError (disk full, permissions) is a runtime failure (exit 1)."""
    from phasecli import plotting

    try:
        getattr(plotting, fn)(*args, path)
    except OSError as exc:
        raise click.ClickException(f"could not write the PNG: {exc.strerror or exc}") from None
    if sys.stderr.isatty():
        click.echo(f"phasecli: wrote {path}", err=True)


def _warn(message: str) -> None:
    click.echo(f"phasecli: warning: {message}", err=True)


def _progress_callback(n_cells: int, label: str):
    """A rich progress bar on stderr for long grids, only when stderr is a terminal."""
    if n_cells < 20_000 or not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.console import Console

    bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} cells"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task(label, total=n_cells)
    return bar, (lambda done, total: bar.update(task, completed=done))


def _solve_grid(activation, sw2, sb2, q0, slope, critical_tol=None):
    from phasecli import meanfield

    kwargs = {} if critical_tol is None else {"critical_tol": critical_tol}
    n_cells = len(sw2) * len(sb2)
    if n_cells > meanfield.MAX_CELLS:
        raise click.BadParameter(f"grid of {n_cells:,} cells is too large (at most {meanfield.MAX_CELLS:,})",
                                 param_hint="'--sw2' / '--sb2'")
    bar, callback = _progress_callback(n_cells, f"{activation} grid")
    if bar is None:
        return meanfield.solve_phase(activation, sw2, sb2, q0=q0, slope=slope, **kwargs)
    with bar:
        return meanfield.solve_phase(activation, sw2, sb2, q0=q0, slope=slope, progress=callback, **kwargs)


def _grid_rows(grid, columns, multiple):
    """One row per (sw2, sb2) cell, sw2 outer, in the order of ``columns``."""
    for i, sw2 in enumerate(grid.sw2):
        for j, sb2 in enumerate(grid.sb2):
            values = {"activation": grid.activation, "sw2": float(sw2), "sb2": float(sb2),
                      "max_trainable_depth": multiple * float(grid.xi_c[i, j])}
            for name in columns:
                if name not in values:
                    values[name] = getattr(grid, name)[i, j]
            yield [values[name] for name in columns]


def _report_unconverged(grid) -> int:
    bad = int((~grid.converged).sum())
    if bad:
        _warn(f"{bad} of {grid.converged.size} cells did not converge (fixed_point=unconverged, values NaN)")
        return 1
    return 0


def _summary(grid, critical, stream):
    """Terminal summary of a large grid: phase counts and the critical line."""
    import numpy as np

    rows = []
    for label in ("ordered", "critical", "chaotic", "unknown"):
        mask = grid.phase == label
        if not mask.any():
            continue
        chi = grid.chi_1[mask]
        q = grid.q_star[mask]
        rows.append([label, int(mask.sum()), f"{100 * mask.mean():.1f}%",
                     f"{np.nanmin(chi):.4g} .. {np.nanmax(chi):.4g}" if np.isfinite(chi).any() else "nan",
                     f"{np.nanmin(q):.4g} .. {np.nanmax(q):.4g}" if not np.isnan(q).all() else "nan"])
    write_rows(("phase", "cells", "share", "chi_1", "q_star"), rows, "table", stream,
               title=f"{grid.activation}: {grid.sw2.size} x {grid.sb2.size} grid, "
                     f"sw2 {grid.sw2.min():g}..{grid.sw2.max():g}, sb2 {grid.sb2.min():g}..{grid.sb2.max():g}")
    if critical is not None:
        pick = np.unique(np.linspace(0, critical.sb2.size - 1, min(6, critical.sb2.size)).astype(int))
        write_rows(CRITICAL_COLUMNS, ([critical.activation, critical.sb2[k], critical.sw2_critical[k],
                                       critical.q_star[k], critical.status[k]] for k in pick), "table", stream,
                   title="critical line (root-solved, chi_1 = 1)")


def _critical_for(grid, q0, slope):
    from phasecli import meanfield

    return meanfield.solve_critical(grid.activation, grid.sb2, q0=q0, slope=slope)


class PhaseGroup(click.Group):
    def format_epilog(self, ctx, formatter):
        formatter.write_paragraph()
        formatter.write_text("Variances, never standard deviations: --sw2 1.76 means sigma_w^2 = 1.76.")
        formatter.write_paragraph()
        formatter.write_text("Examples:")
        with formatter.indentation():
            formatter.write_text("phasecli phase --png phase.png")
            formatter.write_text("phasecli critical --activation tanh --sb2 0.05 --value")
            formatter.write_text("phasecli depth-scale --sw2 1:3:50 --sb2 0.05 --format csv | head")


@click.group(cls=PhaseGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="phasecli")
def cli():
    """Mean-field and NTK theory of wide deep networks, from the command line.

    Predicts, without training, which initializations (sigma_w^2, sigma_b^2) train:
    ordered and chaotic phases, the edge of chaos, depth scales and q*, c*, chi_1, chi_c.
    Conventions follow THEORY.md: NTK parameterization, depth = number of hidden layers.
    """


@cli.command()
@grid_options(default_sw2="0.5:4:141", default_sb2="0:1:101")
@click.option("--critical-tol", type=click.FloatRange(0.0, 1.0), default=1e-6, show_default=True,
              help="Cells with |chi_1 - 1| <= tol are labelled 'critical'.")
@click.option("--trainable-multiple", type=click.FloatRange(0.0, min_open=True), default=6.0, show_default=True,
              help="max_trainable_depth = this multiple of xi_c (Schoenholz et al. use 6).")
@click.option("--summary/--no-summary", default=None,
              help="Summarize instead of listing every cell [default: summary for a table of more than "
                   f"{SUMMARY_ROWS} rows on a terminal].")
@output_options
def phase(activation, sw2, sb2, q0, slope, critical_tol, trainable_multiple, summary, fmt, png):
    """q*, c*, chi_1, chi_c, depth scales and the phase on a (sw2, sb2) grid.

    The phase is classified by chi_1 alone: ordered (chi_1 < 1), chaotic (chi_1 > 1),
    critical within --critical-tol.  fixed_point says which fixed point q* is: stable
    (reached from --q0), marginal, zero (signal dies, c* undefined), infinite (q^l grows
    without bound) or unconverged (values NaN, exit status 1).

    \b
    Examples:
      phasecli phase --png phase.png                      # tanh diagram + summary
      phasecli phase -a erf --sw2 0.5:3:100 --sb2 0,0.05 -f csv > erf.csv
      phasecli phase -a silu --sw2 2.73 --sb2 0.05 --q0 0.83 -f json
    """
    _check_png(png)
    fmt = fmt or default_format()
    grid = _solve_grid(activation, sw2, sb2, q0, slope, critical_tol)
    n_rows = grid.q_star.size
    summarize = summary or (summary is None and fmt == "table" and n_rows > SUMMARY_ROWS and sys.stdout.isatty())
    critical = _critical_for(grid, q0, slope) if png or summarize else None
    if summarize:
        _summary(grid, critical, sys.stdout)
        click.echo(f"phasecli: {n_rows:,} rows summarized; --format csv or --no-summary lists every cell", err=True)
    else:
        emit(PHASE_COLUMNS, _grid_rows(grid, PHASE_COLUMNS, trainable_multiple), fmt)
    if png:
        _render("phase_figure", png, grid, critical)
    return _report_unconverged(grid)


@cli.command("depth-scale")
@grid_options(default_sw2="0.5:4:200", default_sb2="0.05")
@click.option("--trainable-multiple", type=click.FloatRange(0.0, min_open=True), default=6.0, show_default=True,
              help="max_trainable_depth = this multiple of xi_c (others use 2, 4.5 or 8).")
@output_options
def depth_scale(activation, sw2, sb2, q0, slope, trainable_multiple, fmt, png):
    """Depth scales xi_q, xi_c, xi_grad, xi_1, xi_star and the maximum trainable depth.

    xi_q = -1/ln(q-map slope), xi_c = -1/ln chi_c, xi_grad = -1/ln chi_1 (negative:
    gradients grow), xi_1 (ordered side, NaN in chaos), xi_star = -1/(ln chi_c - ln chi_1)
    (chaotic side, NaN when ordered).  max_trainable_depth = multiple * xi_c.

    \b
    Examples:
      phasecli depth-scale --sw2 0.5:4:200 --sb2 0.05 --png xi.png   # line plot
      phasecli depth-scale --sw2 1:3:60 --sb2 0:0.5:40 --png xi.png   # heatmaps
      phasecli depth-scale -a erf --sw2 1.2 --sb2 0.05 --trainable-multiple 4.5
    """
    _check_png(png)
    fmt = fmt or default_format()
    grid = _solve_grid(activation, sw2, sb2, q0, slope)
    emit(DEPTH_COLUMNS, _grid_rows(grid, DEPTH_COLUMNS, trainable_multiple), fmt)
    if png:
        critical = _critical_for(grid, q0, slope) if grid.sb2.size > 1 else None
        _render("depth_scale_figure", png, grid, critical, trainable_multiple)
    return _report_unconverged(grid)


def _sw2_range(ctx, param, value):
    try:
        parts = [float(v) for v in value.split(":")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not LOW:HIGH") from None
    if len(parts) != 2 or not (0 < parts[0] < parts[1] < float("inf")):
        raise click.BadParameter(f"{value!r} must be LOW:HIGH with 0 < LOW < HIGH")
    return tuple(parts)


@cli.command()
@click.option("--activation", "-a", type=click.Choice(NAMES), default="tanh", show_default=True,
              help="Nonlinearity phi (see `phasecli activations`).")
@click.option("--sb2", type=GRID, default="0.05", show_default=True,
              help="Bias VARIANCE sigma_b^2 (not the std): NUMBER, LIST a,b,c or START:STOP:NUM.")
@click.option("--q0", type=float, default=1.0, show_default=True, callback=_positive,
              help="Inputs' variance q^1; q* is the stable fixed point reached from it.")
@click.option("--slope", type=click.FloatRange(0.0, 1.0), default=0.01, show_default=True,
              help="Negative slope of leaky_relu.")
@click.option("--sw2-range", default="0.001:10000", show_default=True, callback=_sw2_range,
              help="Search interval LOW:HIGH for the critical sw2.")
@click.option("--value", is_flag=True, help="Print only the critical sw2, one number per line (for $(...)).")
@output_options
def critical(activation, sb2, q0, slope, sw2_range, value, fmt, png):
    """The order-to-chaos line: for each sb2, the sw2 with chi_1 = 1, root-solved.

    Bracketing plus Brent's method on chi_1(sw2, q*(sw2, sb2)) - 1, with q* the stable
    fixed point from --q0: not read off a grid.  Exit status 1 if some sb2 has no
    critical point (status: no_crossing, q_infinite, out_of_range or unconverged).

    \b
    Examples:
      phasecli critical --activation tanh --sb2 0.05 --format csv
      SW2=$(phasecli critical -a tanh --sb2 0.05 --value)
      phasecli critical -a erf --sb2 0:2:50 --png edge.png
    """
    from phasecli import meanfield

    _check_png(png)
    line = meanfield.solve_critical(activation, sb2, q0=q0, slope=slope, sw2_range=sw2_range)
    failed = [k for k, s in enumerate(line.status) if s != "ok"]
    if value:
        for k in range(line.sb2.size):
            if line.status[k] == "ok":
                click.echo(repr(float(line.sw2_critical[k])))
    else:
        emit(CRITICAL_COLUMNS, ([activation, line.sb2[k], line.sw2_critical[k], line.q_star[k],
                                       line.status[k]] for k in range(line.sb2.size)), fmt or default_format())
    if png:
        _render("critical_figure", png, line)
    if failed:
        k = failed[0]
        raise click.ClickException(
            f"no critical point for {len(failed)} of {line.sb2.size} sb2 values "
            f"(first: sb2={line.sb2[k]:g}, status {line.status[k]}: {_CRITICAL_REASONS[line.status[k]]})")
    return 0


_CRITICAL_REASONS = {
    "unconverged": "the root solver did not converge",
    "no_crossing": "chi_1 jumps across 1 where the stable fixed point from q0 changes branch",
    "q_infinite": "q* becomes infinite before chi_1 reaches 1 on the branch from q0",
    "out_of_range": "chi_1 does not cross 1 inside --sw2-range",
}


def data_options(f):
    """--data / --m / --dim / --seed, --normalize, --depth, --dropout: declared once for NTK commands."""
    options = [
        click.option("--data", type=click.Path(dir_okay=False, allow_dash=True), default=None,
                     help="Inputs: CSV (one input per row, no header) or .npy; '-' reads CSV from stdin. "
                          "Default: --m synthetic standard normal inputs."),
        click.option("--m", "m", type=click.IntRange(2, 100_000), default=20, show_default=True,
                     help="Number of synthetic inputs (without --data)."),
        click.option("--dim", type=click.IntRange(1, 1_000_000), default=10, show_default=True,
                     help="Dimension of synthetic inputs (without --data)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic inputs."),
        click.option("--normalize/--no-normalize", default=True, show_default=True,
                     help="Scale each input so the first-layer variance q^1 equals q* (the paper's setting), "
                          "or use the data as given."),
        click.option("--depth", "depth_spec", default="1:100", show_default=True,
                     help="Depths L (hidden layers): list 1,2,5,10,100 or inclusive range START:STOP[:STEP]."),
        click.option("--dropout", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
                     help="Dropout with keep rate RHO on the penultimate layer (Xiao et al. Fig. 1f)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _load_inputs(data, m, dim, seed):
    from phasecli import ntk

    if data is None:
        return ntk.synthetic_data(m, dim, seed)
    try:
        if data == "-":
            return ntk.load_data(sys.stdin)
        return ntk.load_data(data)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {data}: {exc.strerror or exc}", param_hint="'--data'") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--data'") from None


def _parse_depths(spec):
    from phasecli import ntk

    try:
        return ntk.parse_depths(spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--depth'") from None


def _spectra_grid(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, png):
    """Validate the NTK options, load the inputs, then ntk_spectra for every (sw2, sb2), sw2 outer;
    progress on a terminal for many points."""
    from phasecli import ntk

    _check_ntk_png(png, sw2, sb2)
    depths = _parse_depths(depth_spec)
    X = _load_inputs(data, m, dim, seed)

    points = [(a, b) for a in sw2 for b in sb2]
    show = sys.stderr.isatty() and len(points) * X.shape[0] ** 2 * depths.size > 5e7
    results = []
    if show:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"{activation} NTK", total=len(points))
            for a, b in points:
                results.append(ntk.ntk_spectra(activation, X, a, b, depths, slope=slope, normalize=normalize,
                                               q0=q0, dropout=dropout))
                bar.advance(task)
    else:
        for a, b in points:
            results.append(ntk.ntk_spectra(activation, X, a, b, depths, slope=slope, normalize=normalize, q0=q0,
                                           dropout=dropout))
    return results


def _report_points(results) -> int:
    bad = [r for r in results if r.status != "ok"]
    if bad:
        _warn(f"{len(bad)} of {len(results)} points have no kernel (first: sw2={bad[0].sw2:g}, "
              f"sb2={bad[0].sb2:g}: {bad[0].message})")
        return 1
    return 0


def _check_ntk_png(png, sw2, sb2):
    _check_png(png)
    if png and len(sw2) > 1 and len(sb2) > 1:
        raise click.BadParameter("needs one (sw2, sb2) point (kappa against depth) or an sw2 sweep at one sb2 "
                                 "(heatmaps over sw2 and depth)", param_hint="'--png'")


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@data_options
@output_options
def kappa(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, fmt, png):
    """NTK and NNGP spectra on a data set at every depth: lambda_max, lambda_min, lambda_bulk, kappa.

    One pass of the depth recursion of THEORY.md gives every depth asked.  kappa_theory is
    the large-depth prediction of Xiao et al. (Table 1) for the point's phase: 1 chaotic,
    (m + 2)/2 critical (smooth activations; (m + 3)/3 when phi' jumps), m p* / (l chi_1^l)
    ordered.  resolved=false marks depths where float64 no longer resolves lambda_min
    (lambda_min and kappa are then NaN, never noise).

    \b
    Examples:
      phasecli kappa -a erf --sw2 1.5 --sb2 0.05 --depth 1,10,100,1000 -f csv
      phasecli kappa -a tanh --data inputs.csv --depth 1:60 --png kappa.png
      phasecli kappa -a erf --sw2 0.5:4:40 --sb2 0.1 --depth 1:100 --png fig3.png
      phasecli kappa -a erf --sw2 0.8 --sb2 0.1 --dropout 0.8 --depth 1:200
    """
    results = _spectra_grid(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, png)

    def rows():
        for r in results:
            for k, depth in enumerate(r.depth):
                values = {"activation": activation, "sw2": r.sw2, "sb2": r.sb2, "depth": int(depth),
                          "phase": r.phase, "status": r.status}
                yield [values[c] if c in values else getattr(r, c)[k] for c in KAPPA_COLUMNS]

    emit(KAPPA_COLUMNS, rows(), fmt or default_format())
    if png:
        _render("ntk_figure", png, results, "kappa", "sum")
    return _report_points(results)


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@data_options
@click.option("--loss", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="Loss normalization: 1/2 sum (f - y)^2 (eta = 2/lambda_max) or 1/(2m) sum (eta = 2m/lambda_max).")
@output_options
def lr(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, loss, fmt, png):
    """Largest convergent learning rate eta_max = 2/lambda_max and the catapult bound 4/lambda_max.

    Gradient descent on the linearized (infinite-width) network converges for
    eta < eta_max (lazy regime); between eta_max and eta_catapult lies the catapult
    regime (Lewkowycz et al.); beyond, training diverges.  With --loss mean both are
    multiplied by m (as neural-tangents' max_learning_rate).

    \b
    Examples:
      phasecli lr -a erf --sw2 1.5 --sb2 0.05 --depth 5,10,20,40 -f csv
      phasecli lr -a tanh --data train.csv --loss mean --depth 10
      phasecli lr -a erf --sw2 0.5:4:40 --sb2 0.1 --depth 1:60 --png eta.png
    """
    from phasecli import ntk

    results = _spectra_grid(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, png)

    def rows():
        for r in results:
            eta_max, eta_catapult = ntk.learning_rates(r.lambda_max, r.m, loss)
            for k, depth in enumerate(r.depth):
                yield [activation, r.sw2, r.sb2, int(depth), r.lambda_max[k], eta_max[k], eta_catapult[k], loss,
                       r.m, r.phase, r.status]

    emit(LR_COLUMNS, rows(), fmt or default_format())
    if png:
        _render("ntk_figure", png, results, "lr", loss)
    return _report_points(results)


def _labelled(path, label_column, which):
    """(X, y) from a labelled CSV / .npy, or the bundled digits split for the name 'digits'."""
    from phasecli import generalize

    if path == "digits" and not os.path.exists(path):
        from importlib.resources import files

        path = str(files("phasecli") / "data" / f"digits_{which}.csv")
    try:
        return generalize.load_labelled(sys.stdin if path == "-" else path, label_column)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint=f"'--{which}'") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'--{which}'") from None


@cli.command()
@click.option("--train", "train_path", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Training CSV (one example per row, integer label in the last column) or .npy; "
                   "'digits' for the bundled handwritten-digits split.")
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False),
              help="Test file in the same layout; 'digits' for the bundled split.")
@click.option("--label-column", type=int, default=-1, show_default=True,
              help="Column holding the integer class label (negative counts from the end).")
@grid_options(default_sw2="3", default_sb2="0.1")
@click.option("--normalize/--no-normalize", default=True, show_default=True,
              help="Scale each input so q^1 = q* (the paper's setting), or use the data as given.")
@click.option("--depth", "depth_spec", default="1,2,5,10,20,30,50,100", show_default=True,
              help="Depths L (hidden layers): list or inclusive range START:STOP[:STEP].")
@click.option("--dropout", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
              help="Dropout with keep rate RHO on the penultimate layer.")
@click.option("--time", "train_time", type=click.FloatRange(0.0), default=None,
              help="Training time t of gradient flow (mu_t); default: t = infinity.")
@click.option("--eta", type=click.FloatRange(0.0, min_open=True), default=None,
              help="Learning rate for --time [default: eta_max = 2/lambda_max at each depth].")
@click.option("--ridge", type=click.FloatRange(0.0), default=0.0, show_default=True,
              help="Add SIGMA * Id to Theta_train,train (regularizer for the ordered phase).")
@click.option("--nngp", is_flag=True, help="Use the NNGP (Bayesian posterior mean) instead of the NTK predictor.")
@click.option("--batch-size", type=click.IntRange(1), default=2048, show_default=True,
              help="Test rows per pass of the recursion (bounds memory).")
@output_options
def generalize(train_path, test_path, label_column, activation, sw2, sb2, q0, slope, normalize, depth_spec, dropout,
               train_time, eta, ridge, nngp, batch_size, fmt, png):
    """Test accuracy of the infinite-width network trained on your data (NTK mean predictor).

    mu(X_test) = Theta_test,train Theta_train,train^-1 Y_train with targets one-hot minus 1/k.
    In the deep chaotic phase the predictor collapses (prediction_scale -> 0, accuracy
    -> chance) though kappa -> 1; in the ordered phase kappa explodes (see --ridge).

    \b
    Examples:
      phasecli generalize --train digits --test digits -a erf --sw2 3 --sb2 0.1
      phasecli generalize --train train.csv --test test.csv --depth 1:50 --time 100
      phasecli generalize --train digits --test digits -a erf --sw2 0.5:4:20 --sb2 0.1 \\
          --depth 1:60:3 --png accuracy.png
    """
    from phasecli import generalize as gen

    _check_ntk_png(png, sw2, sb2)
    depths = _parse_depths(depth_spec)
    X_train, y_train = _labelled(train_path, label_column, "train")
    X_test, y_test = _labelled(test_path, label_column, "test")
    points = [(a, b) for a in sw2 for b in sb2]
    results = []
    for a, b in points:
        try:
            results.append(gen.ntk_generalization(activation, X_train, y_train, X_test, y_test, a, b, depths,
                                                  slope=slope, normalize=normalize, q0=q0, dropout=dropout,
                                                  time=train_time, eta=eta, ridge=ridge, nngp=nngp,
                                                  batch_size=batch_size))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--train' / '--test'") from None

    def rows():
        for r in results:
            for k, depth in enumerate(r.depth):
                yield [activation, r.sw2, r.sb2, int(depth), r.test_accuracy[k], r.test_mse[k], r.train_accuracy[k],
                       r.kappa[k], r.prediction_scale[k], r.predictor, bool(r.ill_conditioned[k]), r.phase,
                       r.status[k]]

    emit(GENERALIZE_COLUMNS, rows(), fmt or default_format())
    if png:
        _render("generalize_figure", png, results)
    ill = sum(int(r.ill_conditioned.sum()) for r in results)
    if ill:
        _warn(f"{ill} rows have kappa > 1e10: the solve loses digits; consider --ridge")
    failed = [(r, s) for r in results for s in r.status if s != "ok"]
    if failed:
        r, status = failed[0]
        _warn(f"{len(failed)} rows have no prediction (first: sw2={r.sw2:g}, sb2={r.sb2:g}: {status})")
        return 1
    return 0


@cli.command()
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format [default: table on a terminal, csv in a pipe].")
def activations(fmt):
    """List the activations with a one-line description each."""
    emit(("name", "kind", "description"),
               ([a.name, a.kind, a.description] for a in ACTIVATIONS.values()), fmt or default_format())
    return 0


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv=None) -> None:
    """Console entry point: one line on stderr for errors, exit 2 usage / 1 runtime, quiet on EPIPE."""
    prog = "phasecli"
    try:
        status = cli.main(args=argv, prog_name=prog, standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.Exit as exc:
        status = exc.exit_code
    except click.UsageError as exc:
        command = f" {exc.ctx.info_name}" if exc.ctx is not None and exc.ctx.parent is not None else ""
        click.echo(f"{prog}{command}: error: {_one_line(exc.format_message())}", err=True)
        status = 2
    except click.ClickException as exc:
        click.echo(f"{prog}: error: {_one_line(exc.format_message())}", err=True)
        status = exc.exit_code
    except click.exceptions.Abort:
        click.echo(f"{prog}: aborted", err=True)
        status = 130
    except BrokenPipeError:
        # the reader went away (| head): end quietly, without a traceback at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 0
    except (ValueError, MemoryError) as exc:
        click.echo(f"{prog}: error: {_one_line(exc)}", err=True)
        status = 2
    except KeyboardInterrupt:
        click.echo(f"{prog}: interrupted", err=True)
        status = 130
    sys.exit(status if isinstance(status, int) else 0)


