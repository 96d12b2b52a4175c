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
GRID_GRAMMAR = "NUMBER, LIST a,b,c, or START:STOP:NUM (NUM points, both ends included)"
DEPTH_GRAMMAR = ("list 1,2,5,10 or inclusive range START:STOP[:STEP] (mixes allowed); "
                 "sorted and de-duplicated")


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
    """--sw2 / --sb2 values: NUMBER, LIST a,b,c or inclusive linspace START:STOP:NUM.

    With ``allow_critical`` the word ``critical`` stands for the root-solved critical sw2
    at each sb2 (returned as the string 'critical')."""

    name = "SPEC"

    def __init__(self, allow_critical: bool = False):
        self.allow_critical = allow_critical

    def convert(self, value, param, ctx):
        if isinstance(value, list) or (self.allow_critical and value == "critical"):
            return value
        if self.allow_critical and str(value).strip().lower() == "critical":
            return "critical"
        try:
            return parse_grid(str(value), param.name if param else "value")
        except GridSpecError as exc:
            self.fail(str(exc), param, ctx)


GRID = GridSpec()


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


def depth_option(default: str, help_prefix: str = "Depths L (hidden layers)"):
    return click.option("--depth", "depth_spec", default=default, show_default=True,
                        help=f"{help_prefix}: {DEPTH_GRAMMAR}.")


# ----------------------------------------------------------------------------- output
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
        a closed pipe to a quiet exit 0 and other write failures to one line and exit 1."""
        self.check(columns)
        with writing():
            sink = Sink(columns, self.fmt, sys.stdout, select=self.columns, value=self.value, title=title)
            yield sink
            sink.close()

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


def output_options(*, png: bool = True, value_default: str | None = None, png_help: str | None = None,
                   extra_formats: tuple = ()):
    """--format, --columns, --value [and --png], declared once; the command receives ``out: Output``.

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
                         help="Output format [default: table on a terminal, csv in a pipe]. JSON writes "
                              "inf as \"inf\" and NaN as null."),
            click.option("--columns", callback=_columns_spec, default=None, metavar="A,B,C",
                         help="Only these columns, in this order (unknown names are an error)."),
            click.option("--value", default=None, is_flag=False, flag_value=value_default or "",
                         metavar="[COLUMN]" if value_default else "COLUMN",
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
    """One line on stderr: 'phasecli: warning: ...'."""
    click.echo(f"phasecli: warning: {' '.join(str(message).split())}", err=True)


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
