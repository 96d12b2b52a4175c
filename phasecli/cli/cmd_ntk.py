"""Commands on a data set: kappa, lr (NTK spectra) and generalize (the mean predictor)."""

from __future__ import annotations

import contextlib
import math

import click

from phasecli.cli import columns
from phasecli.cli import cli
from phasecli.cli.errors import MAX_LOCAL_SECONDS, duration_text, input_errors, partial_failure, warn
from phasecli.cli.inputs import explicit, first_rows, load_inputs, load_labelled
from phasecli.cli.options import (BUNDLED_DATA, NON_NEGATIVE, POSITIVE, architecture_options,
                                  complete_words, data_options, depth_option, dropout_option, examples_option,
                                  grid_options, label_column_option, output_options, strict_option, sweep_options)
from phasecli.cli.progress import check_figure, Progress, render

KAPPA_COLUMNS = columns.KAPPA
LR_COLUMNS = columns.LR
GENERALIZE_COLUMNS = columns.GENERALIZE
SYNTHETIC_IMAGE = (6, 6, 3)  # the paper's synthetic images (Xiao et al. Figure 1)
DIGITS_IMAGE = (8, 8, 1)  # the bundled digits


def network(architectures, filter_size, image_shape, default_shape):
    """Keyword arguments of the network for the numeric core; usage errors for CNN options without a CNN."""
    cnn = any(a != "fc" for a in architectures)
    if not cnn:
        given = [f"--{n.replace('_', '-')}" for n in ("filter_size", "image_shape") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given).replace('filter-size', 'filter')}: only for convolutional "
                                     "networks (--architecture cnn-f or cnn-p)", param_hint="'--architecture'")
        return {}
    shape = image_shape or default_shape
    if shape is None:
        raise click.BadParameter("give the layout of the image rows (H,W,C) for a convolutional network",
                                 param_hint="'--image-shape'")
    return {"image_shape": shape, "filter_size": filter_size}


def check_images(net, *arrays):
    """Every (name, rows) holds images of net's shape: exit 2 before any work otherwise."""
    if not net:
        return
    from phasecli.recursion import cnn

    with input_errors():
        for name, rows in arrays:
            cnn.check_image(net["image_shape"], net["filter_size"], rows.shape[1], what=name)


CNN_MAX_BYTES = 4 << 30  # a convolutional run estimated beyond this memory (one point) is refused (docs: cnn.md)
CNN_MAX_SECONDS = MAX_LOCAL_SECONDS  # ... or beyond this time (all points, computed here; not with --scheduler)


def _size(n):
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


_duration = duration_text
FC_BYTES_PER_PAIR = 48  # measured peak: ~6 doubles per entry of the m x m kernels (m = 1000 and 3000, relu)


def fc_memory_check(m: int, option: str) -> None:
    """A usage error (exit 2, before any work) when m inputs' kernels would exceed CNN_MAX_BYTES."""
    need = FC_BYTES_PER_PAIR * float(m) * m
    if need > CNN_MAX_BYTES:
        raise click.BadParameter(f"{m:,} inputs need an estimated {_size(need)} of memory (m x m kernels, "
                                 f"~{FC_BYTES_PER_PAIR} bytes per pair; limit {_size(CNN_MAX_BYTES)}): use fewer "
                                 "inputs", param_hint=f"'{option}'")


def cnn_plan(activation, runs, how, scheduler=None):
    """Entry-layers of each CNN run [(architecture, m, m_test, depths, image_shape), ...] (``cnn.workload``);
    a usage error (exit 2, one line, before any work) when a run's estimated memory exceeds CNN_MAX_BYTES or the
    runs' estimated time CNN_MAX_SECONDS; ``how`` says what reduces it."""
    from phasecli.recursion import cnn

    works, peak = [], 0
    for architecture, m, m_test, depths, shape in runs:
        work, mem = cnn.workload(m, m_test, shape, architecture, depths)
        works.append(work)
        peak = max(peak, mem)
    secs = cnn.seconds(activation, sum(works))
    if peak > CNN_MAX_BYTES or (scheduler is None and secs > CNN_MAX_SECONDS):
        raise click.UsageError(f"this convolutional run needs an estimated {_size(peak)} of memory and "
                               f"~{_duration(secs)} on 2 cores ({sum(works):.2g} entry-layers; limits "
                               f"{_size(CNN_MAX_BYTES)}, {_duration(CNN_MAX_SECONDS)}): {how}")
    return works


@contextlib.contextmanager
def cnn_progress(works, label):
    """A Progress bar over the entry-layers of CNN points (``works``: one count per point, in order); yields
    ``point_done()`` to call as each point finishes (the bar then also moves for points run elsewhere)."""
    from phasecli.recursion import cnn

    unit = 10 ** 6
    state = {"raw": 0, "shown": 0, "point": 0}
    with Progress(sum(works) // unit, label, "M entry-layers") as advance:
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


def parse_depths(spec):
    from phasecli import validate

    with input_errors():
        return validate.depths(spec)


def _points(sw2, sb2):
    return [{"sw2": a, "sb2": b} for a in sw2 for b in sb2]


def _spectra(activation, sw2, sb2, q0, slope, X, normalize, depths, dropout, scheduler, net=None, works=None):
    """ntk_spectra at every (sw2, sb2), sw2 outer, yielded as each finishes (progress on a terminal)."""
    from phasecli import ntk, sweep

    points = _points(sw2, sb2)
    shared = dict(activation=activation, X=X, depths=depths, slope=slope, normalize=normalize, q0=q0,
                  dropout=dropout, **(net or {}))
    if works is not None:
        bar = cnn_progress(works, f"{activation} {net['architecture']} NTK")
    else:
        bar = Progress(len(points), f"{activation} NTK", "points")
    with input_errors(), bar as advance:
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
    return partial_failure(f"{len(bad)} of {len(results)} points have no kernel (first: sw2={bad[0].sw2:g}, "
                           f"sb2={bad[0].sb2:g}: {bad[0].message})" if bad else "", len(bad), len(results))


def _ntk_command(columns, activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec, dropout,
                 scheduler, out, kind, loss="sum", architectures=("fc",), filter_size=3, image_shape=None):
    out.check(columns)
    depths = parse_depths(depth_spec)
    if out.png and len(architectures) > 1:
        raise click.BadParameter(f"the figure draws one architecture; got {', '.join(architectures)} (write the "
                                 "rows without --png, or one --architecture)", param_hint="'--png'")
    layout = check_figure(kind, n_sw2=len(sw2), n_sb2=len(sb2), n_depth=len(depths)) if out.png else None
    cnn_net = network(architectures, filter_size, image_shape, SYNTHETIC_IMAGE if data is None else None)
    given = load_inputs(data, examples, dim, seed) if data is not None else None
    plans = []
    for architecture in architectures:
        net = dict(cnn_net, architecture=architecture) if architecture != "fc" else {}
        n_in = dim if not net or explicit("dim") else math.prod(net["image_shape"])
        X = given if given is not None else load_inputs(None, examples, n_in, seed)
        check_images(net, ("--data" if data is not None else "synthetic", X))
        works = None
        if not net:
            fc_memory_check(X.shape[0], "--examples" if data is None or examples else "--data")
        if net:
            runs = [(architecture, X.shape[0], 0, depths, net["image_shape"])] * len(_points(sw2, sb2))
            works = cnn_plan(activation, runs, "use fewer images (--examples N), a smaller --depth maximum or fewer "
                             "points", scheduler)
        plans.append((net, X, works))
    results = []

    def chunks():
        for net, X, works in plans:
            for r in _spectra(activation, sw2, sb2, q0, slope, X, normalize, depths, dropout, scheduler, net, works):
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
@data_options()
@architecture_options()
@sweep_options
@strict_option
@output_options(columns=KAPPA_COLUMNS)
def kappa(activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec, dropout, architectures,
          filter_size, image_shape, scheduler, out):
    """NTK and NNGP spectra on a data set at every depth: lambda_max, lambda_min, lambda_bulk, kappa.

    One pass of the depth recursion (`phasecli docs theory`) gives every depth asked.
    kappa_theory is the large-depth prediction of Xiao et al. (Table 1) for the point's
    phase: 1 chaotic, (m + 2)/2 critical (smooth activations; (m + 3)/3 when phi' jumps),
    m p* / (l chi_1^l) ordered (inf beyond the float64 range); with --architecture cnn-p
    (global average pooling over d = H W pixels) (d m + 2)/2 and (d m + 3)/3 critical.  resolved=false marks
    depths where float64 no longer resolves lambda_min (lambda_min and kappa are then
    NaN, never noise); status=singular where the kernel is exactly singular (identical
    or proportional inputs).

    \b
    Examples:
      phasecli kappa -a erf --sw2 1.5 --sb2 0.05 --depth 1,10,100,1000 -f csv
      phasecli kappa -a tanh --data inputs.csv --depth 1:60 --png kappa.png
      phasecli kappa -a erf --sw2 0.5:4:40 --sb2 0.1 --depth 1:100 --png fig3.png
      phasecli kappa -a erf --sw2 0.8 --sb2 0.1 --dropout 0.8 --depth 1:200
      phasecli kappa -a erf --sw2 2.5 --sb2 0.05 --architecture cnn-p --examples 12 --depth 1,10,100,1000
      phasecli kappa -a relu --sw2 2 --sb2 0 --architecture cnn-f --data images.csv --image-shape 8,8,1
    """
    return _ntk_command(KAPPA_COLUMNS, activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec,
                        dropout, scheduler, out, "kappa", architectures=architectures, filter_size=filter_size,
                        image_shape=image_shape)


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
       filter_size, image_shape, scheduler, out):
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
      phasecli lr -a tanh --data train.csv --loss mean --depth 10
      phasecli lr -a erf --sw2 0.5:4:40 --sb2 0.1 --depth 1:60 --png eta.png
      phasecli lr -a erf --sw2 1.5 --sb2 0.05 --architecture cnn-p --filter 5 --depth 1:20
    """
    return _ntk_command(LR_COLUMNS, activation, sw2, sb2, q0, slope, data, examples, dim, seed, normalize, depth_spec,
                        dropout, scheduler, out, "lr", loss, architectures=architectures, filter_size=filter_size,
                        image_shape=image_shape)


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
@click.option("--normalize/--no-normalize", default=True, show_default=True,
              help="Scale each input so q^1 = q* (the paper's setting), or use the data as given.")
@depth_option("1,2,5,10,20,30,50,100")
@dropout_option
@click.option("--time", "train_time", type=NON_NEGATIVE, default=None,
              help="Training time t of gradient flow (mu_t); default: t = infinity.")
@click.option("--eta", type=POSITIVE, default=None,
              help="Learning rate for --time [default: eta_max = 2/lambda_max at each depth]; needs --time.")
@click.option("--ridge", type=NON_NEGATIVE, default=0.0, show_default=True,
              help="Add SIGMA * Id to Theta_train,train (regularizer for the ordered phase).")
@click.option("--nngp", is_flag=True, help="Use the NNGP (Bayesian posterior mean) instead of the NTK predictor.")
@click.option("--batch-size", type=click.IntRange(1), default=2048, show_default=True,
              help="Test rows per pass of the recursion (bounds memory).")
@examples_option("Examples used: the first N rows of --train (convolutional runs grow like N^2) [default: all].")
@click.option("--test-examples", type=click.IntRange(1), default=None, metavar="N",
              help="Test examples used: the first N rows of --test [default: all].")
@architecture_options(compare=True)
@sweep_options
@strict_option
@output_options(columns=GENERALIZE_COLUMNS)
def generalize(train_path, test_path, label_column, activation, sw2, sb2, q0, slope, normalize, depth_spec, dropout,
               train_time, eta, ridge, nngp, batch_size, examples, test_examples, architectures, filter_size,
               image_shape, scheduler, out):
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
      phasecli generalize --train train.csv --test test.csv --architecture cnn-f --image-shape 8,8,1
      phasecli generalize --train digits --test digits -a relu --sw2 0.2:3:20 --sb2 0.1 \\
          --architecture cnn-f,cnn-p --depth 1:30:3 --png cnn.png

    With --architecture cnn-f,cnn-p and --png over (sw2, depth) the figure shows both
    accuracies and their difference (Xiao et al. Figure 3, bottom).
    """
    from phasecli import predictor as gen
    from phasecli import sweep

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
    net = network(architectures, filter_size, image_shape, DIGITS_IMAGE if train_path == "digits" else None)
    X_train, y_train = load_labelled(train_path, label_column, "train")
    X_test, y_test = load_labelled(test_path, label_column, "test")
    X_train, y_train = first_rows((X_train, y_train), examples, "--train")
    if test_examples is not None and test_examples > X_test.shape[0]:
        raise click.BadParameter(f"{test_examples} rows asked, --test has {X_test.shape[0]}",
                                 param_hint="'--test-examples'")
    X_test, y_test = X_test[:test_examples], y_test[:test_examples]
    check_images(net, ("--train", X_train), ("--test", X_test))
    points = [dict(p, architecture=a) for a in architectures for p in _points(sw2, sb2)]
    works = None
    if net:
        m, m_test = X_train.shape[0], X_test.shape[0]
        batches = [min(batch_size, m_test - start) for start in range(0, m_test, batch_size)] or [0]
        runs = [(p["architecture"], m, b, depths, net["image_shape"]) for p in points for b in batches
                if p["architecture"] != "fc"]
        works = iter(cnn_plan(activation, runs, "use fewer rows (--examples N, --test-examples N: the first rows of "
                              "--train / --test), a smaller --depth maximum or fewer points"
                              + (" (cnn-f costs 1/d of cnn-p)" if "cnn-p" in architectures else ""), scheduler))
        works = [0 if p["architecture"] == "fc" else sum(next(works) for _ in batches) for p in points]
    shared = dict(activation=activation, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                  depths=depths, slope=slope, normalize=normalize, q0=q0, dropout=dropout, time=train_time, eta=eta,
                  ridge=ridge, nngp=nngp, batch_size=batch_size, **net)
    results = []

    def chunks():
        bar = (Progress(len(points), f"{activation} predictor", "points") if works is None else
               cnn_progress(works, f"{activation} {','.join(architectures)} predictor"))
        with input_errors(X_train="--train", X_test="--test"), bar as advance:
            for r in sweep.run(gen.ntk_generalization, points, shared=shared, scheduler=scheduler):
                results.append(r)
                yield r.table(GENERALIZE_COLUMNS)
                advance()

    out.emit(GENERALIZE_COLUMNS, chunks())
    if out.png:
        render("cnn:comparison_figure" if compare else "generalize_figure", out.png, results, layout=layout,
               time=train_time, scales=scale_curves(activation, sw2, sb2, q0, slope, layout),
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
