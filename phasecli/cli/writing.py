"""Where a command's rows go: ``Output`` (what the user asked: format, --columns, --value, --png)
opens a ``Sink`` on stdout, or a ``Collector`` under the Python API; write failures on stdout
become a quiet exit 0 (a reader that went away) or one line and exit 1."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import click

from phasecli.cli.errors import warn
from phasecli.cli.output import OutputError, Sink, check_writable

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
