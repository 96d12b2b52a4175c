"""The Python API: one function per command, for notebooks and scripts.

``phasecli.phase(activation="erf", sw2="0.5:3:100", sb2=[0, 0.05])`` computes exactly the
rows of ``phasecli phase -a erf --sw2 0.5:3:100 --sb2 0,0.05``: each function runs its
command in this process (same options, same validation, same defaults) and collects the
rows instead of writing them.  Keyword arguments are the command's long option names with
``_`` for ``-`` (``lr_factor=``, ``label_column=``, ``depth=``); a grid takes a number, a
sequence of numbers or the command line's ``START:STOP:NUM`` text; a depth list takes
ints, a sequence or ``"1:60"``; on/off options take True / False; ``png="fig.png"`` also
draws the figure.  Every command that writes rows has its function (the list is read
from the command line, so a new command comes with its function).

The result is a ``Result``: ``.columns`` (the command's column names), ``.rows()`` (the
rows as Python values), ``result["kappa"]`` (a column as a numpy array), ``len(result)``,
``.to_csv()`` (the command line's CSV, byte for byte), ``.to_pandas()`` (with pandas
installed) and ``.status`` (the command's exit status: 1 where rows lack a value).
Warnings the command would print arrive as ``PhasecliWarning``; bad input raises
``InputError`` (a ValueError), a runtime failure ``RuntimeFailure``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import numbers
import warnings

import click

from phasecli.errors import InputError, RuntimeFailure

__all__ = ["InputError", "PhasecliWarning", "Result", "RuntimeFailure", "run"]

NOT_OPTIONS = ("format", "value", "help",  # command-line output controls with no meaning here
               "no_normalize")  # normalize=False says it (``cli.options.NormalizeOption``)


class PhasecliWarning(UserWarning):
    """What a command prints on stderr as a warning or a note."""


class Result:
    """The rows of one command: ``.columns``, ``.rows()``, ``result[column]``, ``.to_pandas()``."""

    def __init__(self, command: str, columns: tuple, chunks: list, status: int, messages: tuple):
        self.command = command
        self.columns = tuple(columns)
        self.status = status
        self.messages = messages
        self._chunks = chunks

    def __len__(self) -> int:
        return sum(len(chunk[self.columns[0]]) for chunk in self._chunks) if self.columns else 0

    def column(self, name: str) -> list:
        """A column's values as Python values (float, int, bool, str)."""
        if name not in self.columns:
            raise KeyError(f"{name!r} is not a column of {self.command}; columns: {', '.join(self.columns)}")
        values = []
        for chunk in self._chunks:
            part = chunk[name]
            values.extend(part.tolist() if hasattr(part, "tolist") else list(part))
        return values

    def __getitem__(self, name: str):
        """A column as a numpy array (float64, int64, bool, or str)."""
        import numpy as np

        values = self.column(name)
        if values and all(isinstance(v, str) for v in values):
            return np.array(values, dtype=str)
        return np.asarray(values)

    def rows(self) -> list:
        """The rows, each a tuple of Python values in the order of ``columns``."""
        return list(zip(*(self.column(name) for name in self.columns)))

    def to_csv(self) -> str:
        """The rows as the command line writes them with ``--format csv``."""
        from phasecli.cli.output import Sink

        buffer = io.StringIO()
        sink = Sink(self.columns, "csv", buffer)
        for chunk in self._chunks:
            sink.write(chunk)
        sink.close()
        return buffer.getvalue()

    def to_pandas(self):
        """A pandas DataFrame of the rows (needs pandas, which phasecli does not depend on)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        return pandas.DataFrame({name: self[name] for name in self.columns}, columns=list(self.columns))

    def __repr__(self) -> str:
        return f"<phasecli {self.command}: {len(self)} rows x {len(self.columns)} columns ({', '.join(self.columns)})>"


# ----------------------------------------------------------------------------- options -> arguments
def _option_name(param) -> str:
    if isinstance(param, click.Argument):
        return param.name
    long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    return long.lstrip("-").replace("-", "_")


def _text(value) -> str:
    """A value as the command line takes it: floats at full precision, sequences comma-joined."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("a True/False value is only for on/off options")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple, range)):
        if not value:
            raise ValueError("an empty sequence")
        return ",".join(_text(v) for v in value)
    raise TypeError(f"{type(value).__name__} is not a number, a sequence or text")


def _arguments(command, options: dict) -> list:
    """Command-line arguments for keyword ``options``; InputError for an unknown name or value."""
    params = {_option_name(p): p for p in command.params if _option_name(p) not in NOT_OPTIONS}
    args = []
    for name, value in options.items():
        param = params.get(name)
        if param is None:
            raise InputError(f"{command.name}() got an unknown option {name!r}; options: {', '.join(params)}", name)
        if value is None:
            continue
        if isinstance(param, click.Argument):
            args.append(_text(value))
            continue
        long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
        bool_args = getattr(param, "api_bool", None)  # an option that also takes True / False here
        if bool_args is not None and isinstance(value, bool):
            args += bool_args[value]
        elif param.is_flag and not param.secondary_opts and getattr(param, "is_bool_flag", param.flag_value is True):
            # an on/off flag (click 8.2+ leaves flag_value unset for a plain ``is_flag=True``: is_bool_flag says it)
            if not isinstance(value, bool):
                raise InputError(f"{name} takes True or False, got {value!r}", name)
            args += [long] if value else []
        elif param.is_flag and param.secondary_opts:
            if not isinstance(value, bool):
                raise InputError(f"{name} takes True or False, got {value!r}", name)
            args.append(long if value else param.secondary_opts[0])
        else:
            try:
                args += [long, _text(value)]
            except (TypeError, ValueError) as exc:
                raise InputError(f"{name}: {exc}", name) from None
    return args


# ----------------------------------------------------------------------------- running a command
def run(command: str, **options) -> Result:
    """Run the command ``command`` (its command-line name, e.g. 'depth-scale') with ``options``."""
    from phasecli.cli import cli
    from phasecli.cli.writing import COLLECT

    cmd = cli.commands.get(command)
    if cmd is None:
        raise InputError(f"no command {command!r}; commands: {', '.join(functions())}", "command")
    argv = [command, *_arguments(cmd, options), "--format", "csv"]
    collected: list = []
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            with cli.make_context("phasecli", argv) as ctx:
                ctx.meta[COLLECT] = collected
                status = cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        status = exc.exit_code
    except click.UsageError as exc:
        raise InputError(" ".join(exc.format_message().split()), getattr(exc, "param_hint", None)) from None
    except click.ClickException as exc:
        raise RuntimeFailure(" ".join(exc.format_message().split())) from None
    except (click.exceptions.Abort, KeyboardInterrupt):
        raise KeyboardInterrupt from None
    finally:
        prefix = f"phasecli {command}: "
        messages = tuple(line[len(prefix):] if line.startswith(prefix) else line
                         for line in stderr.getvalue().splitlines() if line.strip())
        for line in messages:
            warnings.warn(line, PhasecliWarning, stacklevel=3)
    if not collected:
        raise RuntimeFailure(f"{command} wrote no rows")
    sink = collected[-1]
    return Result(command, sink.columns, sink.chunks, int(status or 0), messages)


def _default(param):
    """The default a user sees: the option's own, False for an unset on/off option, else None."""
    value = param.default
    if callable(value) or type(value).__name__ == "Sentinel":  # click's UNSET marker
        return False if getattr(param, "is_flag", False) else None
    return value


def _function(command):
    """The API function of one command: keyword arguments named as its options."""
    name = command.name.replace("-", "_")
    params = [p for p in command.params if _option_name(p) not in NOT_OPTIONS]

    def function(**options):
        return run(command.name, **options)

    function.__name__ = function.__qualname__ = name
    function.__module__ = "phasecli"
    function.__signature__ = inspect.Signature(
        [inspect.Parameter(_option_name(p), inspect.Parameter.KEYWORD_ONLY, default=_default(p)) for p in params])
    lines = [inspect.cleandoc(command.help or "").replace("\b\n", ""), "",
             f"Runs `phasecli {command.name}` in this process and returns a phasecli.api.Result.", "",
             "Keyword arguments (the command's options; None leaves the default):"]
    for p in params:
        default = "" if _default(p) in (None, ()) else f" [default: {_default(p)}]"
        text = p.help if isinstance(p, click.Option) and p.help else ", ".join(getattr(p.type, "choices", ()))
        lines.append(f"    {_option_name(p)}: {' '.join((text or '').split())}{default}")
    function.__doc__ = "\n".join(lines)
    return function


def functions() -> dict:
    """{function name: function} for every command that writes rows."""
    from phasecli.cli import cli

    ctx = click.Context(cli, info_name="phasecli")
    out = {}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if any(_option_name(p) == "columns" for p in command.params):
            out[name.replace("-", "_")] = _function(command)
    return out


_FUNCTIONS = functions()
globals().update(_FUNCTIONS)
__all__ += sorted(_FUNCTIONS)
