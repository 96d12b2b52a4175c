"""Training at large learning rates: catapult (the two-scalar model) and train (finite networks)."""

from __future__ import annotations

import click

from phasecli import columns
from phasecli.activations import NAMES
from phasecli.cli import cli
from phasecli.cli.common import (BUNDLED_DATA, GRID_GRAMMAR, NON_NEGATIVE, POSITIVE, UNIT, FiniteFloat, Progress,
                                 check_figure, complete_words, input_errors, label_column_option, output_options,
                                 render, sweep_options)
from phasecli.grids import GridSpecError, parse_grid

CATAPULT_COLUMNS = columns.CATAPULT
TRAIN_COLUMNS = columns.TRAIN
CATAPULT_CHUNK_STEPS = 50_000_000  # worst-case map steps per task (<= ~0.5 s of numba): rows stream, Ctrl-C prompt


class LrFactorSpec(click.ParamType):
    """--lr-factor: NUMBER, LIST a,b,c or START:STOP:NUM, every value > 0 (multiples of eta_max = 2/lambda)."""

    name = "SPEC"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            values = parse_grid(str(value), "lr_factor", minimum=None)
        except GridSpecError as exc:
            self.fail(str(exc), param, ctx)
        bad = [v for v in values if not v > 0]
        if bad:
            self.fail(f"lr_factor must be > 0 (a multiple of 2/lambda), got {bad[0]:g}", param, ctx)
        return values


def _lr_option(default: str):
    return click.option("--lr-factor", "lr_factor", type=LrFactorSpec(), default=default, show_default=True,
                        help=f"Learning rates as multiples of 2/lambda: {GRID_GRAMMAR}.")


@cli.command()
@click.option("--lambda0", type=POSITIVE, default=1.0, show_default=True,
              help="Initial NTK eigenvalue lambda_0 (eta = lr_factor * 2 / lambda_0).")
@click.option("--f0", type=FiniteFloat(), default=1.0, show_default=True, help="Initial output f_0 (loss_0 = f_0^2/2).")
@click.option("--width", type=click.IntRange(1, 10 ** 15), default=1000, show_default=True,
              help="Width n of the hidden layer.")
@_lr_option("0.5,1.5,1.9,2,2.1")
@click.option("--steps", "n_steps", type=click.IntRange(0, 10 ** 9), default=10000, show_default=True,
              help="Largest number of updates T.")
@click.option("--tol", type=FiniteFloat(1e-300, 1e300), default=1e-12, show_default=True,
              help="Converged at the first step with loss < TOL.")
@sweep_options
@output_options(columns=CATAPULT_COLUMNS, png_help="Also draw loss_t (log scale) and lambda_t against the step for each lr_factor "
                         "(and a summary against lr_factor for three or more) to this PNG (written atomically).")
def catapult(lambda0, f0, width, lr_factor, n_steps, tol, scheduler, out):
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
    from phasecli import dynamics, sweep

    out.check(CATAPULT_COLUMNS)
    layout = check_figure("catapult", n_lr=len(lr_factor), steps=n_steps) if out.png else None
    shared = dict(lambda0=lambda0, f0=f0, width=width, n_steps=n_steps, tol=tol)
    with input_errors():
        dynamics.check_parameters(lambda0, f0, width, n_steps, tol)
        lrs = dynamics.lr_factors(lr_factor).tolist()
    blocks = sweep.row_blocks(len(lrs), n_steps + 1, target=CATAPULT_CHUNK_STEPS)
    tasks = [{"lr_factor": lrs[a:b]} for a, b in blocks]
    kept = []

    def chunks():
        with input_errors(), Progress(len(lrs), "catapult map", "lr factors") as advance:
            for runs in sweep.run(dynamics.catapult, tasks, shared=shared, scheduler=scheduler):
                if out.png:
                    kept.append(runs)
                yield runs.table(CATAPULT_COLUMNS)
                advance(runs.lr_factor.size)

    out.emit(CATAPULT_COLUMNS, chunks())
    if out.png:
        curves = None
        if "curves" in layout:
            curves = [dynamics.catapult_trajectory(f, **shared) for f in lrs]
        render("training:catapult_figure", out.png, kept, curves, layout=layout)
    return 0


def _load_training_set(train_path, label_column, examples, m, dim, seed):
    """(X, y or None, which option the data came from)."""
    from phasecli.cli.cmd_ntk import _explicit, load_labelled
    from phasecli import ntk

    if train_path is None:
        if examples is not None:
            raise click.BadParameter("takes the first N rows of --train; synthetic inputs use --m",
                                     param_hint="'--examples'")
        return ntk.synthetic_data(m, dim, seed), None, "--m"
    given = [f"--{n}" for n in ("m", "dim") if _explicit(n)]
    if given:
        verb = "describe" if len(given) > 1 else "describes"
        raise click.BadParameter(f"{', '.join(given)} {verb} synthetic inputs and cannot be used with --train",
                                 param_hint="'--train'")
    X, y = load_labelled(train_path, label_column, "train")
    if examples is not None:
        if examples > X.shape[0]:
            raise click.BadParameter(f"{examples} examples asked, the training set has {X.shape[0]}",
                                     param_hint="'--examples'")
        X, y = X[:examples], y[:examples]
    return X, y, "--train"


@cli.command()
@click.option("--activation", "-a", type=click.Choice(NAMES), default="tanh", show_default=True,
              help="Nonlinearity phi (see `phasecli activations`).")
@click.option("--sw2", type=NON_NEGATIVE, default=1.5, show_default=True,
              help="Weight VARIANCE sigma_w^2 (not the std).")
@click.option("--sb2", type=NON_NEGATIVE, default=0.05, show_default=True,
              help="Bias VARIANCE sigma_b^2 (not the std).")
@click.option("--q0", type=POSITIVE, default=1.0, show_default=True,
              help="Inputs' variance q^1 from which q* is reached (for --normalize).")
@click.option("--slope", type=UNIT, default=0.01, show_default=True, help="Negative slope of leaky_relu.")
@click.option("--depth", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Hidden layers L (number of nonlinearities).")
@click.option("--width", type=click.IntRange(1, 100_000), default=512, show_default=True,
              help="Hidden width N of the finite networks.")
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
                   "header line is read), .npy or .npz (arrays x and y); '-' reads stdin; 'digits' for the bundled handwritten digits. k labels = k outputs, "
                   "targets one-hot minus 1/k. Default: --m synthetic inputs, one output, target 0.")
@label_column_option
@click.option("--examples", type=click.IntRange(2), default=None,
              help="Use only the first N examples of --train (m k is limited to 4000).")
@click.option("--m", "m", type=click.IntRange(2, 4000), default=20, show_default=True,
              help="Number of synthetic inputs (not with --train).")
@click.option("--dim", type=click.IntRange(1, 100_000), default=10, show_default=True,
              help="Dimension of synthetic inputs (not with --train).")
@click.option("--normalize/--no-normalize", default=True, show_default=True,
              help="Scale each input so q^1 = q* (as `phasecli lr`), or train on the data as given.")
@sweep_options
@output_options(columns=TRAIN_COLUMNS, png_help="Also draw the median loss curves per lr_factor and final loss against lr_factor "
                         "(Xiao et al.'s Figure 2 style) to this PNG (written atomically).")
def train(activation, sw2, sb2, q0, slope, depth, width, lr_factor, n_steps, samples, seed, train_path,
          label_column, examples, m, dim, normalize, scheduler, out):
    """Gradient descent on finite networks at multiples of eta_max = 2/lambda_max.

    S networks of width N (NTK parameterization, every W and b N(0, 1), float64) are
    trained full-batch on 1/2 sum over examples and outputs of (f - y)^2 with
    eta = lr_factor * eta_max, eta_max = 2/lambda_max of the INFINITE-width NTK on the
    training inputs (what `phasecli lr` prints).  Per lr_factor: diverged (fraction whose
    loss became non-finite or above 1e6 x its initial value), medians of final_loss,
    peak_loss_ratio, the empirical NTK's lambda_max at t = 0 and T, kernel_drift
    ||Theta_T - Theta_0||_F / ||Theta_0||_F, and regime: divergent (more than half
    diverged), catapult (median peak_loss_ratio > 1), lazy.

    \b
    Examples:
      phasecli train -a erf --train digits --examples 40 --lr-factor 0.5,1.5,2.5
      phasecli train -a relu --sw2 2 --sb2 0 --depth 3 --lr-factor 0.5:6:12 --png train.png
      phasecli train -a erf --m 50 --dim 20 --width 2048 --lr-factor 0.5 --value kernel_drift
    """
    from phasecli import sweep
    from phasecli.finite import train as core

    out.check(TRAIN_COLUMNS)
    layout = check_figure("train", n_lr=len(lr_factor)) if out.png else None
    X, y, source = _load_training_set(train_path, label_column, examples, m, dim, seed)
    with input_errors(X=source, y=source, samples="--samples"):
        setup = core.prepare(activation, X, y, sw2=sw2, sb2=sb2, depth=depth, width=width, samples=samples,
                             seed=seed, n_steps=n_steps, normalize=normalize, q0=q0, slope=slope)
    runs = []

    def chunks():
        with input_errors(), Progress(len(lr_factor), f"training {samples} networks", "lr factors") as advance:
            for run in sweep.run(core.train_at, [{"lr_factor": f} for f in lr_factor], shared={"setup": setup},
                                 scheduler=scheduler):
                runs.append(run)
                yield run.table(TRAIN_COLUMNS)
                advance()

    out.emit(TRAIN_COLUMNS, chunks())
    if out.png:
        render("training:train_figure", out.png, runs, setup, layout=layout)
    return 0

