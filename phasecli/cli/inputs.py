"""Reading the user's inputs for a command: --data / --train / --test files, the bundled
digits, synthetic inputs, the first --examples rows (errors name the option)."""

from __future__ import annotations

import os
import sys

import click

from phasecli.cli.errors import note
from phasecli.cli.options import SYNTHETIC_EXAMPLES

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
    from phasecli import predictor

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
