"""Training at large learning rates: catapult (the two-scalar model) and train (finite networks)."""

from __future__ import annotations

import click

from phasecli.cli import columns
from phasecli.cli import cli
from phasecli.cli.errors import input_errors
from phasecli.cli.inputs import explicit, load_labelled, load_training_set
from phasecli.cli.options import (BUNDLED_DATA, GRID_GRAMMAR, POSITIVE, SYNTHETIC_EXAMPLES, complete_words,
                                  depth_option, examples_option, FiniteFloat, grid_options, GridSpec,
                                  label_column_option, normalize_option, output_options,
                                  simulated_architecture_options, sweep_options, width_option)
from phasecli.cli.progress import Progress, check_figure, render

CATAPULT_COLUMNS = columns.CATAPULT
TRAIN_COLUMNS = columns.TRAIN


def _lr_option(default: str):
    return click.option("--lr-factor", "lr_factor", type=GridSpec(positive=True), default=default, show_default=True,
                        help=f"Learning rates as multiples of 2/lambda: {GRID_GRAMMAR}.")


@cli.command()
@click.option("--lambda0", type=POSITIVE, default=1.0, show_default=True,
              help="Initial NTK eigenvalue lambda_0 (eta = lr_factor * 2 / lambda_0).")
@click.option("--f0", type=FiniteFloat(), default=1.0, show_default=True, help="Initial output f_0 (loss_0 = f_0^2/2).")
@width_option("1000", "Width n of the one-hidden-layer network (a row per width and lr_factor)")
@_lr_option("0.5,1.5,1.9,2,2.1")
@click.option("--steps", "n_steps", type=click.IntRange(0, 10 ** 9), default=10000, show_default=True,
              help="Largest number of updates T.")
@click.option("--tol", type=FiniteFloat(1e-300, 1e300), default=1e-12, show_default=True,
              help="Converged at the first step with loss < TOL.")
@sweep_options
@output_options(columns=CATAPULT_COLUMNS, png_help="Also draw loss_t (log scale) and lambda_t against the step for each lr_factor "
                         "(and a summary against lr_factor for three or more) to this PNG (written atomically).")
def catapult(lambda0, f0, widths, lr_factor, n_steps, tol, scheduler, out):
    """The two-scalar model of large learning rates: lazy, catapult, unconverged or divergent.

    Iterates the map of a width-n one-hidden-layer network on the loss f^2/2 (Bahri's lecture after Lewkowycz et al.,
    `phasecli docs theory`):  f' = (1 - eta lambda + eta^2 f^2/n) f,
    lambda' = lambda + (eta f^2/n)(eta lambda - 4), eta = lr_factor * 2/lambda_0.
    steps is the first t with loss_t < --tol (else --steps, or the step at which the run
    overflowed); final_* are taken there, peak_loss / peak_step over t <= steps.  regime,
    in this order: divergent (non-finite), unconverged (never below --tol), catapult
    (converged after the loss rose above loss_0), lazy.  The regime is what the iteration
    did: the lazy / catapult boundary is 1 + O(f_0^2/n), not 1; unconverged pockets sit
    inside the catapult band (eta lambda driven nearly to 0); lr_factor = 2 is bounded
    chaos (eta lambda = 4 forever).

    \b
    Examples:
      phasecli catapult
      phasecli catapult --lr-factor 0.9:2.1:1201 --width 1000 -f csv > scan.csv
      phasecli catapult --lr-factor 1.5 --width 100000 --value eta_lambda_final
      phasecli catapult --lr-factor 0.5,1.2,1.6,1.9 --png catapult.png
    """
    from phasecli import catapult_dynamics as catapult

    out.check(CATAPULT_COLUMNS)
    if out.png and len(widths) > 1:
        raise click.BadParameter(f"the figure draws one width; got {len(widths)} (write the rows without --png)",
                                 param_hint="'--png'")
    layout = check_figure("catapult", n_lr=len(lr_factor), steps=n_steps) if out.png else None
    with input_errors():
        sweep = catapult.catapult_sweep(lr_factor, widths, lambda0=lambda0, f0=f0, n_steps=n_steps, tol=tol,
                                        scheduler=scheduler)
    lrs = sweep.meta["lr_factor"]
    kept = []

    def chunks():
        with input_errors(), Progress(sweep.total, "catapult map", "lr factors") as advance:
            for runs in sweep:
                if out.png:
                    kept.append(runs)
                yield runs.table(CATAPULT_COLUMNS)
                advance(runs.lr_factor.size)

    out.emit(CATAPULT_COLUMNS, chunks())
    if out.png:
        curves = None
        if "curves" in layout:
            curves = [catapult.catapult_trajectory(f, width=widths[0], **sweep.shared) for f in lrs]
        render("training:catapult_figure", out.png, kept, curves, layout=layout)
    return 0


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@depth_option("1", "Hidden layers L (number of nonlinearities; resnet: residual blocks)")
@width_option("512", "Hidden width N of the finite networks")
@_lr_option("0.5,1,1.5,2,3")
@click.option("--steps", "n_steps", type=click.IntRange(0, 1_000_000), default=300, show_default=True,
              help="Full-batch gradient-descent steps T.")
@click.option("--samples", type=click.IntRange(1, 10_000), default=5, show_default=True,
              help="Independent networks S (the same S for every lr_factor).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of the networks (and of synthetic inputs).")
@click.option("--train", "train_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              shell_complete=complete_words(BUNDLED_DATA, files=True),
              help="Labelled training set: CSV (one example per row, integer label in --label-column; a "
                   "header line is read), .npy or .npz (arrays x and y); '-' reads stdin; 'digits' for the "
                   "bundled handwritten digits. k labels = k outputs, targets one-hot minus 1/k. Default: "
                   "--examples synthetic inputs, one output, target 0.")
@click.option("--test", "test_path", type=click.Path(dir_okay=False), default=None,
              shell_complete=complete_words(BUNDLED_DATA, files=True),
              help="Labelled test set in --train's layout ('digits' for the bundled test split): adds "
                   "test_accuracy, the mean over the non-diverged networks after T steps, and its standard "
                   "error. Needs --train; the same feature count, only labels seen in training.")
@click.option("--test-examples", type=click.IntRange(1), default=None, metavar="N",
              help="Test examples used: the first N rows of --test [default: all].")
@label_column_option
@examples_option("Examples used: the first N rows of --train, or N synthetic standard normal inputs (m k is "
                 f"limited to 4000) [default: all rows of --train, {SYNTHETIC_EXAMPLES} synthetic].")
@click.option("--dim", type=click.IntRange(1, 100_000), default=10, show_default=True,
              help="Dimension of synthetic inputs (not with --train).")
@normalize_option("Scale each input so q^1 = q* (as `phasecli lr`; a bare --normalize is 'example'; these fully "
                  "connected networks see each input as one position, so 'position' is the same); --no-normalize "
                  "trains on the data as given; resnet: scale each input so the first layer's variance is --q0.")
@simulated_architecture_options
@sweep_options
@output_options(columns=TRAIN_COLUMNS, png_help="Also draw, to this PNG (written atomically), for one depth: the "
                "median loss curves per lr_factor and final loss against lr_factor; for several depths (Xiao et "
                "al.'s Figure 2): test accuracy (train accuracy without --test, final loss without labels) over "
                "(depth, lr_factor) with 2/lambda_max and 4/lambda_max overlaid. One (sw2, sb2, width).")
def train(activation, sw2, sb2, q0, slope, depth_spec, widths, lr_factor, n_steps, samples, seed, train_path,
          test_path, test_examples, label_column, examples, dim, normalize, architecture, residual_scale, layer_norm,
          scheduler, out):
    """Gradient descent on finite networks at multiples of eta_max = 2/lambda_max.

    S networks of width N (NTK parameterization, every W and b N(0, 1), float64) are
    trained full-batch on 1/2 sum over examples and outputs of (f - y)^2 with
    eta = lr_factor * eta_max, eta_max = 2/lambda_max of the INFINITE-width NTK on the
    training inputs (what `phasecli lr` prints).  Per (sw2, sb2, depth, width) point and
    lr_factor: diverged_fraction (the share of networks whose loss became non-finite or
    above 1e6 x its initial value), medians of final_loss, peak_loss_ratio, the empirical
    NTK's lambda_max at t = 0 and T, kernel_drift ||Theta_T - Theta_0||_F / ||Theta_0||_F,
    and regime: divergent (more than half diverged), catapult (median peak_loss_ratio > 1),
    lazy.  The point's activation, sw2, sb2, depth and width follow; then lambda_max_inf
    (the infinite-width NTK's), lambda_max_empirical (median over all S networks of their
    NTK's lambda_max at t = 0; lambda_max_init is the median over the non-diverged ones,
    over all S when every one diverged), eta_empirical_factor = eta lambda_max_empirical/2,
    test_accuracy and test_accuracy_se (--test: mean over the non-diverged networks, std/sqrt(n)),
    train_accuracy (labelled --train) and status (ok, or all networks diverged).
    --architecture resnet trains residual networks (a dense first layer, --depth residual
    blocks of scale --residual-scale, LayerNorm before each activation with --layer-norm pre;
    `phasecli docs resnet`) at multiples of 2/lambda_max of the infinite-width resnet NTK
    (what `phasecli lr --architecture resnet` prints); the rows end with architecture,
    residual_scale (the alpha used; nan for fc) and layer_norm.

    \b
    Examples:
      phasecli train -a erf --train digits --examples 40 --lr-factor 0.5,1.5,2.5 --samples 2
      phasecli train -a relu --sw2 2 --sb2 0 --depth 3 --train digits --examples 40 --width 256 \\
          --samples 3 --lr-factor 0.5:6:6 --png train.png
      phasecli train -a erf --examples 50 --dim 20 --width 512 --lr-factor 0.5 --value kernel_drift
      phasecli train -a tanh --sw2 1,1.76,3 --depth 1,3 --width 64 --steps 100 --samples 2 -f csv
      phasecli train -a erf --train digits --test digits --examples 30 --test-examples 100 --width 64 \\
          --samples 2 --steps 30 --depth 1,2,4 --lr-factor 0.5,1,2,4 --png figure2.png
      phasecli train -a tanh --architecture resnet --layer-norm pre --depth 2 --width 64 --steps 20 -f csv
      phasecli train -a relu --sw2 2 --sb2 0.1 --architecture resnet --residual-scale depth --depth 4,16 \\
          --train digits --examples 40 --width 64 --samples 2 --steps 50 --lr-factor 0.5,1,2
    """
    from phasecli import validate
    from phasecli.finite import train as core

    out.check(TRAIN_COLUMNS)
    if architecture != "resnet":
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
    elif layer_norm == "pre" and min(widths) < 2:
        raise click.BadParameter(f"{min(widths)}: LayerNorm needs width >= 2 (it divides by the spread of the "
                                 "features)", param_hint="'--width'")
    with input_errors():
        depths = validate.depths(depth_spec).tolist()
    others = [(a, b, n) for a in sw2 for b in sb2 for n in widths]
    if out.png and len(others) > 1:
        raise click.BadParameter(f"the figure draws one (sw2, sb2, width) point (and one or several depths); got "
                                 f"{len(others)} (write the rows without --png)", param_hint="'--png'")
    layout = check_figure("train", n_lr=len(lr_factor), n_depth=len(depths)) if out.png else None
    if test_path is not None and train_path is None:
        raise click.BadParameter("needs a labelled --train (its labels name the outputs the test rows are "
                                 "scored on)", param_hint="'--test'")
    if test_path == "-" and train_path == "-":
        raise click.BadParameter("--train already reads stdin: give the test set as a file", param_hint="'--test'")
    if test_examples is not None and test_path is None:
        raise click.BadParameter("counts rows of --test, which is not given", param_hint="'--test-examples'")
    X, y, source = load_training_set(train_path, label_column, examples, dim, seed)
    X_test = y_test = None
    if test_path is not None:
        X_test, y_test = load_labelled(test_path, label_column, "test")
        if test_examples is not None and test_examples > X_test.shape[0]:
            raise click.BadParameter(f"{test_examples} rows asked, --test has {X_test.shape[0]}",
                                     param_hint="'--test-examples'")
        X_test, y_test = X_test[:test_examples], y_test[:test_examples]
    with input_errors(X=source, y=source, samples="--samples", X_test="--test", y_test="--test"):
        sweeps = core.train_sweep(activation, X, y, sw2=sw2, sb2=sb2, depths=depths, widths=widths,
                                  lr_factors=lr_factor, samples=samples, seed=seed, n_steps=n_steps,
                                  normalize=normalize, q0=q0, slope=slope, X_test=X_test, y_test=y_test,
                                  scheduler=scheduler, architecture=architecture,
                                  **({"residual_scale": residual_scale, "layer_norm": layer_norm}
                                     if architecture == "resnet" else {}))
    runs = []

    def chunks():
        with input_errors(), Progress(len(lr_factor) * len(sweeps), f"training {samples} networks",
                                      "lr factors") as advance:
            for sweep in sweeps:
                for run in sweep:
                    runs.append(run)
                    yield run.table(TRAIN_COLUMNS)
                    advance()

    out.emit(TRAIN_COLUMNS, chunks())
    if out.png and layout == "depth-heatmap":
        render("training:train_depth_figure", out.png, runs, [sweep.meta["setup"] for sweep in sweeps])
    elif out.png:
        render("training:train_figure", out.png, runs, sweeps[0].meta["setup"], layout=layout)
    return 0

