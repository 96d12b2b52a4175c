"""Commands on a data set: kappa, lr (NTK spectra) and generalize (the mean predictor)."""

from __future__ import annotations

import os
import sys

import click

from phasecli import columns
from phasecli.cli import cli
from phasecli.cli.common import (NON_NEGATIVE, POSITIVE, FiniteFloat, Progress, check_figure, depth_option,
                                 grid_options, input_errors, output_options, render, sweep_options, warn)

KAPPA_COLUMNS = columns.KAPPA
LR_COLUMNS = columns.LR
GENERALIZE_COLUMNS = columns.GENERALIZE


def data_options(f):
    """--data / --m / --dim / --seed, --normalize, --depth, --dropout: declared once for NTK commands."""
    options = [
        click.option("--data", type=click.Path(dir_okay=False, allow_dash=True), default=None,
                     help="Inputs: CSV (one input per row, no header) or .npy; '-' reads CSV from stdin. "
                          "Default: --m synthetic standard normal inputs."),
        click.option("--m", "m", type=click.IntRange(2, 100_000), default=20, show_default=True,
                     help="Number of synthetic inputs (not with --data)."),
        click.option("--dim", type=click.IntRange(1, 1_000_000), default=10, show_default=True,
                     help="Dimension of synthetic inputs (not with --data)."),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                     help="Seed of the synthetic inputs (not with --data)."),
        click.option("--normalize/--no-normalize", default=True, show_default=True,
                     help="Scale each input so the first-layer variance q^1 equals q* (the paper's setting), "
                          "or use the data as given."),
        depth_option("1:100"),
        click.option("--dropout", type=FiniteFloat(0.0, 1.0, lo_open=True), default=None,
                     help="Dropout with keep rate RHO in (0, 1] on the penultimate layer (Xiao et al. Fig. 1f)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _explicit(name: str) -> bool:
    """True when the user gave option ``name`` on the command line (not its default)."""
    ctx = click.get_current_context()
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def load_inputs(data, m, dim, seed):
    """The inputs: --data, or synthetic ones; --m/--dim/--seed with --data is a usage error."""
    from phasecli import ntk

    if data is None:
        return ntk.synthetic_data(m, dim, seed)
    given = [f"--{n}" for n in ("m", "dim", "seed") if _explicit(n)]
    if given:
        raise click.BadParameter(f"{', '.join(given)} only apply to synthetic inputs and cannot be combined with --data",
                                 param_hint="'--data'")
    try:
        return ntk.load_data(sys.stdin if data == "-" else data)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {data}: {exc.strerror or exc}", param_hint="'--data'") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--data'") from None


def parse_depths(spec):
    from phasecli import validate

    with input_errors():
        return validate.depths(spec)


def _points(sw2, sb2):
    return [{"sw2": a, "sb2": b} for a in sw2 for b in sb2]


def _spectra(activation, sw2, sb2, q0, slope, X, normalize, depths, dropout, scheduler):
    """ntk_spectra at every (sw2, sb2), sw2 outer, yielded as each finishes (progress on a terminal)."""
    from phasecli import ntk, sweep

    points = _points(sw2, sb2)
    shared = dict(activation=activation, X=X, depths=depths, slope=slope, normalize=normalize, q0=q0,
                  dropout=dropout)
    with input_errors(), Progress(len(points), f"{activation} NTK", "points") as advance:
        for result in sweep.run(ntk.ntk_spectra, points, shared=shared, scheduler=scheduler):
            yield result
            advance()


def _report_points(results) -> int:
    singular = [r for r in results if r.status == "singular"]
    if singular:
        r = singular[0]
        warn(f"{len(singular)} of {len(results)} points have an exactly singular kernel (status=singular; first: "
             f"sw2={r.sw2:g}, sb2={r.sb2:g}: {r.message})")
    bad = [r for r in results if r.status not in ("ok", "singular")]
    if bad:
        warn(f"{len(bad)} of {len(results)} points have no kernel (first: sw2={bad[0].sw2:g}, "
             f"sb2={bad[0].sb2:g}: {bad[0].message})")
        return 1
    return 0


def _ntk_command(columns, activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout,
                 scheduler, out, kind, loss="sum"):
    out.check(columns)
    depths = parse_depths(depth_spec)
    layout = check_figure(kind, n_sw2=len(sw2), n_sb2=len(sb2), n_depth=len(depths)) if out.png else None
    X = load_inputs(data, m, dim, seed)
    results = []

    def chunks():
        for r in _spectra(activation, sw2, sb2, q0, slope, X, normalize, depths, dropout, scheduler):
            results.append(r)
            yield r.table(columns, loss=loss)

    out.emit(columns, chunks())
    if out.png:
        render("ntk_figure", out.png, results, kind, loss, layout=layout,
               scales=scale_curves(activation, sw2, sb2, q0, slope, layout))
    return _report_points(results)


def scale_curves(activation, sw2, sb2, q0, slope, layout, n=400):
    """xi_1 and xi_star on a fine grid of the swept variable (heatmap figures draw them on top)."""
    if not layout or not layout.startswith("heatmap"):
        return None
    import numpy as np

    from phasecli import meanfield

    axis = layout.split("-")[1]
    values = sw2 if axis == "sw2" else sb2
    fine = np.linspace(min(values), max(values), n)
    if axis == "sw2":
        line = meanfield.solve_critical(activation, [sb2[0]], q0=q0, slope=slope)
        extra = line.sw2_critical[np.isfinite(line.sw2_critical)]
        fine = np.unique(np.concatenate([fine, extra[(extra >= fine[0]) & (extra <= fine[-1])]]))
        grid = meanfield.solve_phase(activation, fine, [sb2[0]], q0=q0, slope=slope)
        return {"x": fine, "xi_1": grid.xi_1[:, 0], "xi_star": grid.xi_star[:, 0]}
    grid = meanfield.solve_phase(activation, [sw2[0]], fine, q0=q0, slope=slope)
    return {"x": fine, "xi_1": grid.xi_1[0], "xi_star": grid.xi_star[0]}


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@data_options
@sweep_options
@output_options()
def kappa(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, scheduler, out):
    """NTK and NNGP spectra on a data set at every depth: lambda_max, lambda_min, lambda_bulk, kappa.

    One pass of the depth recursion (`phasecli docs theory`) gives every depth asked.
    kappa_theory is the large-depth prediction of Xiao et al. (Table 1) for the point's
    phase: 1 chaotic, (m + 2)/2 critical (smooth activations; (m + 3)/3 when phi' jumps),
    m p* / (l chi_1^l) ordered (inf beyond the float64 range).  resolved=false marks
    depths where float64 no longer resolves lambda_min (lambda_min and kappa are then
    NaN, never noise); status=singular where the kernel is exactly singular (identical
    or proportional inputs).

    \b
    Examples:
      phasecli kappa -a erf --sw2 1.5 --sb2 0.05 --depth 1,10,100,1000 -f csv
      phasecli kappa -a tanh --data inputs.csv --depth 1:60 --png kappa.png
      phasecli kappa -a erf --sw2 0.5:4:40 --sb2 0.1 --depth 1:100 --png fig3.png
      phasecli kappa -a erf --sw2 0.8 --sb2 0.1 --dropout 0.8 --depth 1:200
    """
    return _ntk_command(KAPPA_COLUMNS, activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec,
                        dropout, scheduler, out, "kappa")


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@data_options
@click.option("--loss", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="Loss normalization: 1/2 sum (f - y)^2 (eta = 2/lambda_max) or 1/(2m) sum (eta = 2m/lambda_max).")
@sweep_options
@output_options()
def lr(activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec, dropout, loss, scheduler, out):
    """Largest convergent learning rate eta_max = 2/lambda_max, and eta_catapult = 2 eta_max.

    Gradient descent on the linearized (infinite-width) network converges for
    eta < eta_max (lazy regime).  Above it a finite network enters the catapult regime
    (Lewkowycz et al.: the loss grows, then the kernel shrinks until it converges); in
    the two-scalar model of that regime training diverges above eta_catapult =
    4/lambda_max, while real networks diverge only at c/lambda_max with an
    architecture-dependent c > 2 (measured 3-4 for one hidden layer, > 6 deeper; see
    `phasecli catapult` and `phasecli train`).  With --loss mean both are multiplied by m
    (as neural-tangents' max_learning_rate).

    \b
    Examples:
      phasecli lr -a erf --sw2 1.5 --sb2 0.05 --depth 5,10,20,40 -f csv
      phasecli lr -a tanh --data train.csv --loss mean --depth 10
      phasecli lr -a erf --sw2 0.5:4:40 --sb2 0.1 --depth 1:60 --png eta.png
    """
    return _ntk_command(LR_COLUMNS, activation, sw2, sb2, q0, slope, data, m, dim, seed, normalize, depth_spec,
                        dropout, scheduler, out, "lr", loss)


def load_labelled(path, label_column, which):
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
@depth_option("1,2,5,10,20,30,50,100")
@click.option("--dropout", type=FiniteFloat(0.0, 1.0, lo_open=True), default=None,
              help="Dropout with keep rate RHO in (0, 1] on the penultimate layer.")
@click.option("--time", "train_time", type=NON_NEGATIVE, default=None,
              help="Training time t of gradient flow (mu_t); default: t = infinity.")
@click.option("--eta", type=POSITIVE, default=None,
              help="Learning rate for --time [default: eta_max = 2/lambda_max at each depth]; needs --time.")
@click.option("--ridge", type=NON_NEGATIVE, default=0.0, show_default=True,
              help="Add SIGMA * Id to Theta_train,train (regularizer for the ordered phase).")
@click.option("--nngp", is_flag=True, help="Use the NNGP (Bayesian posterior mean) instead of the NTK predictor.")
@click.option("--batch-size", type=click.IntRange(1), default=2048, show_default=True,
              help="Test rows per pass of the recursion (bounds memory).")
@sweep_options
@output_options()
def generalize(train_path, test_path, label_column, activation, sw2, sb2, q0, slope, normalize, depth_spec, dropout,
               train_time, eta, ridge, nngp, batch_size, scheduler, out):
    """Test accuracy of the infinite-width network trained on your data (NTK mean predictor).

    mu(X_test) = Theta_test,train Theta_train,train^-1 Y_train with targets one-hot minus 1/k,
    at t = infinity unless --time.  In the deep chaotic phase the predictor collapses
    (prediction_scale -> 0, accuracy -> chance) though kappa -> 1; in the ordered phase
    kappa explodes (ill_conditioned, see --ridge).

    \b
    Examples:
      phasecli generalize --train digits --test digits -a erf --sw2 3 --sb2 0.1
      phasecli generalize --train train.csv --test test.csv --depth 1:50 --time 100
      phasecli generalize --train digits --test digits -a erf --sw2 0.5:4:20 --sb2 0.1 \\
          --depth 1:60:3 --png accuracy.png
    """
    from phasecli import generalize as gen
    from phasecli import sweep

    out.check(GENERALIZE_COLUMNS)
    if eta is not None and train_time is None:
        raise click.BadParameter("is the learning rate of finite-time training and needs --time",
                                 param_hint="'--eta'")
    depths = parse_depths(depth_spec)
    layout = check_figure("generalize", n_sw2=len(sw2), n_sb2=len(sb2), n_depth=len(depths)) if out.png else None
    X_train, y_train = load_labelled(train_path, label_column, "train")
    X_test, y_test = load_labelled(test_path, label_column, "test")
    points = _points(sw2, sb2)
    shared = dict(activation=activation, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                  depths=depths, slope=slope, normalize=normalize, q0=q0, dropout=dropout, time=train_time, eta=eta,
                  ridge=ridge, nngp=nngp, batch_size=batch_size)
    results = []

    def chunks():
        with input_errors(X_train="--train", X_test="--test"), \
                Progress(len(points), f"{activation} predictor", "points") as advance:
            for r in sweep.run(gen.ntk_generalization, points, shared=shared, scheduler=scheduler):
                results.append(r)
                yield r.table(GENERALIZE_COLUMNS)
                advance()

    out.emit(GENERALIZE_COLUMNS, chunks())
    if out.png:
        render("generalize_figure", out.png, results, layout=layout, time=train_time,
               scales=scale_curves(activation, sw2, sb2, q0, slope, layout))
    ill = sum(int(r.ill_conditioned.sum()) for r in results)
    if ill:
        warn(f"{ill} rows have kappa > 1e10: the solve loses that many digits (ill_conditioned=true); "
             "consider --ridge")
    failed = [(r, s) for r in results for s in r.status if s != "ok"]
    if failed:
        r, status = failed[0]
        warn(f"{len(failed)} rows have no prediction (first: sw2={r.sw2:g}, sb2={r.sb2:g}: {status})")
        return 1
    return 0
