"""Commands for CI scripts: check (the theory's verdict on an initialization, as an exit status)
and init (a recommended critical initialization, also as shell assignments)."""

from __future__ import annotations

import math
import sys

import click

from phasecli import defaults
from phasecli.cli import cli, columns
from phasecli.cli.errors import input_errors, warn
from phasecli.cli.inputs import explicit, load_inputs
from phasecli.cli.options import (GRID, GRID_GRAMMAR, POSITIVE, WEIGHT_LAWS, FiniteFloat, activation_option,
                                  complete_words, data_options, depth_option, grid_options, output_options,
                                  q0_option, simulated_architecture_options, slope_option, sweep_options,
                                  trainable_option, weights_callback)
from phasecli.cli.progress import Progress
from phasecli.cli.writing import Output, echo_value, writing

CHECK_COLUMNS = columns.CHECK
INIT_COLUMNS = columns.INIT
READABLE_ROWS = 12  # up to this many rows a terminal gets one verdict block per row, beyond a compact table
COMPACT_COLUMNS = ("sw2", "sb2", "depth", "verdict", "reason")
_DATA_NAMES = ("data", "examples", "dim", "seed", "normalize", "no_normalize")


def _multiple_option(name, default, help_text):
    return click.option(name, type=FiniteFloat(0.0, lo_open=True), default=default, show_default=True,
                        help=help_text)


@cli.command()
@grid_options(default_sw2="critical", default_sb2="0.05", sw2_critical=True)
@depth_option(None, "Depths L (hidden layers) to check")
@trainable_option
@_multiple_option("--conditioning-multiple", defaults.CONDITIONING_MULTIPLE,
                  "Ordered side: fail when depth > this multiple of xi_1 = -1/ln chi_1 (the NTK's kappa grows "
                  "like exp(L/xi_1); Xiao et al.).")
@_multiple_option("--generalization-multiple", defaults.GENERALIZATION_MULTIPLE,
                  "Chaotic side: fail when depth > this multiple of xi_star = -1/(ln chi_c - ln chi_1) (trained "
                  "networks lose their test accuracy over a few xi_star; 2 measured on balanced digits, see the "
                  "docs).")
@click.option("--lr", "eta", type=POSITIVE, default=None, metavar="ETA",
              help="Also check the learning rate: ETA <= eta_max = 2/lambda_max of the NTK at each depth, on "
                   "--data (or --examples synthetic inputs), as `phasecli lr`.")
@click.option("--loss", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="Loss convention of --lr: 1/2 sum (f - y)^2 (eta_max = 2/lambda_max) or 1/(2m) sum (2m/lambda_max).")
@data_options(depth=None, dropout=False)
@simulated_architecture_options
@sweep_options
@output_options(columns=CHECK_COLUMNS, png=False, value_default="verdict")
def check(activation, sw2, sb2, q0, slope, depth_spec, trainable_multiple, conditioning_multiple, generalization_multiple,
          eta, loss, data, examples, dim, seed, normalize, architecture, residual_scale, layer_norm, scheduler, out):
    """The theory's verdict on an initialization: pass or fail, and why (exit status 1 on any fail).

    Criteria, in order (the first failed one is the `reason`): the signal propagates (q*
    finite, and non-zero except at a critical point); trainability: depth <= 6 xi_c
    (Schoenholz et al.); ordered side: depth <= 6 xi_1 (NTK conditioning); chaotic side:
    depth <= 2 xi_star (generalization, Xiao et al.); with --lr: ETA <= eta_max.  Each is
    reported with its value and limit (inf: no limit on this side); an undefined (NaN)
    limit never passes.  One row per (sw2, sb2, depth); --sw2 critical (the default)
    checks the root-solved critical sw2 at each sb2.  Exit status 0 when every row passes,
    1 when any fails, 2 for bad input.  A readable verdict on a terminal, CSV in a pipe.

    --architecture resnet (give --sw2: no critical point): residual networks have no
    fixed point, so trainability, conditioning and generalization (depth scales of the
    fixed point) are n/a; the criteria are the signal (q^L of the residual stream finite)
    and, with --lr, the learning rate on the resnet NTK (`phasecli docs resnet`).

    Guide: `phasecli docs gate`.

    \b
    Examples:
      phasecli check -a tanh --sb2 0.05 --depth 200             # critical init: pass
      phasecli check -a tanh --sw2 4 --sb2 0.05 --depth 200     # fail: not trainable
      phasecli check -a relu --sw2 2 --sb2 0 --depth 100 --value   # prints pass
      phasecli check -a erf --sw2 1.5 --sb2 0.05 --depth 10 --lr 0.1 --loss mean --data digits --examples 100
      phasecli check --sw2 1:3:5 --sb2 0.05 --depth 20,50 -f csv --columns sw2,depth,verdict,reason
      phasecli check -a relu --sw2 2 --sb2 0.1 --architecture resnet --layer-norm pre --depth 50 --lr 0.01
    """
    from phasecli import gate

    out.check(CHECK_COLUMNS)
    if architecture != "resnet":
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
    elif sw2 == "critical":
        raise click.BadParameter("residual networks have no fixed point and no critical sw2: give --sw2 "
                                 "(e.g. --sw2 2)", param_hint="'--sw2'")
    with input_errors(lr="--lr"):
        from phasecli import validate

        depth_list = validate.depths(depth_spec)
    X = None
    if eta is None:
        given = [f"--{n.replace('_', '-')}" for n in _DATA_NAMES + ("loss",) if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)} apply only to the learning-rate criterion: add --lr ETA",
                                     param_hint="'--lr'")
    else:
        X = load_inputs(data, examples, dim, seed)
    with input_errors(lr="--lr"):
        sweep = gate.check_sweep(activation, sw2, sb2, depth_list, q0=q0, slope=slope,
                                 trainable_multiple=trainable_multiple, conditioning_multiple=conditioning_multiple,
                                 generalization_multiple=generalization_multiple, eta=eta, X=X, loss=loss,
                                 normalize=normalize, scheduler=scheduler, architecture=architecture,
                                 residual_scale=residual_scale, layer_norm=layer_norm)
    tally = {"rows": 0, "failed": 0, "first": None}
    kept = []
    readable = out.fmt == "table" and not out.columns and not out.value
    blocks = readable and len(sweep) * len(depth_list) <= READABLE_ROWS

    def chunks():
        with input_errors(lr="--lr"), Progress(len(sweep), f"{activation} check", "points") as advance:
            for r in sweep:
                bad = ~r.passed
                if bad.any() and tally["first"] is None:
                    k = int(bad.argmax())
                    tally["first"] = f"sw2={r.sw2[k]:.6g} sb2={r.sb2[k]:g} depth {r.depth[k]}: {r.reason[k]}"
                tally["rows"] += r.depth.size
                tally["failed"] += int(bad.sum())
                if blocks:
                    kept.append(r)
                yield r.table(CHECK_COLUMNS)
                advance()

    if blocks:
        for _ in chunks():
            pass
        _readable(gate.concat(kept), trainable_multiple, conditioning_multiple, generalization_multiple)
    elif readable:  # many rows on a terminal: the compact columns, streamed
        compact = Output(fmt="table", png=None, columns=COMPACT_COLUMNS, value=None)
        compact.emit(CHECK_COLUMNS, chunks())
    else:
        out.emit(CHECK_COLUMNS, chunks())
    if readable:
        with writing():
            click.echo(f"{tally['rows'] - tally['failed']} of {tally['rows']} pass"
                       + (" (exit status 1)" if tally["failed"] else ""))
    if tally["failed"]:
        if not readable:
            click.echo(f"phasecli check: {tally['failed']} of {tally['rows']} fail (first: {activation} "
                       f"{tally['first']})", err=True)
        return 1
    return 0


def _fmt(x) -> str:
    return f"{x:.6g}" if isinstance(x, float) and math.isfinite(x) else str(x)


def _criteria_rows(v, k, multiples):
    """(criterion, value, limit, result) for row k of Verdicts ``v``."""
    m_train, m_cond, m_gen = multiples
    depth = f"depth {v.depth[k]}"

    def limit(value, text, none):
        return f"<= {_fmt(float(value))} = {text}" if not math.isinf(value) else none

    if v.architecture[k] == "resnet":
        none = "not defined (residual networks have no fixed point)"
        return [
            ("signal", f"q^L of the residual stream at {depth}", "finite and > 0", v.signal[k]),
            ("trainability", depth, none, v.trainability[k]),
            ("conditioning", depth, none, v.conditioning[k]),
            ("generalization", depth, none, v.generalization[k]),
            ("learning rate", "not checked (--lr)" if math.isnan(v.eta[k]) else f"eta = {_fmt(float(v.eta[k]))}",
             "" if math.isnan(v.eta[k]) else f"<= eta_max = {_fmt(float(v.eta_max[k]))}", v.learning_rate[k]),
        ]
    train_scale = "xi_grad" if v.fixed_point[k] == "zero" else "xi_c"
    return [
        ("signal", f"q* = {_fmt(float(v.q_star[k]))} ({v.fixed_point[k]})", "finite and > 0", v.signal[k]),
        ("trainability", depth, limit(v.max_trainable_depth[k], f"{m_train:g} {train_scale}", "none (xi_c = inf)"),
         v.trainability[k]),
        ("conditioning", depth, limit(v.max_conditioned_depth[k], f"{m_cond:g} xi_1",
                                      "none (chaotic side: kappa -> 1)"), v.conditioning[k]),
        ("generalization", depth, limit(v.max_generalizing_depth[k], f"{m_gen:g} xi_star",
                                        "none (ordered side)"), v.generalization[k]),
        ("learning rate", "not checked (--lr)" if math.isnan(v.eta[k]) else f"eta = {_fmt(float(v.eta[k]))}",
         "" if math.isnan(v.eta[k]) else f"<= eta_max = {_fmt(float(v.eta_max[k]))}", v.learning_rate[k]),
    ]


def _readable(v, *multiples):
    """The terminal's verdict: one block per row (criterion, value, limit, result) and the reason."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, soft_wrap=False)
    style = {"pass": "green", "fail": "bold red", "n/a": "dim"}
    with writing():
        for k in range(v.depth.size):
            head = "PASS" if v.verdict[k] == "pass" else "FAIL"
            title = (f"[{style[v.verdict[k]]}]{head}[/] {v.activation} sw2={_fmt(float(v.sw2[k]))} "
                     f"sb2={_fmt(float(v.sb2[k]))} depth {v.depth[k]} ({v.phase[k]}, "
                     f"chi_1 = {_fmt(float(v.chi_1[k]))})")
            if v.architecture[k] == "resnet":
                title = (f"[{style[v.verdict[k]]}]{head}[/] {v.activation} sw2={_fmt(float(v.sw2[k]))} "
                         f"sb2={_fmt(float(v.sb2[k]))} depth {v.depth[k]} (resnet, alpha = "
                         f"{_fmt(float(v.residual_scale[k]))}, LayerNorm {v.layer_norm[k]})")
            table = Table(title=title, title_justify="left", header_style="bold")
            for name in ("criterion", "value", "limit", "result"):
                table.add_column(name)
            for row in _criteria_rows(v, k, multiples):
                table.add_row(*row[:3], f"[{style[row[3]]}]{row[3]}[/]")
            console.print(table)
            if v.reason[k]:
                console.print(f"  reason: {v.reason[k]}")


@cli.command()
@activation_option
@depth_option(None, "Depths L (hidden layers) the initialization is for, a row each")
@click.option("--sb2", type=GRID, default=None, help=f"Bias VARIANCE sigma_b^2 (not the std): {GRID_GRAMMAR}, a row "
                                                    "each [default: by the rule in the description].")
@click.option("--weights", default="gaussian", show_default=True, callback=weights_callback, metavar="WEIGHTS",
              shell_complete=complete_words(WEIGHT_LAWS, comma_list=True),
              help="Weight laws of the training script (gaussian, orthogonal, or a comma list: a row each): set "
                   "var_s2 (and the linear baseline of the default sb2).")
@click.option("--fan-in", type=click.IntRange(1), default=None,
              help="Layer width N: also print w_std_standard = sqrt(sw2 / N).")
@q0_option
@slope_option
@trainable_option
@click.option("--grad-growth", type=FiniteFloat(1.0, lo_open=True), default=defaults.GRAD_GROWTH, show_default=True,
              metavar="G", help="resnet: the gradient growth prod chi_l over the L blocks (mean squared singular "
                                "value of dh^L/dh^0) that sw2 is solved for; > 1.")
@simulated_architecture_options
@output_options(columns=INIT_COLUMNS, png=False, value_default="sw2", extra_formats=("shell",))
def init(activation, depth_spec, sb2, weights, fan_in, q0, slope, trainable_multiple, grad_growth, architecture,
         residual_scale, layer_norm, out):
    """A recommended initialization for depth L: sw2 on the critical line (chi_1 = 1) for sb2.

    sw2 is root-solved (as `phasecli critical`); relu: He's sw2 = 2, sb2 = 0.  Printed with
    q*, the depth scales, the maximum trainable depth and the Jacobian spectrum's mean_s2,
    var_s2 at depth L.  w_std = sqrt(sw2), b_std = sqrt(sb2): the NTK parameterization
    (z = w_std / sqrt(N) W x + b_std b, W, b ~ N(0, 1)); in the standard
    parameterization initialize W ~ N(0, sw2 / fan_in), i.e. std sqrt(sw2 / fan_in)
    (--fan-in prints it), and b ~ N(0, sb2).  Without --sb2 (sb2_rule): the positively
    homogeneous activations (relu, leaky_relu, abs, linear) take sb2 = 0 ('he'); others the largest sb2 in [1e-12, 1] whose Jacobian
    spectrum at depth L has var_s2 at most 1 above the linear network's with the same
    weights ('isometry'; 'isometry-best' when no sb2 does).  No critical point
    (softplus; silu, gelu at small sb2; relu with sb2 > 0): exit status 1.  --format shell prints
    SW2=, SB2=, W_STD=, B_STD= lines (full precision) for eval in bash, zsh or sh.

    --architecture resnet: there is no critical line; sw2 is root-solved so that the
    gradients grow by --grad-growth (default 2) across the L blocks (mean_s2 of
    dh^L/dh^0 = prod chi_l), sb2 = 0 unless given; the fixed-point columns are NaN
    (`phasecli docs resnet`).

    Guide: `phasecli docs gate`.

    \b
    Examples:
      phasecli init -a tanh --sb2 0.05 --depth 100
      eval "$(phasecli init -a tanh --depth 100 --format shell)"; echo "$SW2 $SB2"
      phasecli init -a relu --depth 50 --fan-in 512 -f json
      phasecli init -a tanh --depth 10,100,1000 --weights gaussian,orthogonal -f csv
      SW2=$(phasecli init -a erf --depth 200 --weights orthogonal --value)
      phasecli init -a relu --depth 10,100 --architecture resnet --layer-norm pre -f csv
    """
    from phasecli import gate, validate

    resnet = architecture == "resnet"
    if resnet:
        if explicit("trainable_multiple"):
            raise click.BadParameter("a residual network has no xi_c, hence no maximum trainable depth: "
                                     "--grad-growth sets its sw2", param_hint="'--trainable-multiple'")
    else:
        given = [f"--{n.replace('_', '-')}" for n in ("residual_scale", "layer_norm", "grad_growth") if explicit(n)]
        if given:
            raise click.BadParameter(f"{', '.join(given)}: only for residual networks (--architecture resnet)",
                                     param_hint="'--architecture'")
    if out.fmt == "shell" and (out.columns or out.value):
        raise click.BadParameter("--format shell prints SW2, SB2, W_STD, B_STD: --columns and --value do not apply",
                                 param_hint="'--format'")
    if out.fmt != "shell":
        out.check(INIT_COLUMNS)
    with input_errors():
        depths = validate.depths(depth_spec).tolist()
    n_rows = len(depths) * len(sb2 or [None]) * len(weights)
    if out.fmt == "shell" and n_rows > 1:
        raise click.BadParameter(f"--format shell sets one SW2 and SB2; got {n_rows} rows (one --depth, --sb2 "
                                 "and --weights, or another format)", param_hint="'--format'")
    network = (dict(architecture="resnet", residual_scale=residual_scale, layer_norm=layer_norm,
                    grad_growth=grad_growth) if resnet else dict(trainable_multiple=trainable_multiple))
    recs = gate.recommend_all(activation, depths, sb2=sb2, weights=weights, q0=q0, slope=slope, fan_in=fan_in,
                              **network)
    warned = set()

    def solved():  # each row as it is solved (a long --depth list streams, with a progress bar on a terminal)
        with input_errors(), Progress(n_rows, f"{activation} init", "rows") as advance:
            for rec in recs:
                if rec.sb2_rule not in warned:
                    _warn_rule(rec)
                    warned.add(rec.sb2_rule)
                yield rec
                advance()

    rows = solved()
    if out.fmt == "shell":
        echo_value(next(rows).shell().rstrip("\n"))
    elif out.fmt == "table" and not out.columns and not out.value and n_rows == 1:
        _init_table(next(rows))
    else:
        out.emit(INIT_COLUMNS, (rec.table(INIT_COLUMNS) for rec in rows))
    return 0


def _warn_rule(rec):
    """One line on stderr for a default sb2 that missed its target (once per rule and command)."""
    if rec.sb2_rule == "fixed":
        warn(f"the dynamical-isometry analysis is not available: sb2 = {rec.sb2:g} (a fixed default); "
             "give --sb2 to choose")
    elif rec.sb2_rule == "isometry-best":
        warn(f"no sb2 in [1e-12, 1] keeps var_s2 within 1 of the linear network's at depth {rec.depth}: took "
             f"the sb2 with the smallest excess (var_s2 = {rec.var_s2:.4g})")


_INIT_MEANING = {
    "sw2": "weight VARIANCE sigma_w^2 (critical: chi_1 = 1)",
    "sb2": "bias VARIANCE sigma_b^2",
    "sb2_rule": "how sb2 was chosen (given, he, isometry, isometry-best, fixed, zero)",
    "sw2_rule": "how sw2 was chosen (critical; grad_growth: resnet, mean_s2 = the target)",
    "residual_scale": "alpha, the residual branch's scale",
    "layer_norm": "LayerNorm before each block's activation (pre) or none",
    "w_std": "sqrt(sw2): weight std, NTK parameterization",
    "b_std": "sqrt(sb2): bias std",
    "w_std_standard": "sqrt(sw2 / fan_in): weight std, standard parameterization",
    "q_star": "fixed point of the pre-activation variance",
    "xi_q": "depth scale of q^l -> q*",
    "xi_c": "depth scale of correlations (diverges on the critical line)",
    "max_trainable_depth": "trainable multiple * xi_c",
    "mean_s2": "mean squared singular value of the Jacobian at depth L",
    "var_s2": "its variance (dynamical isometry: small)",
}


_FULL_PRECISION = ("sw2", "sb2", "w_std", "b_std", "w_std_standard")


def _init_table(rec):
    from rich.console import Console
    from rich.table import Table

    network = "residual network" if rec.architecture == "resnet" else "network"
    table = Table(title=f"{rec.activation} {network} initialization for depth {rec.depth} ({rec.weights} weights)",
                  title_justify="left", header_style="bold")
    for name in ("name", "value", "meaning"):
        table.add_column(name)
    row = rec.table(INIT_COLUMNS)
    skip = {"activation", "depth", "weights", "architecture"}
    if rec.architecture == "resnet":  # no fixed point: its columns are NaN
        skip |= {"q_star", "chi_1", "xi_q", "xi_c", "max_trainable_depth", "var_s2"}
    else:
        skip |= {"sw2_rule", "residual_scale", "layer_norm"}
    for name in INIT_COLUMNS:
        value = row[name][0]
        if name in skip or (name in ("fan_in", "w_std_standard") and not rec.fan_in):
            continue
        text = repr(value) if name in _FULL_PRECISION else (_fmt(value) if isinstance(value, float) else str(value))
        table.add_row(name, text, _INIT_MEANING.get(name, ""))
    with writing():
        Console(file=sys.stdout, soft_wrap=False).print(table)
