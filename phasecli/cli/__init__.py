"""The phasecli command line.  click and rich live in this package; the numeric core never prints.

One module per family of commands (``cmd_*.py``), each registering its commands on the
group ``cli``: a command parses its options, calls one library function (the planners beside
each numeric API, ``phasecli.runtime.plans``) and writes the result's rows to a sink.  What they share:
``options.py`` (every shared option, declared once, with its completion words), ``errors.py``
(messages and exit statuses), ``inputs.py`` (reading --data / --train / --test),
``writing.py`` and ``output.py`` (sinks), ``progress.py`` (progress bars, figures),
``columns.py`` (each command's columns), ``completion.py`` (static shell scripts) and
``api.py`` (the Python API, ``phasecli.api``).  Command modules never import each other.
Heavy modules (numpy, numba, scipy, matplotlib) are
imported inside the commands that need them, so ``phasecli --help`` and tab completion
stay instant.

Exit status: 0 success; 1 runtime failure (unconverged, no critical point, a write that
failed, an internal error); 2 bad input (one line naming the option); 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from phasecli import __version__
from phasecli.errors import RuntimeFailure

PROG = "phasecli"


# old spellings that still work, hidden from --help: each means the option it names in every command
HIDDEN_ALIASES = {"--m": "--examples"}


class PhaseCommand(click.Command):
    """A command that, once its options are parsed (so not for --help or a usage error), says on stderr
    when its first run compiles (``_compile_notice``)."""

    def invoke(self, ctx):
        _compile_notice(self.name)
        return super().invoke(ctx)


class PhaseGroup(click.Group):
    command_class = PhaseCommand

    def list_commands(self, ctx):
        return list(self.commands)  # in the order of registration, grouped by theme

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        return name, command, [_alias(arg) for arg in rest]

    def format_epilog(self, ctx, formatter):
        formatter.write_paragraph()
        formatter.write_text("Variances, never standard deviations: --sw2 1.76 means sigma_w^2 = 1.76.  "
                             "Formulas and conventions: `phasecli docs theory`.")
        formatter.write_paragraph()
        formatter.write_text("Examples:")
        with formatter.indentation():
            formatter.write_text("phasecli phase --png phase.png")
            formatter.write_text("phasecli critical --activation tanh --sb2 0.05 --value")
            formatter.write_text("phasecli depth-scale --sw2 1:3:50 --sb2 0.05 --format csv | head")


def _alias(arg: str) -> str:
    option, eq, value = arg.partition("=")
    return HIDDEN_ALIASES[option] + eq + value if option in HIDDEN_ALIASES else arg


@click.group(cls=PhaseGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name=PROG)
def cli():
    """Mean-field and NTK theory of wide deep networks, from the command line.

    Predicts, without training, which initializations (sigma_w^2, sigma_b^2) train:
    ordered and chaotic phases, the edge of chaos, depth scales, the NTK's conditioning
    and learning rates.  NTK parameterization, depth = number of hidden layers
    (`phasecli docs theory`).
    """


# the command modules, in the order `phasecli --help` lists their commands; each registers on `cli`
COMMAND_MODULES = (
    "cmd_meanfield",
    "cmd_ntk",
    "cmd_verify",
    "cmd_train",
    "cmd_gate",
    "cmd_jacobian",
    "cmd_docs",
    "cmd_warmup",
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"phasecli.cli.{_name}")

from phasecli.cli.columns import CRITICAL as CRITICAL_COLUMNS  # noqa: E402,F401  (for scripts and tests)
from phasecli.cli.columns import DEPTH_SCALE as DEPTH_COLUMNS  # noqa: E402,F401
from phasecli.cli.columns import GENERALIZE as GENERALIZE_COLUMNS  # noqa: E402,F401
from phasecli.cli.columns import KAPPA as KAPPA_COLUMNS  # noqa: E402,F401
from phasecli.cli.columns import LR as LR_COLUMNS  # noqa: E402,F401
from phasecli.cli.columns import PHASE as PHASE_COLUMNS  # noqa: E402,F401


def _one_line(message) -> str:
    return " ".join(str(message).split())


# commands that compile nothing (or, for warmup, report their own progress)
NO_KERNELS = ("activations", "docs", "warmup")


_noticed: list[str] = []  # the command whose first-run notice this process printed (marked warm on success)


def _compile_notice(command: str) -> None:
    """Say once on stderr (a terminal or not: CI logs too) that the first run of ``command`` compiles."""
    if command in NO_KERNELS:
        return
    from phasecli.runtime import cache

    if cache.is_warm(command):
        return
    _noticed.append(command)
    if sys.stderr is not None and cache.expression_tag():
        # every kernel is compiled anew for an expression (its facts and functions are compiled in)
        click.echo(f"phasecli {command}: note: compiling the numerical kernels of `{command}` for this activation "
                   "expression, once (several minutes on 2 cores; cached afterwards under the expression's hash; "
                   "`phasecli warmup -a EXPR` compiles them all ahead) ...", err=True)
    elif sys.stderr is not None:
        # measured (bench/RESULTS_first_minute.md): 45-50 s of CPU for `phase`, less for most commands
        click.echo(f"phasecli {command}: note: compiling the numerical kernels of `{command}` once (up to about "
                   "a minute on 2 cores; cached afterwards; `phasecli warmup` compiles them all ahead) ...", err=True)


def main(argv=None) -> None:
    """Console entry point: one line on stderr for errors; exit 2 usage, 1 runtime, 130 interrupted."""
    import warnings

    warnings.simplefilter("ignore")  # no Python warning reaches a user's stderr; tests run with warnings as errors
    _noticed.clear()
    args = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in args if a in cli.commands), None)
    prog = f"{PROG} {name}" if name else PROG  # one form for every error: 'phasecli kappa: error: ...'
    try:
        status = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
        if sys.stdout is not None:
            sys.stdout.flush()
        if _noticed:
            from phasecli.runtime import cache

            cache.mark_warm(_noticed[0])
    except click.exceptions.Exit as exc:
        status = exc.exit_code
    except click.UsageError as exc:
        click.echo(f"{prog}: error: {_one_line(exc.format_message())}", err=True)
        status = 2
    except click.ClickException as exc:
        click.echo(f"{prog}: error: {_one_line(exc.format_message())}", err=True)
        status = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(f"{prog}: interrupted", err=True)
        status = 130
    except BrokenPipeError:
        # the reader went away (| head): end quietly, without a traceback at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno() if sys.stdout is not None else 1)
        status = 0
    except RuntimeFailure as exc:
        click.echo(f"{prog}: error: {_one_line(exc)}", err=True)
        status = 1
    except MemoryError:
        args = list(sys.argv[1:] if argv is None else argv)
        batch = " or --batch-size" if "generalize" in args else ""
        click.echo(f"{prog}: error: out of memory (try fewer points, inputs or depths{batch})", err=True)
        status = 1
    except Exception as exc:  # noqa: BLE001 - a bug, not a user error: one line, exit 1
        where = exc.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        origin = f" at {os.path.basename(where.tb_frame.f_code.co_filename)}:{where.tb_lineno}" if where else ""
        click.echo(f"{prog}: internal error: {exc.__class__.__name__}: {_one_line(exc)}{origin} "
                   "(please report it)", err=True)
        status = 1
    sys.exit(status if isinstance(status, int) else 0)
