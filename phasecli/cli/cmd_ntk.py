"""Commands on a data set: kappa, lr (NTK spectra) and generalize (the mean predictor)."""

from __future__ import annotations

import contextlib

import click

from phasecli import defaults
from phasecli.cli import cli, columns
from phasecli.cli.errors import input_errors, partial_failure, warn
from phasecli.cli.inputs import explicit, load_train_test, network_inputs
from phasecli.cli.options import (BUNDLED_DATA, IMAGE_ARCHITECTURES, NON_NEGATIVE, POSITIVE, architecture_options,
                                  complete_words, data_options, depth_option, dropout_option, examples_option,
                                  grid_options, label_column_option, normalize_option, output_options, strict_option,
                                  sweep_options)
from phasecli.cli.progress import Progress, check_figure, render

KAPPA_COLUMNS = columns.KAPPA
LR_COLUMNS = columns.LR
GENERALIZE_COLUMNS = columns.GENERALIZE
SYNTHETIC_IMAGE = (6, 6, 3)  # the paper's synthetic images (Xiao et al. Figure 1)
DIGITS_IMAGE = (8, 8, 1)  # the bundled digits


def network(architectures, filter_size, image_shape, default_shape, residual_scale=1.0, layer_norm="none"):
    """Keyword arguments of the network for the numeric core; usage errors for CNN options without a CNN and
    resnet options without a resnet."""
    net = {}
    if "resnet" in architectures:
        net["options"] = {"residual_scale": residual_scale, "layer_norm": layer_norm}
    else:
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
    cnn = any(a in IMAGE_ARCHITECTURES for a in architectures)
    if not cnn:
        given = [f"--{n.replace('_', '-')}" for n in ("filter_size", "image_shape") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given).replace('filter-size', 'filter')}: only for convolutional "
                                     "networks (--architecture cnn-f or cnn-p)", param_hint="'--architecture'")
        return net
    shape = image_shape or default_shape
    if shape is None:
        raise click.BadParameter("give the layout of the image rows (H,W,C) for a convolutional network",
                                 param_hint="'--image-shape'")
    from phasecli.ntk.engines import cnn

    with input_errors():
        cnn.check_image_shape(shape)  # before any rows are read or drawn
    return {**net, "image_shape": shape, "filter_size": filter_size}


CNN_NOTE_SECONDS = 60.0  # a run estimated beyond this says so on stderr before it starts (a terminal or not)


def cnn_note(activation, works, scheduler):
    """'phasecli kappa: note: estimated ~5 min on 2 cores (...)' before a convolutional run beyond
    CNN_NOTE_SECONDS computed here."""
    if not works:
        return  # no convolutional point (a fully connected run does not import the CNN engine)
    from phasecli.ntk.engines import cnn
    from phasecli.runtime.plans import duration_text

    total = sum(works)
    secs = cnn.seconds(activation, total)
    if scheduler is None and secs > CNN_NOTE_SECONDS:
        click.echo(f"{click.get_current_context().command_path}: note: estimated ~{duration_text(secs)} on 2 cores "
                   f"({total:.2g} entry-layers, {cnn.cost_text(activation)}) ...", err=True)


@contextlib.contextmanager
def cnn_progress(works, label):
    """A Progress bar over the entry-layers of CNN points (``works``: one count per point, in order); yields
    ``point_done()`` to call as each point finishes (the bar then also moves for points run elsewhere)."""
    from phasecli.ntk.engines import cnn

    total = sum(works)
    unit, unit_name = (10 ** 6, "M entry-layers") if total >= 10 ** 8 else \
        ((10 ** 3, "k entry-layers") if total >= 10 ** 5 else (1, "entry-layers"))
    state = {"raw": 0, "shown": 0, "point": 0}
    with Progress(total // unit, label, unit_name) as advance:
        def show(raw):
            shown = raw // unit
            if shown > state["shown"]:
                advance(shown - state["shown"])
                state["shown"] = shown

        def hook(n):
            state["raw"] += n
            show(min(state["raw"], sum(works[:state["point"] + 1])))

        def point_done():
            state["point"] += 1
            state["raw"] = sum(works[:state["point"]])
            show(state["raw"])

        with cnn.progress(hook):
            yield point_done


def warn_unbalanced(y_train):
    """A warning when the training classes differ by more than 20% in size: the mean predictor's deep chaotic
    limit is then a constant vector (class counts minus m/k), not chance."""
    from phasecli.data import class_balance

    classes, counts, ratio = class_balance(y_train)
    if ratio > 1.2:
        big, small = int(counts.argmax()), int(counts.argmin())
        warn(f"training labels are unbalanced: class {classes[big]} has {counts[big]} rows, class {classes[small]} "
             f"{counts[small]} ({ratio:.2f}x): deep in the chaotic phase the mean predictor then picks the largest "
             "class (test_accuracy floors at its test share); --balance takes as many rows of every class")


def parse_depths(spec):
    from phasecli import validate

    with input_errors():
        return validate.depths(spec)


def _bar(sweep, label, cnn_label):
    """The progress bar of one planned sweep: entry-layers of its CNN points, else points."""
    if sweep.works is not None:
        return cnn_progress(sweep.works, cnn_label)
    return Progress(len(sweep), label, "points")


def _report_points(results) -> int:
    singular = [r for r in results if r.status == "singular"]
    if singular:
        r = singular[0]
        warn(f"{len(singular)} of {len(results)} points have an exactly singular kernel (status=singular; first: "
             f"sw2={r.sw2:g}, sb2={r.sb2:g}: {r.message})")
    bad = [r for r in results if r.status not in ("ok", "singular")]
    return partial_failure(f"{len(bad)} of {len(results)} points have no kernel (first: sw2={bad[0].sw2:g}, "
                           f"sb2={bad[0].sb2:g}: {bad[0].message})" if bad else "", len(bad), len(results))


def _ntk_command(columns, activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec, dropout,
                 scheduler, out, kind, loss="sum", architectures=("fc",), filter_size=3, image_shape=None,
                 residual_scale=1.0, layer_norm="none"):
    from phasecli import ntk

    out.check(columns)
    depths = parse_depths(depth_spec)
    if out.png and len(architectures) > 1:
        raise click.BadParameter(f"the figure draws one architecture; got {', '.join(architectures)} (write the "
                                 "rows without --png, or one --architecture)", param_hint="'--png'")
    layout = check_figure(kind, n_sw2=len(sw2), n_sb2=len(sb2), n_depth=len(depths)) if out.png else None
    net = network(architectures, filter_size, image_shape, SYNTHETIC_IMAGE if data is None else None, residual_scale,
                  layer_norm)
    runs = network_inputs(architectures, net, data, examples, dim, seed)
    with input_errors("use fewer images (--examples N), a smaller --depth maximum or fewer points"):
        sweeps = ntk.spectra_sweep(activation, sw2, sb2, runs, depths, slope=slope, normalize=normalize, q0=q0,
                                   dropout=dropout, scheduler=scheduler, **net)
    cnn_note(activation, [w for sweep in sweeps for w in (sweep.works or ())], scheduler)
    results = []

    def chunks():
        for sweep in sweeps:
            bar = _bar(sweep, f"{activation} NTK", f"{activation} {sweep.meta['architecture']} NTK")
            with input_errors(), bar as advance:
                for r in sweep:
                    results.append(r)
                    yield r.table(columns, loss=loss)
                    advance()

    out.emit(columns, chunks())
    if out.png:
        render("ntk_figure", out.png, results, kind, loss, layout=layout,
               scales=None if "resnet" in architectures else scale_curves(activation, sw2, sb2, q0, slope, layout))
    return _report_points(results)


def scale_curves(activation, sw2, sb2, q0, slope, layout, n=400):
    """xi_1 and xi_star on a fine grid of the swept variable (heatmap figures draw them on top)."""
    if not layout or not layout.startswith("heatmap"):
        return None
    from phasecli import meanfield

    return meanfield.scale_curves(activation, layout.split("-")[1], sw2, sb2, q0=q0, slope=slope, n=n)


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@data_options()
@architecture_options()
@sweep_options
@strict_option
@output_options(columns=KAPPA_COLUMNS)
def kappa(activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec, dropout, architectures,
          filter_size, image_shape, residual_scale, layer_norm, scheduler, out):
    """NTK and NNGP spectra on a data set at every depth: lambda_max, lambda_min, lambda_bulk, kappa.

    One pass of the depth recursion (`phasecli docs theory`) gives every depth asked.
    kappa_theory is the large-depth prediction of Xiao et al. (Table 1) for the point's
    phase: chaotic, the exact limit for these inputs, max A / min A over the growth
    A(x) chi_1^l of each input's NTK diagonal (1 when every position of every input starts
    at q*: fc rows scaled to q*, or --normalize position for a CNN); (m + 2)/2 critical
    (smooth activations; (m + 3)/3 when phi' jumps); ordered m p* / (l chi_1^l), the RATE of
    divergence, not its value (inf beyond the float64 range); with --architecture cnn-p
    (global average pooling over d = H W pixels) (d m + 2)/2 and (d m + 3)/3 critical.
    kappa_limit (the last column) is the exact large-depth asymptote of kappa for these
    inputs: in the ordered phase m p* / (l chi_1^l G), l = depth + 1, with the data-dependent
    G of `phasecli docs theory` (fc, rows at q*, phi' continuous; NaN otherwise), elsewhere
    kappa_theory.  resolved=false marks
    depths where float64 no longer resolves lambda_min (lambda_min and kappa are then
    NaN, never noise); status=singular where the kernel is exactly singular (identical
    or proportional inputs).  With --architecture resnet (`phasecli docs resnet`) rows are
    scaled to a first-layer variance --q0, there is no fixed point: phase and the theory
    columns are empty (NaN); residual_scale and layer_norm are the last columns.

    \b
    Examples:
      phasecli kappa -a erf --sw2 1.5 --sb2 0.05 --depth 1,10,100,1000 -f csv
      phasecli kappa -a tanh --data digits --examples 50 --depth 1:60 --png kappa.png
      phasecli kappa -a erf --sw2 0.5:4:20 --sb2 0.1 --depth 1:100 --png fig3.png
      phasecli kappa -a erf --sw2 0.8 --sb2 0.1 --dropout 0.8 --depth 1:200
      phasecli kappa -a erf --sw2 2.5 --sb2 0.05 --architecture cnn-p --examples 8 --depth 1,10,100
      phasecli kappa -a relu --sw2 2 --sb2 0 --architecture cnn-f --data digits --examples 50 --image-shape 8,8,1 --depth 1,10,50
      phasecli kappa -a erf --sw2 3 --sb2 0.05 --architecture cnn-f --examples 4 --normalize position --depth 10,50
      phasecli kappa -a relu --sw2 2 --sb2 0.1 --architecture resnet --layer-norm pre --residual-scale depth --depth 1,10,100
      phasecli kappa -a erf --sw2 0.8 --sb2 0.05 --examples 12 --depth 10,100,300 --columns depth,kappa,kappa_theory,kappa_limit
    """
    return _ntk_command(KAPPA_COLUMNS, activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec,
                        dropout, scheduler, out, "kappa", architectures=architectures, filter_size=filter_size,
                        image_shape=image_shape, residual_scale=residual_scale, layer_norm=layer_norm)


@cli.command()
@grid_options(default_sw2="1.5", default_sb2="0.05")
@data_options()
@click.option("--loss", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="Loss normalization: 1/2 sum (f - y)^2 (eta = 2/lambda_max) or 1/(2m) sum (eta = 2m/lambda_max).")
@architecture_options()
@sweep_options
@strict_option
@output_options(columns=LR_COLUMNS)
def lr(activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec, dropout, loss, architectures,
       filter_size, image_shape, residual_scale, layer_norm, scheduler, out):
    """Largest convergent learning rate eta_max = 2/lambda_max, and eta_catapult = 2 eta_max.

    Gradient descent on the linearized (infinite-width) network converges for
    eta < eta_max (lazy regime).  Above it a finite network enters the catapult regime
    (Lewkowycz et al.: the loss grows, then the kernel shrinks until it converges); in
    the two-scalar model of that regime training diverges above eta_catapult =
    4/lambda_max, while real networks diverge only at c/lambda_max with an
    architecture- and data-dependent c > 2 (measured at width 512: 3.5-4 for one hidden
    erf layer, 4-5 for depth-3 erf, 9-12 for depth-3 relu; see `phasecli catapult` and
    `phasecli train`).  With --loss mean both are multiplied by m (as neural-tangents'
    max_learning_rate).  --png: both against depth with the catapult window between
    them; for a sweep, log10 eta_max over (swept variable, depth) beside that window at
    five of its values.

    \b
    Examples:
      phasecli lr -a erf --sw2 1.5 --sb2 0.05 --depth 5,10,20,40 -f csv
      phasecli lr -a tanh --data digits --examples 100 --loss mean --depth 10
      phasecli lr -a erf --sw2 0.5:4:20 --sb2 0.1 --depth 1:60 --png eta.png
      phasecli lr -a erf --sw2 1.5 --sb2 0.05 --architecture cnn-p --filter 5 --depth 1:20
    """
    return _ntk_command(LR_COLUMNS, activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec,
                        dropout, scheduler, out, "lr", loss, architectures=architectures, filter_size=filter_size,
                        image_shape=image_shape, residual_scale=residual_scale, layer_norm=layer_norm)


@cli.command()
@click.option("--train", "train_path", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              shell_complete=complete_words(BUNDLED_DATA, files=True),
              help="Training set: CSV (one example per row, integer label in --label-column; a header line "
                   "is read), .npy, or .npz (arrays x and y); 'digits' for the bundled handwritten-digits split.")
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False),
              shell_complete=complete_words(BUNDLED_DATA, files=True),
              help="Test file in the same layout; 'digits' for the bundled split.")
@label_column_option
@grid_options(default_sw2="3", default_sb2="0.1")
@normalize_option()
@depth_option("1,2,5,10,20,30,50,100")
@dropout_option
@click.option("--time", "train_time", type=NON_NEGATIVE, default=None,
              help="Training time t of gradient flow (mu_t); default: t = infinity.")
@click.option("--eta", type=POSITIVE, default=None,
              help="Learning rate for --time [default: eta_max = 2/lambda_max at each depth]; needs --time.")
@click.option("--ridge", type=NON_NEGATIVE, default=0.0, show_default=True,
              help="Add SIGMA * Id to Theta_train,train (regularizer for the ordered phase).")
@click.option("--nngp", is_flag=True, help="Use the NNGP (Bayesian posterior mean) instead of the NTK predictor.")
@click.option("--batch-size", type=click.IntRange(1), default=defaults.BATCH_SIZE, show_default=True,
              help="Test rows per pass of the recursion (bounds memory).")
@examples_option("Examples used: the first N rows of --train (convolutional runs grow like N^2) [default: all].")
@click.option("--test-examples", type=click.IntRange(1), default=None, metavar="N",
              help="Test examples used: the first N rows of --test [default: all].")
@click.option("--balance", is_flag=True,
              help="Train on the same number of rows of every class: the first N/k of each class of --train in file "
                   "order with --examples N (k classes), else as many as the smallest class has.")
@architecture_options(compare=True)
@sweep_options
@strict_option
@output_options(columns=GENERALIZE_COLUMNS)
def generalize(train_path, test_path, label_column, activation, sw2, sb2, q0, slope, normalize, depth_spec, dropout,
               train_time, eta, ridge, nngp, batch_size, examples, test_examples, balance, architectures, filter_size,
               image_shape, residual_scale, layer_norm, scheduler, out):
    """Test accuracy of infinite-width networks trained on your data (NTK ensemble and mean predictor).

    Networks trained by gradient flow from random initialization (t = infinity unless --time) have
    Gaussian test outputs: mean mu(X_test) = Theta_test,train Theta_train,train^-1 Y_train (targets
    one-hot minus 1/k) and a variance that includes the random initial function.  ensemble_accuracy
    is the expected accuracy of such networks (exact, no sampling); test_accuracy the accuracy of
    the argmax of mu alone.  In the deep chaotic phase mu's input-dependent part decays like
    (chi_c/chi_1)^l while the variance stays: ensemble accuracy falls to chance after a few xi_star,
    though kappa -> 1; delta (the residual predictor) measures what is left.  In the ordered phase
    kappa explodes (ill_conditioned, see --ridge).

    \b
    Examples:
      phasecli generalize --train digits --test digits --examples 200 --test-examples 200 -a erf --sw2 3 \\
          --sb2 0.1
      phasecli generalize --train digits --test digits --examples 200 --balance --test-examples 100 \\
          -a erf --sw2 3 --sb2 0.1 --depth 1,5,10,20,40
      phasecli generalize --train digits --test digits --examples 200 --test-examples 200 --depth 1:50 \\
          --time 100
      phasecli generalize --train digits --test digits --examples 100 --test-examples 100 -a erf \\
          --sw2 0.5:4:8 --sb2 0.1 --depth 1:60:6 --png accuracy.png
      phasecli generalize --train digits --test digits --examples 100 --test-examples 100 -a erf \\
          --architecture cnn-f --image-shape 8,8,1 --depth 1,10,30
      phasecli generalize --train digits --test digits --examples 20 --test-examples 20 -a relu \\
          --sw2 0.5:3:4 --sb2 0.1 --architecture cnn-f,cnn-p --depth 1:9:4 --png cnn.png

    With --architecture cnn-f,cnn-p and --png over (sw2, depth) the figure shows both
    accuracies and their difference (Xiao et al. Figure 3, bottom).
    """
    from phasecli.ntk import predictor

    out.check(GENERALIZE_COLUMNS)
    if eta is not None and train_time is None:
        raise click.BadParameter("is the learning rate of finite-time training and needs --time",
                                 param_hint="'--eta'")
    depths = parse_depths(depth_spec)
    compare = len(architectures) > 1
    if out.png:
        shape = dict(n_sw2=len(sw2), n_sb2=len(sb2), n_depth=len(depths))
        layout = check_figure("generalize-compare" if compare else "generalize", **shape,
                              **({"n_arch": len(architectures)} if compare else {}))
    else:
        layout = None
    net = network(architectures, filter_size, image_shape, DIGITS_IMAGE if train_path == "digits" else None,
                  residual_scale, layer_norm)
    X_train, y_train, X_test, y_test = load_train_test(train_path, test_path, label_column, examples, test_examples,
                                                       balance)
    advice = ("use fewer rows (--examples N, --test-examples N: the first rows of --train / --test), a smaller "
              "--depth maximum or fewer points" + (" (cnn-f costs 1/d of cnn-p)" if "cnn-p" in architectures else ""))
    with input_errors(advice):
        sweep = predictor.generalize_sweep(
            activation, sw2, sb2, X_train, y_train, X_test, y_test, depths, architectures=architectures,
            slope=slope, normalize=normalize, q0=q0, dropout=dropout, time=train_time, eta=eta, ridge=ridge,
            nngp=nngp, batch_size=batch_size, scheduler=scheduler, labels=("--train", "--test"), **net)
    results = []

    cnn_note(activation, sweep.works or (), scheduler)
    bar = _bar(sweep, f"{activation} predictor", f"{activation} {','.join(architectures)} predictor")

    def chunks():
        with input_errors(X="--train", X_train="--train", X_test="--test"), bar as advance:
            for r in sweep:
                results.append(r)
                yield r.table(GENERALIZE_COLUMNS)
                advance()

    out.emit(GENERALIZE_COLUMNS, chunks())
    warn_unbalanced(y_train)  # after the rows: a refused run (planning or bad labels) prints only its error
    if out.png:
        render("cnn:comparison_figure" if compare else "generalize_figure", out.png, results, layout=layout,
               time=train_time,
               scales=None if "resnet" in architectures else scale_curves(activation, sw2, sb2, q0, slope, layout),
               sizes=(X_train.shape[0], X_test.shape[0]))
    ill = sum(int(r.ill_conditioned.sum()) for r in results)
    if ill:
        warn(f"{ill} rows have kappa > 1e10: the solve loses that many digits (ill_conditioned=true); "
             "consider --ridge")
    failed = [(r, s) for r in results for s in r.status if s != "ok"]
    if not failed:
        return 0
    r, status = failed[0]
    return partial_failure(f"{len(failed)} rows have no prediction (first: sw2={r.sw2:g}, sb2={r.sb2:g}: {status})",
                           len(failed), sum(len(r.status) for r in results))
