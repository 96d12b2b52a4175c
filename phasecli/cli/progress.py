"""Progress on stderr (a rich bar, only on a terminal and only once the work takes a while) and
the figures a command draws (``--png``)."""

from __future__ import annotations

import sys
import time

import click

class Progress:
    """A rich progress bar on stderr, only on a terminal and only once the work has taken a while.

    ``with Progress(total, label) as advance: ... advance(n)``."""

    DELAY = 1.5  # seconds before a bar appears (PHASECLI_PROGRESS_DELAY overrides it)

    def __init__(self, total: int, label: str, unit: str = "items"):
        self.total, self.label, self.unit = int(total), label, unit
        self.done = 0
        self.bar = None
        self.task = None
        self.enabled = sys.stderr is not None and sys.stderr.isatty() and self.total > 1
        self.delay = _delay(self.DELAY)
        self.t0 = time.monotonic()

    def __enter__(self):
        return self.advance

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is None and time.monotonic() - self.t0 >= self.delay and self.done < self.total:
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


def _delay(default: float) -> float:
    """Seconds before a bar appears: $PHASECLI_PROGRESS_DELAY when it is a number >= 0, else ``default``."""
    import math
    import os

    try:
        value = float(os.environ.get("PHASECLI_PROGRESS_DELAY", default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


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
