"""Reading the user's inputs for a command: --data / --train / --test files, the bundled
digits, synthetic inputs, the first --examples rows (errors name the option)."""

from __future__ import annotations

import math
import os
import sys

import click

from phasecli.cli.errors import note
from phasecli.cli.options import BUNDLED_DATA, SYNTHETIC_EXAMPLES


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


def network_inputs(architectures, net, data, examples, dim, seed):
    """[(architecture, X, label, param), ...] for ``ntk.spectra_sweep``: --data once for every architecture, or
    synthetic inputs per architecture (a CNN's rows are images of net's shape unless --dim is given)."""
    given = load_inputs(data, examples, dim, seed) if data is not None else None
    label = "--data" if data is not None else "synthetic"
    param = "examples" if data is None or examples else "X"  # what sets the number of inputs
    runs = []
    for architecture in architectures:
        images = "image_shape" in net and architecture in ("cnn-f", "cnn-p")
        n_in = dim if not images or explicit("dim") else math.prod(net["image_shape"])
        X = given if given is not None else load_inputs(None, examples, n_in, seed)
        runs.append((architecture, X, label, param))
    return runs


def load_train_test(train_path, test_path, label_column, examples, test_examples, balance=False):
    """(X_train, y_train, X_test, y_test): the first --examples rows of --train, --test-examples of --test.
    With ``balance`` (--balance) the training rows are the first n of every class of --train, in file order:
    n = --examples // (number of classes), or the smallest class's count without --examples."""
    from phasecli.data import balanced_rows

    X_train, y_train = load_labelled(train_path, label_column, "train")
    X_test, y_test = load_labelled(test_path, label_column, "test")
    if balance:
        import numpy as np

        n_classes = np.unique(y_train).size
        per_class = None
        if examples is not None:
            per_class = examples // n_classes
            if per_class < 1:
                raise click.BadParameter(f"--examples {examples} is fewer than one row for each of the {n_classes} "
                                         "classes of --train", param_hint="'--balance'")
        try:
            keep = balanced_rows(y_train, per_class)
        except ValueError as exc:
            raise click.BadParameter(f"--train: {exc}", param_hint="'--balance'") from None
        return X_train[keep], y_train[keep], *_first_test(X_test, y_test, test_examples)
    X_train, y_train = first_rows((X_train, y_train), examples, "--train")
    return X_train, y_train, *_first_test(X_test, y_test, test_examples)


def _first_test(X_test, y_test, test_examples):
    if test_examples is not None and test_examples > X_test.shape[0]:
        raise click.BadParameter(f"{test_examples} rows asked, --test has {X_test.shape[0]}",
                                 param_hint="'--test-examples'")
    return X_test[:test_examples], y_test[:test_examples]


def load_training_set(train_path, label_column, examples, dim, seed):
    """(X, y or None, which option the data came from): the first --examples rows of --train, or
    --examples synthetic inputs."""
    from phasecli import ntk

    if train_path is None:
        return ntk.synthetic_data(SYNTHETIC_EXAMPLES if examples is None else examples, dim, seed), None, "--examples"
    if explicit("dim"):
        raise click.BadParameter("--dim describes synthetic inputs and cannot be used with --train",
                                 param_hint="'--train'")
    X, y = load_labelled(train_path, label_column, "train")
    X, y = first_rows((X, y), examples, "--train")
    return X, y, "--train"
