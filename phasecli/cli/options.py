"""Every shared option, declared once: option types, the option groups and the words shell completion
offers for them (``complete_words``; ``phasecli.cli.completion`` writes the same words into the static
scripts).  An option name means the same thing in every command.

Heavy modules (numpy, numba, scipy, matplotlib) are never imported here at module level.
"""

from __future__ import annotations

import functools
import math

import click

from phasecli import defaults
from phasecli.activations import NAMES
from phasecli.grids import GridSpecError, list_items, parse_grid
from phasecli.cli.errors import SCHEDULER_ENV, SCHEDULER_FROM_ENV, STRICT
from phasecli.cli.output import FORMATS, default_format
from phasecli.cli.writing import Output

BUNDLED_DATA = ("digits",)  # data-set names --data / --train / --test take besides a file


WEIGHT_LAWS = ("gaussian", "orthogonal")  # as phasecli.jacobian_spectrum.WEIGHTS (not imported: it loads numba)


GRID_GRAMMAR = "NUMBER, LIST a,b,c, or START:STOP:NUM (NUM points, both ends included)"


DEPTH_GRAMMAR = ("list 1,2,5,10, inclusive range START:STOP[:STEP], or log:START:STOP:NUM (NUM log-spaced "
                 "depths, rounded; figures then use a log depth axis); mixes allowed; sorted and de-duplicated")


WIDTH_GRAMMAR = ("list 32,128,512, inclusive range START:STOP[:STEP], or log:START:STOP:NUM (NUM log-spaced "
                 "widths, rounded); mixes allowed; sorted and de-duplicated")


class FiniteFloat(click.ParamType):
    """A finite float (NaN and inf refused), optionally bounded."""

    name = "FLOAT"

    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value) and self._inside(value):
            return value
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if not self._inside(v):
            self.fail(f"{v:g} is not in {self._describe()}", param, ctx)
        return v

    def _inside(self, v):
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            return False
        return True

    def _describe(self):
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{left}{lo}, {hi}{right}"


POSITIVE = FiniteFloat(0.0, lo_open=True)


NON_NEGATIVE = FiniteFloat(0.0)


UNIT = FiniteFloat(0.0, 1.0)


class GridSpec(click.ParamType):
    """A grid of numbers (--sw2, --sb2, --lr-factor): NUMBER, LIST a,b,c or inclusive linspace
    START:STOP:NUM.  Variances (the default) are >= 0; ``positive`` values > 0.

    With ``allow_critical`` the word ``critical`` stands for the root-solved critical sw2
    at each sb2 (returned as the string 'critical')."""

    name = "GRID"

    def __init__(self, allow_critical: bool = False, positive: bool = False):
        self.allow_critical = allow_critical
        self.positive = positive

    def convert(self, value, param, ctx):
        if isinstance(value, list) or (self.allow_critical and value == "critical"):
            return value
        if self.allow_critical and str(value).strip().lower() == "critical":
            return "critical"
        name = param.name if param else "value"
        try:
            values = parse_grid(str(value), name, minimum=None if self.positive else 0.0)
        except GridSpecError as exc:
            self.fail(str(exc), param, ctx)
        bad = [v for v in values if not v > 0] if self.positive else []
        if bad:
            self.fail(f"{name} must be > 0, got {bad[0]:g}", param, ctx)
        return values


GRID = GridSpec()


class IntegerList(click.ParamType):
    """Positive integers (--width; --depth is parsed by the library): the depth grammar
    (``DEPTH_GRAMMAR``, ``validate.parse_depths``), sorted and de-duplicated."""

    def __init__(self, name: str, limit: int | None = None):
        self.name = name.upper() + "S"
        self.what = name
        self.limit = limit

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        from phasecli.validate import InputError, parse_depths

        try:
            if self.limit is None:
                return parse_depths(str(value), self.what)
            return parse_depths(str(value), self.what, limit=self.limit)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class ActivationType(click.ParamType):
    """A registered activation's name, or an expression in x (``phasecli.activations.expression``): parsed,
    analyzed and installed in this process's expression slot (before any kernel is loaded); the value is the
    registry name (an expression's normal form).  A refused expression is a usage error naming the token."""

    name = "activation"

    def get_metavar(self, param, ctx=None):
        return "NAME|EXPR"

    def convert(self, value, param, ctx):
        if value in NAMES:
            return value
        from phasecli.activations import install_expression
        from phasecli.errors import InputError

        text = str(value)
        if text.isidentifier() and text != "x":  # a bare word: a mistyped name rather than an expression
            self.fail(f"unknown activation {text!r}; choose from {', '.join(NAMES)}, or give an expression in x "
                      "(see `phasecli activations`)", param, ctx)
        try:
            return install_expression(text).name
        except InputError as exc:
            self.fail(str(exc), param, ctx)


ACTIVATION = ActivationType()


def activation_option(f):
    """--activation / -a: the nonlinearity, one of the registry's names or an expression in x."""
    return click.option("--activation", "-a", type=ACTIVATION, default=defaults.ACTIVATION, show_default=True,
                        shell_complete=complete_words(NAMES),
                        help="Nonlinearity phi: a name, or an expression in x such as 'x*tanh(softplus(x))' "
                             "(see `phasecli activations`).")(f)


def q0_option(f):
    """--q0: the inputs' variance q^1."""
    return click.option("--q0", type=POSITIVE, default=defaults.Q0, show_default=True,
                        help="Inputs' variance q^1; q* is the stable fixed point reached from it.")(f)


def slope_option(f):
    """--slope: the negative slope of leaky_relu."""
    return click.option("--slope", type=UNIT, default=defaults.SLOPE, show_default=True,
                        help="Negative slope of leaky_relu.")(f)


def grid_options(default_sw2: str, default_sb2: str, *, sw2_critical: bool = False):
    """--activation, --sw2, --sb2, --q0, --slope: declared once for every grid command."""
    sw2_help = f"Weight VARIANCE sigma_w^2 (not the std): {GRID_GRAMMAR}."
    if sw2_critical:
        sw2_help += " 'critical': the root-solved critical sw2 (chi_1 = 1) at each sb2."

    def decorate(f):
        options = [
            activation_option,
            click.option("--sw2", type=GridSpec(allow_critical=sw2_critical), default=default_sw2,
                         show_default=True, help=sw2_help),
            click.option("--sb2", type=GRID, default=default_sb2, show_default=True,
                         help=f"Bias VARIANCE sigma_b^2 (not the std): {GRID_GRAMMAR}."),
            q0_option,
            slope_option,
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def _scheduler_source(ctx, param, value):
    """Remember when the address came from $DASK_SCHEDULER_ADDRESS, so errors name that, not --scheduler."""
    from click.core import ParameterSource

    if value is not None and ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT:
        ctx.meta[SCHEDULER_FROM_ENV] = True
    return value


def sweep_options(f):
    """--scheduler: run the sweep's independent pieces on a Dask cluster (``pip install 'phasecli[dask]'``)."""
    return click.option("--scheduler", envvar=SCHEDULER_ENV, default=None, metavar="ADDRESS", callback=_scheduler_source,
                        help="Dask scheduler address (tcp://host:8786; default $DASK_SCHEDULER_ADDRESS): compute "
                             "the sweep's pieces on that cluster's workers, rows in the local order. Needs the "
                             "[dask] extra.")(f)


def strict_option(f):
    """--strict: exit status 1 when any row of a sweep has no value (``errors.partial_failure``)."""
    def remember(ctx, param, value):
        ctx.meta[STRICT] = value

    return click.option("--strict", is_flag=True, expose_value=False, callback=remember,
                        help="Exit status 1 when any row has no value. Default: such rows carry their status, a "
                             "warning counts them, and the exit status is 1 only when no row has a value.")(f)


def label_column_option(f):
    """--label-column: where the labels of a labelled file are (declared once for every command)."""
    return click.option("--label-column", default="-1", show_default=True, metavar="INDEX|NAME",
                        help="Column of the labelled file holding the integer class label: an index (negative "
                             "counts from the end) or a header name. A .npz archive holds them in its array y.")(f)


def depth_option(default: str | None, help_prefix: str = "Depths L (hidden layers)"):
    """--depth: one depth or many (DEPTHS), declared once; the command receives ``depth_spec`` (text)."""
    return click.option("--depth", "depth_spec", default=default, show_default=default is not None,
                        required=default is None, metavar="DEPTHS", help=f"{help_prefix}: {DEPTH_GRAMMAR}.")


def width_option(default: str, help_text: str):
    """--width: hidden widths N of finite networks (WIDTHS: one or many), declared once; each command's
    library checks its own bounds."""
    return click.option("--width", "widths", type=IntegerList("width", limit=2 ** 62), default=default,
                        show_default=True,
                        help=f"{help_text}: {WIDTH_GRAMMAR}.")


def weights_callback(ctx, param, value):
    """--weights: a weight law or a comma list of them (``isometry.weights_list``), as a tuple."""
    from phasecli.jacobian_spectrum import weights_list
    from phasecli.validate import InputError

    try:
        return weights_list(value)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None


SYNTHETIC_EXAMPLES = 20  # synthetic inputs when --examples is not given


def examples_option(help_text: str = "Examples used: the first N rows of --data, or N synthetic standard normal "
                                     f"inputs [default: all rows of --data, {SYNTHETIC_EXAMPLES} synthetic]."):
    """--examples N (the old --m is a hidden alias, see ``cli.HIDDEN_ALIASES``)."""
    return click.option("--examples", type=click.IntRange(2, 100_000), default=None, metavar="N", help=help_text)


def dropout_option(f):
    """--dropout RHO, declared once."""
    return click.option("--dropout", type=FiniteFloat(0.0, 1.0, lo_open=True), default=None, metavar="RHO",
                        help="Dropout with keep rate RHO in (0, 1] on the penultimate layer (Xiao et al. Fig. 1f)."
                        )(f)


NORMALIZATIONS = ("example", "position")  # as phasecli.validate.NORMALIZATIONS (the library's values)
NORMALIZE_HELP = ("Scale the inputs to the first-layer variance q* (the paper's setting): 'example' (also a bare "
                  "--normalize) scales each input so its mean over positions is q*; 'position' scales every pixel "
                  "of every image so each position's variance is q* (what Table 1 assumes for convolutional "
                  "networks; a fully connected input is one position, so there it equals 'example').")


class NormalizeOption(click.Option):
    """--normalize [example|position]; the Python API (``phasecli.kappa(normalize=...)``) also takes True
    ('example') and False (--no-normalize), as the library's ``normalize=``."""

    api_bool = {True: ["--normalize", "example"], False: ["--no-normalize"]}


def normalize_option(help_text: str = NORMALIZE_HELP):
    """--normalize [example|position] and --no-normalize, declared once: the command receives ``normalize``
    = 'example', 'position' or False (``phasecli.validate.normalize``'s values)."""

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, normalize, no_normalize, **kwargs):
            from click.core import ParameterSource

            given = click.get_current_context().get_parameter_source("normalize") == ParameterSource.COMMANDLINE
            if no_normalize and given:
                raise click.BadParameter("--no-normalize uses the data as given: it cannot be combined with "
                                         f"--normalize {normalize}", param_hint="'--no-normalize'")
            return f(*args, normalize=False if no_normalize else normalize, **kwargs)

        wrapper = click.option("--no-normalize", "no_normalize", is_flag=True, default=False,
                               help="Use the data as given (no scaling to q*).")(wrapper)
        return click.option("--normalize", "normalize", cls=NormalizeOption, type=click.Choice(NORMALIZATIONS),
                            is_flag=False,
                            flag_value="example", default="example", show_default=True,
                            metavar="[example|position]",
                            help=help_text)(wrapper)

    return decorate


def data_options(*, depth: str | None = "1:100", dropout: bool = True):
    """--data, --examples, --dim, --seed, --normalize [, --depth, --dropout]: the inputs of the NTK commands,
    declared once (``depth=None`` / ``dropout=False`` leave those out)."""
    options = [
        click.option("--data", type=click.Path(dir_okay=False, allow_dash=True), default=None,
                     help="Inputs: CSV (one input per row; a header line as pandas writes it is read and its index "
                          "column dropped), .npy, or .npz (array x or its only array); '-' reads CSV from stdin; 'digits': the bundled "
                          "8x8 digit images (1000 rows of 64 pixels). "
                          "Default: --examples synthetic standard normal inputs."),
        examples_option(),
        click.option("--dim", type=click.IntRange(1, 1_000_000), default=10, show_default=True,
                     help="Dimension of synthetic inputs (not with --data)."),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                     help="Seed of the synthetic inputs (not with --data)."),
        normalize_option(),
    ]
    if depth is not None:
        options.append(depth_option(depth))
    if dropout:
        options.append(dropout_option)

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def _columns_spec(ctx, param, value):
    if value is None:
        return None
    try:
        return tuple(list_items(value, "columns"))
    except GridSpecError as exc:
        raise click.BadParameter(str(exc)) from None


def complete_words(words, *, comma_list: bool = False, files: bool = False):
    """A click ``shell_complete`` that offers ``words`` (after the last comma with ``comma_list``;
    with ``files`` also file names).  ``phasecli.cli.completion`` writes the same words into the static
    bash / zsh / fish scripts, so an option's value set is declared once, here, beside the option."""
    words = tuple(words)

    def complete(ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        head, sep, tail = incomplete.rpartition(",") if comma_list else ("", "", incomplete)
        given = head.split(",") if head else []
        items = [CompletionItem(head + sep + w) for w in words if w.startswith(tail) and w not in given]
        if files:
            items.append(CompletionItem(incomplete, type="file"))
        return items

    return complete


def output_options(*, columns: tuple, png: bool = True, value_default: str | None = None,
                   png_help: str | None = None, extra_formats: tuple = ()):
    """--format, --columns, --value [and --png], declared once; the command receives ``out: Output``.

    ``columns``: every column the command can write (offered by shell completion of --columns
    and --value).

    ``extra_formats``: formats only this command writes itself (e.g. ``shell``); ``out.fmt``
    then holds that name and the command handles it instead of ``out.emit``."""

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, fmt, columns, value, png=None, **kwargs):
            if value == "":
                raise click.BadParameter("name the column to print (--value COLUMN)", param_hint="'--value'")
            if value is not None and columns is not None:
                raise click.BadParameter("--value prints one column: it cannot be combined with --columns",
                                         param_hint="'--value'")
            return f(*args, out=Output(fmt=fmt or default_format(), png=png, columns=columns, value=value), **kwargs)

        options = [
            click.option("--format", "-f", "fmt", type=click.Choice(FORMATS + tuple(extra_formats)), default=None,
                         metavar="FORMAT",
                         help=f"Output format: {', '.join(FORMATS + tuple(extra_formats))} [default: table on a "
                              "terminal, csv in a pipe]. JSON writes "
                              "inf as \"inf\" and NaN as null."),
            click.option("--columns", callback=_columns_spec, default=None, metavar="COLUMNS",
                         shell_complete=complete_words(columns, comma_list=True),
                         help="Only these columns, in this order (unknown names are an error)."),
            click.option("--value", default=None, is_flag=False, flag_value=value_default or "",
                         metavar="COLUMN", shell_complete=complete_words(columns),
                         help="Print only this column's values, one per line, bare (empty line where undefined)"
                              + (f" [bare --value: {value_default}]." if value_default else ".")),
        ]
        if png:
            options.append(click.option("--png", type=click.Path(dir_okay=False), default=None,
                                        help=png_help or "Also render a PNG figure to this path (written "
                                                         "atomically)."))
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


# ----------------------------------------------------------------------------- mean field, networks
TRAINABLE_HELP = "max_trainable_depth = this multiple of xi_c (Schoenholz et al. use 6; others 2, 4.5 or 8)."


def trainable_option(f):
    return click.option("--trainable-multiple", type=FiniteFloat(0.0, lo_open=True),
                        default=defaults.TRAINABLE_MULTIPLE, show_default=True, help=TRAINABLE_HELP)(f)


ARCHITECTURES = ("fc", "cnn-f", "cnn-p", "resnet")
IMAGE_ARCHITECTURES = ("cnn-f", "cnn-p")  # their rows are images (--image-shape, --filter)
LAYER_NORMS = ("none", "pre")


def _image_shape(ctx, param, value):
    if value is None:
        return None
    try:
        dims = tuple(int(v) for v in str(value).split(","))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise click.BadParameter(f"{value!r} is not H,W,C (three positive integers, e.g. 8,8,1)")
    return dims


def _odd_filter(ctx, param, value):
    if value % 2 == 0:
        raise click.BadParameter(f"{value} is even: the filter is K x K with K odd (centred, circular padding)")
    return value


def _residual_scale(ctx, param, value):
    """A number >= 0 or 'depth' (alpha = 1 / sqrt(L) for each depth L)."""
    text = str(value).strip()
    if text.lower() == "depth":
        return "depth"
    try:
        alpha = float(text)
    except ValueError:
        alpha = float("nan")
    if not (alpha >= 0.0 and alpha < float("inf")):
        raise click.BadParameter(f"{value!r} is not a finite number >= 0 nor 'depth' (alpha = 1/sqrt(L))")
    return alpha


def _architecture_list(ctx, param, value):
    try:
        names = list_items(value, "architecture")
    except GridSpecError as exc:
        raise click.BadParameter(str(exc)) from None
    bad = [n for n in names if n not in ARCHITECTURES]
    if not names or bad:
        raise click.BadParameter(f"{', '.join(bad) or repr(value)}: choose from {', '.join(ARCHITECTURES)} "
                                 "(a comma list compares them)")
    return tuple(dict.fromkeys(names))


def _resnet_options():
    return [
        click.option("--residual-scale", default="1", show_default=True, callback=_residual_scale, metavar="ALPHA",
                     shell_complete=complete_words(("1", "depth")),
                     help="resnet: the residual branch's scale alpha (a number >= 0), or 'depth' for 1/sqrt(L) "
                          "(each depth L of a list is then its own network)."),
        click.option("--layer-norm", type=click.Choice(LAYER_NORMS), default="none", show_default=True,
                     help="resnet: 'pre' puts a LayerNorm (no gain, no bias) before each block's activation and "
                          "before the readout's."),
    ]


def simulated_architecture_options(f):
    """--architecture fc|resnet, --residual-scale, --layer-norm: the finite networks a command simulates."""
    def one_simulated(ctx, param, value):
        names = _architecture_list(ctx, param, value)
        if len(names) > 1 or names[0] not in ("fc", "resnet"):
            raise click.BadParameter(f"{value}: the simulated networks are fc or resnet (one of them)")
        return names[0]

    options = [click.option("--architecture", default="fc", show_default=True, metavar="ARCHITECTURES",
                            callback=one_simulated, shell_complete=complete_words(("fc", "resnet")),
                            help="Network: fc (fully connected) or resnet (residual blocks after a dense layer; "
                                 "depth = blocks; `phasecli docs resnet`)."),
               *_resnet_options()]
    for option in reversed(options):
        f = option(f)
    return f


def resnet_depth_options(f):
    """simulated_architecture_options and --depth L: phase / depth-scale rows of residual networks at depth L."""
    f = click.option("--depth", "depth", default=None, metavar="DEPTHS",
                     help="resnet: the depth L (residual blocks, one number) at which the rows are computed "
                          "(required).")(f)
    return simulated_architecture_options(f)


def architecture_options(compare: bool = False):
    """--architecture, --filter, --image-shape: the network (fc, or a CNN on images), one or a comma list
    (each runs in turn; ``compare``: with --png two are drawn with their difference)."""
    arch_help = ("Network: fc (fully connected), cnn-f (convolutional, flatten readout), cnn-p (convolutional, "
                 "global average pooling; depth = conv layers) or resnet (residual blocks after a dense layer; "
                 "depth = blocks). A comma list (cnn-f,cnn-p) runs each")
    arch_help += "; with --png two are drawn with their difference." if compare else "."
    options = [
        click.option("--architecture", "architectures", default="fc", show_default=True, metavar="ARCHITECTURES",
                     callback=_architecture_list, shell_complete=complete_words(ARCHITECTURES, comma_list=True),
                     help=arch_help),
        click.option("--filter", "filter_size", type=click.IntRange(1, 99), default=3, show_default=True,
                     callback=_odd_filter, help="CNN filter size K: K x K filters (odd), stride 1, circular padding."),
        click.option("--image-shape", callback=_image_shape, default=None, metavar="H,W,C",
                     help="CNN image layout: each row is one image flattened in (H, W, C) order, channels last "
                          "(required for image files; digits: 8,8,1; synthetic inputs: 6,6,3)."),
        *_resnet_options(),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate
