"""`phasecli warmup`: compile and cache every numba kernel ahead of time (CI images, new installs)."""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import time

import click

from phasecli.cli import cli
from phasecli.cli.options import ACTIVATION

DATA = "{data}"  # replaced by a small CSV of inputs (4 images of 5 x 3 x 2), written for the warmup

# One small job per code path of the kernels: each command with its default options, plus the
# architectures, weights and modes that reach other kernels.  Together they compile every kernel
# the commands call (checked by tests/test_warmup.py: after a warmup nothing compiles again).
JOBS = (
    ("phase", ["--sw2", "1,2", "--sb2", "0.05", "-f", "csv"]),
    ("critical", ["--sb2", "0,0.05", "-f", "csv"]),
    ("depth-scale", ["--sw2", "1,2", "--sb2", "0.05", "-f", "csv"]),
    ("kappa", ["--sw2", "1.5", "--depth", "1,3", "--examples", "3", "-f", "csv"]),
    ("kappa", ["--sw2", "1.5", "--depth", "2", "--examples", "3", "--dropout", "0.9", "-f", "csv"]),
    # erf: the same compiled kernels as tanh (the activation is a run-time argument), without ~1 min of 2-D quadrature
    ("kappa", ["-a", "erf", "--sw2", "1.5", "--depth", "2", "--data", DATA, "--image-shape", "5,3,2", "--filter", "3",
               "--architecture", "cnn-p", "-f", "csv"]),
    ("kappa", ["--sw2", "1.5", "--depth", "1", "--data", DATA, "--image-shape", "5,3,2", "--filter", "3",
               "--architecture", "cnn-f", "-f", "csv"]),
    ("lr", ["--sw2", "1.5", "--depth", "2", "--examples", "3", "-f", "csv"]),
    ("generalize", ["--train", "digits", "--test", "digits", "--examples", "20", "--test-examples", "10",
                    "--depth", "2", "-f", "csv"]),
    ("generalize", ["--train", "digits", "--test", "digits", "--examples", "20", "--test-examples", "10",
                    "--depth", "2", "--time", "10", "-f", "csv"]),
    ("verify", ["--sw2", "1.5", "--width", "8", "--depth", "2", "--samples", "2", "-f", "csv"]),
    ("catapult", ["--lr-factor", "0.5,1.5", "--width", "100", "-f", "csv"]),
    ("train", ["--depth", "1", "--width", "16", "--examples", "4", "--dim", "3", "--lr-factor", "0.5", "--steps", "2",
               "--samples", "1", "-f", "csv"]),
    ("check", ["--sb2", "0.05", "--depth", "10", "-f", "csv"]),
    ("init", ["--depth", "10", "-f", "csv"]),
    ("jacobian", ["--sb2", "0.05", "--depth", "2", "-f", "csv"]),
    ("jacobian", ["-a", "relu", "--sw2", "2", "--sb2", "0", "--weights", "orthogonal", "--depth", "2", "-f", "csv"]),
    ("jacobian", ["--sb2", "0.05", "--depth", "2", "--empirical", "--width", "8", "--samples", "1", "-f", "csv"]),
)


def run_job(command: str, args: list[str], data: str) -> None:
    """Run ``phasecli COMMAND ARGS`` here, its output discarded; a failure is a bug (exit 1)."""
    args = [data if a == DATA else a for a in args]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            cli.main(args=[command, *args], prog_name="phasecli", standalone_mode=False)
        except click.exceptions.Exit as exc:
            if exc.exit_code:
                raise click.ClickException(f"warmup job `phasecli {command} {' '.join(args)}` failed") from None


@cli.command()
@click.option("--activation", "-a", type=ACTIVATION, default=None,
              help="Compile for this activation expression (its kernels are cached apart; default: the registered "
                   "activations).")
def warmup(activation):
    """Compile and cache every numerical kernel now, so that no later command compiles.

    The first use of each command compiles its numba kernels (up to a minute per command,
    a few minutes in all on 2 cores); warmup does it ahead of time with a progress bar, for
    CI images and shared machines.  The cache is per user (`$NUMBA_CACHE_DIR`, else
    ~/.cache/phasecli/numba) and shared by every install of the same phasecli version.
    Prints nothing on stdout; a second warmup only loads the cache.  With
    -a EXPR, every kernel for that activation expression (cached apart, under
    its hash; several minutes).

    \b
    Examples:
      phasecli warmup
      NUMBA_CACHE_DIR=$PWD/phasecli-cache phasecli warmup   # e.g. in a Docker image: set it at run time too
    """
    import tempfile  # not on the --help path

    with tempfile.TemporaryDirectory(prefix="phasecli-warmup-") as tmp:
        data = os.path.join(tmp, "inputs.csv")
        with open(data, "w") as f:
            for row in range(4):
                f.write(",".join(f"{math.sin(0.7 * row + 0.3 * k):.6f}" for k in range(30)) + "\n")
        _run_all(data, activation)
    return 0


def _jobs(activation):
    """JOBS, with ``-a ACTIVATION`` added to the jobs that take the default activation (an expression: its own
    kernels; the jobs naming another activation compile the same kernels in its cache folder too)."""
    if activation is None:
        return JOBS
    return tuple((c, a if "-a" in a else ["-a", activation, *a]) for c, a in JOBS)


def _run_all(data: str, activation=None) -> None:
    from phasecli.runtime import cache

    err = sys.stderr
    terminal = err is not None and err.isatty()
    t0 = time.monotonic()
    if terminal:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("phasecli warmup"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=Console(file=err), transient=True) as bar:
            task = bar.add_task("", total=len(JOBS))
            for command, args in _jobs(activation):
                bar.update(task, description=command)
                run_job(command, args, data)
                bar.advance(task)
    else:
        for k, (command, args) in enumerate(_jobs(activation), 1):
            t = time.monotonic()
            run_job(command, args, data)
            click.echo(f"phasecli warmup: {k}/{len(JOBS)} {command} ({time.monotonic() - t:.1f} s)", err=True)
    for name in cli.list_commands(None):
        cache.mark_warm(name)
    click.echo(f"phasecli warmup: every kernel compiled and cached in {cache.cache_dir()} "
               f"({time.monotonic() - t0:.1f} s)", err=True)
