"""What every command shares: option types, the option groups (declared once), the output sink,
figures, warnings, progress and the mapping of library errors onto exit statuses.

Heavy modules (numpy, numba, scipy, matplotlib) are never imported here at module level.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

import click

from phasecli.activations import NAMES
from phasecli.grids import GridSpecError, list_items, parse_grid
from phasecli.output import FORMATS, OutputError, Sink, check_writable, default_format

THEORY_DOC = "`phasecli docs theory`"
BUNDLED_DATA = ("digits",)  # data-set names --data / --train / --test take besides a file
WEIGHT_LAWS = ("gaussian", "orthogonal")  # as phasecli.jacobian_spectrum.WEIGHTS (not imported: it loads numba)
GRID_GRAMMAR = "NUMBER, LIST a,b,c, or START:STOP:NUM (NUM points, both ends included)"
DEPTH_GRAMMAR = ("list 1,2,5,10, inclusive range START:STOP[:STEP], or log:START:STOP:NUM (NUM log-spaced "
                 "depths, rounded; figures then use a log depth axis); mixes allowed; sorted and de-duplicated")
WIDTH_GRAMMAR = ("list 32,128,512, inclusive range START:STOP[:STEP], or log:START:STOP:NUM (NUM log-spaced "
                 "widths, rounded); mixes allowed; sorted and de-duplicated")


# ----------------------------------------------------------------------------- option types
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


def grid_options(default_sw2: str, default_sb2: str, *, sw2_critical: bool = False):
    """--activation, --sw2, --sb2, --q0, --slope: declared once for every grid command."""
    sw2_help = f"Weight VARIANCE sigma_w^2 (not the std): {GRID_GRAMMAR}."
    if sw2_critical:
        sw2_help += " 'critical': the root-solved critical sw2 (chi_1 = 1) at each sb2."

    def decorate(f):
        options = [
            click.option("--activation", "-a", type=click.Choice(NAMES), default="tanh", show_default=True,
                         help="Nonlinearity phi (see `phasecli activations`)."),
            click.option("--sw2", type=GridSpec(allow_critical=sw2_critical), default=default_sw2,
                         show_default=True, help=sw2_help),
            click.option("--sb2", type=GRID, default=default_sb2, show_default=True,
                         help=f"Bias VARIANCE sigma_b^2 (not the std): {GRID_GRAMMAR}."),
            click.option("--q0", type=POSITIVE, default=1.0, show_default=True,
                         help="Inputs' variance q^1; q* is the stable fixed point reached from it."),
            click.option("--slope", type=UNIT, default=0.01, show_default=True, help="Negative slope of leaky_relu."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def _scheduler_source(ctx, param, value):
    """Remember when the address came from $DASK_SCHEDULER_ADDRESS, so errors name that, not --scheduler."""
    from click.core import ParameterSource

    if value is not None and ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT:
        ctx.meta["phasecli.scheduler_from_env"] = True
    return value


def sweep_options(f):
    """--scheduler: run the sweep's independent pieces on a Dask cluster (``pip install 'phasecli[dask]'``)."""
    return click.option("--scheduler", envvar=SCHEDULER_ENV, default=None, metavar="ADDRESS", callback=_scheduler_source,
                        help="Dask scheduler address (tcp://host:8786; default $DASK_SCHEDULER_ADDRESS): compute "
                             "the sweep's pieces on that cluster's workers, rows in the local order. Needs the "
                             "[dask] extra.")(f)


def strict_option(f):
    """--strict: exit status 1 when any row of a sweep has no value (``partial_failure``)."""
    def remember(ctx, param, value):
        ctx.meta["phasecli.strict"] = value

    return click.option("--strict", is_flag=True, expose_value=False, callback=remember,
                        help="Exit status 1 when any row has no value. Default: such rows carry their status, a "
                             "warning counts them, and the exit status is 1 only when no row has a value.")(f)


def partial_failure(message: str, failed: int, total: int) -> int:
    """The exit status of a sweep in which ``failed`` of ``total`` rows have no value (each row's status
    says why): one warning line; 1 when no row has a value or under --strict, else 0."""
    if not failed:
        return 0
    status = int(failed >= total or click.get_current_context().meta.get("phasecli.strict", False))
    warn(message + (" (exit status 1)" if status else " (exit status 0; --strict makes it 1)"))
    return status


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


# ----------------------------------------------------------------------------- data
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
        click.option("--normalize/--no-normalize", default=True, show_default=True,
                     help="Scale each input so the first-layer variance q^1 equals q* (the paper's setting), "
                          "or use the data as given."),
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


def explicit(name: str) -> bool:
    """True when the user gave option ``name`` on the command line (not its default)."""
    ctx = click.get_current_context()
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def first_rows(arrays, examples, option: str = "--data"):
    """The first ``examples`` rows of each array (all when None); more than there are is a usage error."""
    if examples is None:
        return arrays
    if examples > arrays[0].shape[0]:
        raise click.BadParameter(f"{examples} rows asked, {option} has {arrays[0].shape[0]}",
                                 param_hint="'--examples'")
    return tuple(a[:examples] for a in arrays)


def load_inputs(data, examples, dim, seed):
    """The inputs: the first --examples rows of --data, or --examples synthetic ones; --dim / --seed with
    --data is a usage error."""
    from phasecli import ntk

    if data is None:
        return ntk.synthetic_data(SYNTHETIC_EXAMPLES if examples is None else examples, dim, seed)
    given = [f"--{n}" for n in ("dim", "seed") if explicit(n)]
    if given:
        raise click.BadParameter(f"{', '.join(given)} only apply to synthetic inputs and cannot be combined with --data",
                                 param_hint="'--data'")
    if data in BUNDLED_DATA and not os.path.exists(data):  # the bundled digits (train split), labels dropped
        return first_rows((load_labelled(data, -1, "train")[0],), examples)[0]
    notes = []
    try:
        inputs = ntk.load_data(sys.stdin if data == "-" else data, notes)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {data}: {exc.strerror or exc}", param_hint="'--data'") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--data'") from None
    for text in notes:
        note(text)
    return first_rows((inputs,), examples)[0]


def load_labelled(path, label_column, which):
    """(X, y) from a labelled CSV / .npy / .npz, or the bundled digits split for the name 'digits'."""
    from phasecli.ntk import predictor

    if path == "digits" and not os.path.exists(path):
        from importlib.resources import files

        path = str(files("phasecli") / "data" / f"digits_{which}.csv")
    notes = []
    try:
        labelled = predictor.load_labelled(sys.stdin if path == "-" else path, label_column, notes)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint=f"'--{which}'") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'--{which}'") from None
    for text in notes:
        note(text)
    return labelled


# ----------------------------------------------------------------------------- output
COLLECT = "phasecli.collect"  # ctx.meta key: where the Python API collects a command's rows


class Collector:
    """What a command writes its rows to under the Python API: the chunks, kept as they come."""

    hidden: tuple = ()

    def __init__(self, columns, select=None):
        self.columns = tuple(select) if select else tuple(columns)
        self.chunks: list = []
        self.rows = 0

    def write(self, chunk) -> None:
        part = {name: chunk[name] for name in self.columns}
        self.chunks.append(part)
        self.rows += len(part[self.columns[0]]) if self.columns else 0

    def close(self) -> int:
        return self.rows


@dataclass
class Output:
    """What the user asked of the output: format, figure, column selection, bare value."""

    fmt: str
    png: str | None
    columns: tuple | None
    value: str | None

    def check(self, columns) -> None:
        """Refuse unknown --columns / --value names and an unwritable --png before any work."""
        known = tuple(columns)
        for opt, names in (("--columns", self.columns or ()), ("--value", (self.value,) if self.value else ())):
            for name in names:
                if name not in known:
                    raise click.BadParameter(f"unknown column {name!r}; choose from {', '.join(known)}",
                                             param_hint=f"'{opt}'")
        if self.png is not None:
            reason = check_writable(self.png)
            if reason:
                raise click.BadParameter(f"cannot write {self.png!r}: {reason}", param_hint="'--png'")

    @contextmanager
    def sink(self, columns, title: str | None = None):
        """A Sink on stdout for ``columns`` honouring --format/--columns/--value; closes it; maps
        a closed pipe to a quiet exit 0 and other write failures to one line and exit 1.  Under the
        Python API (``phasecli.api``) the rows are collected instead."""
        self.check(columns)
        ctx = click.get_current_context(silent=True)
        collected = ctx.meta.get(COLLECT) if ctx is not None else None
        if collected is not None:
            sink = Collector(columns, self.columns)
            yield sink
            collected.append(sink)
            return
        with writing():
            sink = Sink(columns, self.fmt, sys.stdout, select=self.columns, value=self.value, title=title)
            yield sink
            sink.close()
        if sink.hidden:
            warn(f"{len(sink.hidden)} columns do not fit this {sink.fit_width}-column terminal and are not shown "
                 f"({', '.join(sink.hidden)}): --columns picks columns, --format csv writes them all")

    def emit(self, columns, chunks, title: str | None = None) -> int:
        """Write every chunk (mapping column -> sequence) as it comes; returns the row count."""
        with self.sink(columns, title) as sink:
            for chunk in chunks:
                sink.write(chunk)
        return sink.rows


def _columns_spec(ctx, param, value):
    if value is None:
        return None
    try:
        return tuple(list_items(value, "columns"))
    except GridSpecError as exc:
        raise click.BadParameter(str(exc)) from None


# ----------------------------------------------------------------------------- completion
def complete_words(words, *, comma_list: bool = False, files: bool = False):
    """A click ``shell_complete`` that offers ``words`` (after the last comma with ``comma_list``;
    with ``files`` also file names).  ``phasecli.completion`` writes the same words into the static
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


@contextmanager
def writing():
    """Map write failures on stdout: a reader that went away (| head) ends quietly with status 0;
    a full disk or a closed stdout is a runtime failure (one line, exit 1)."""
    try:
        yield
    except BrokenPipeError:
        _silence_stdout()
        raise click.exceptions.Exit(0) from None
    except OutputError as exc:
        _silence_stdout()
        raise click.ClickException(f"cannot write the output: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass


def echo_value(text: str) -> None:
    """One bare line on stdout (for $(...)), with the pipe handling of the sinks."""
    with writing():
        if sys.stdout is None:
            raise OutputError(9, "standard output is closed")
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise OutputError(5, getattr(exc, "strerror", None) or str(exc)) from None


# ----------------------------------------------------------------------------- estimates
MAX_LOCAL_SECONDS = 3600.0  # a run estimated beyond this (computed here, not with --scheduler) is refused


def duration_text(seconds: float) -> str:
    """'40 s', '12 min', '3.5 h', '1.1e+11 h'."""
    if seconds >= 5400:
        hours = seconds / 3600
        return f"{hours:.1f} h" if hours < 1000 else f"{hours:.2g} h"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def refuse_long_run(seconds: float, what: str, how: str, scheduler=None) -> None:
    """A usage error (exit 2, before any work) when ``seconds`` exceeds MAX_LOCAL_SECONDS here."""
    if scheduler is None and seconds > MAX_LOCAL_SECONDS:
        raise click.UsageError(f"this run needs an estimated ~{duration_text(seconds)} on 2 cores ({what}; limit "
                               f"{duration_text(MAX_LOCAL_SECONDS)}): {how}")


# ----------------------------------------------------------------------------- figures, messages
def check_figure(kind: str, **shape) -> str | None:
    """The figure that fits this sweep (plotting.shapes decides, in one place); exit 2 when none does."""
    from phasecli.plotting.shapes import FigureError, choose

    try:
        return choose(kind, **shape)
    except FigureError as exc:
        raise click.BadParameter(str(exc), param_hint="'--png'") from None


def render(fn: str, path: str, *args, **kwargs) -> None:
    """Draw figure ``fn`` ('module:function' in phasecli.plotting, or a name it exports) with
    ``(*args, path=path, **kwargs)``; failing to write it is a runtime failure (exit 1)."""
    import warnings

    from phasecli import plotting

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plotting.figure(fn)(*args, path=path, **kwargs)
    except OSError as exc:
        raise click.ClickException(f"could not write the PNG: {exc.strerror or exc}") from None
    if sys.stderr is not None and sys.stderr.isatty():
        click.echo(f"phasecli: wrote {path}", err=True)


def warn(message: str) -> None:
    """One line on stderr: 'phasecli COMMAND: warning: ...' (the form errors take)."""
    click.echo(f"{_prog()}: warning: {' '.join(str(message).split())}", err=True)


def _prog() -> str:
    """'phasecli COMMAND' inside a command, else 'phasecli': how every line on stderr begins."""
    ctx = click.get_current_context(silent=True)
    return f"phasecli {ctx.info_name}" if ctx is not None and ctx.parent is not None else "phasecli"


def note(message: str) -> None:
    """One line on stderr saying what phasecli read or chose: 'phasecli COMMAND: note: ...'."""
    click.echo(f"{_prog()}: note: {' '.join(str(message).split())}", err=True)


def fail(message: str, status: int = 1):
    """A runtime failure: one line on stderr, exit ``status``."""
    exc = click.ClickException(message)
    exc.exit_code = status
    raise exc


PARAM_OPTIONS = {"X": "--data", "X_train": "--train", "X_test": "--test", "y_train": "--train",
                 "y_test": "--test", "depths": "--depth", "depth": "--depth", "train_time": "--time",
                 "time": "--time", "lr_factor": "--lr-factor", "lambda0": "--lambda0"}


@contextmanager
def input_errors(**overrides):
    """Turn the numeric core's InputError into a usage error naming the option (exit 2)."""
    from phasecli.validate import InputError

    try:
        yield
    except InputError as exc:
        hint = None
        ctx = click.get_current_context(silent=True)
        if exc.param == "scheduler" and ctx is not None and ctx.meta.get("phasecli.scheduler_from_env"):
            hint = "$" + SCHEDULER_ENV
        elif exc.param:
            hint = overrides.get(exc.param) or PARAM_OPTIONS.get(exc.param) or "--" + exc.param.replace("_", "-")
        raise click.BadParameter(str(exc), param_hint=f"'{hint}'" if hint else None) from None


class Progress:
    """A rich progress bar on stderr, only on a terminal and only once the work has taken a while.

    ``with Progress(total, label) as advance: ... advance(n)``."""

    DELAY = 1.5  # seconds before a bar appears

    def __init__(self, total: int, label: str, unit: str = "items"):
        self.total, self.label, self.unit = int(total), label, unit
        self.done = 0
        self.bar = None
        self.task = None
        self.enabled = sys.stderr is not None and sys.stderr.isatty() and self.total > 1
        self.t0 = time.monotonic()

    def __enter__(self):
        return self.advance

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is None and time.monotonic() - self.t0 > self.DELAY and self.done < self.total:
            from rich.console import Console
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

            self.bar = RichProgress(TextColumn(self.label), BarColumn(),
                                    TextColumn(f"{{task.completed:,}}/{{task.total:,}} {self.unit}"),
                                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(self.label, total=self.total)
            self.bar.start()
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
