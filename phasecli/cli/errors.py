"""Messages on stderr and the mapping of library errors onto exit statuses: one line each,
'phasecli COMMAND: error|warning|note: ...'; exit 2 for bad input, 1 for a runtime failure.
"""

from __future__ import annotations

from contextlib import contextmanager

import click

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"  # the environment variable --scheduler reads
STRICT = "phasecli.strict"  # ctx.meta key: --strict was given (``options.strict_option``)
SCHEDULER_FROM_ENV = "phasecli.scheduler_from_env"  # ctx.meta key: the address came from $SCHEDULER_ENV

def partial_failure(message: str, failed: int, total: int) -> int:
    """The exit status of a sweep in which ``failed`` of ``total`` rows have no value (each row's status
    says why): one warning line; 1 when no row has a value or under --strict, else 0."""
    if not failed:
        return 0
    status = int(failed >= total or click.get_current_context().meta.get(STRICT, False))
    warn(message + (" (exit status 1)" if status else " (exit status 0; --strict makes it 1)"))
    return status


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
def input_errors(advice: str | None = None, **overrides):
    """Turn the numeric core's InputError into a usage error naming the option (exit 2); a request too
    large to run here (``plans.BudgetError``) into a usage error that adds ``advice`` (what reduces it)."""
    from phasecli.runtime.plans import BudgetError
    from phasecli.validate import InputError

    try:
        yield
    except BudgetError as exc:
        raise click.UsageError(f"{exc}: {advice}" if advice else str(exc)) from None
    except InputError as exc:
        hint = None
        ctx = click.get_current_context(silent=True)
        if exc.param == "scheduler" and ctx is not None and ctx.meta.get(SCHEDULER_FROM_ENV):
            hint = "$" + SCHEDULER_ENV
        elif exc.param:
            hint = overrides.get(exc.param) or PARAM_OPTIONS.get(exc.param) or "--" + exc.param.replace("_", "-")
        raise click.BadParameter(str(exc), param_hint=f"'{hint}'" if hint else None) from None
