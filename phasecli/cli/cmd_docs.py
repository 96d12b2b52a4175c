"""`phasecli docs`: the user documents shipped with the package (theory, conventions)."""

from __future__ import annotations

import os
import sys

import click

from phasecli.cli import cli
from phasecli.cli.errors import fail
from phasecli.cli.writing import echo_value

DOCS = {
    "theory": "theory.md",  # every formula and convention
    "cnn": "cnn.md",
    "precision": "precision.md",
    "verify": "verify.md",
    "training": "training.md",
    "jacobian": "jacobian.md",
    "gate": "gate.md",
    "distributed": "distributed.md",
    "resnet": "resnet.md",
    "activations": "activations.md",
}


@cli.command()
@click.argument("name", type=click.Choice(sorted(DOCS)), default="theory", metavar="[NAME]")
@click.option("--path", "show_path", is_flag=True, help="Print where the document is installed instead of its text.")
def docs(name, show_path):
    """Print a user document shipped with phasecli (default: theory, the formulas and conventions).

    Guides: cnn (convolutional networks), precision (data as given), verify (finite
    networks), training (catapult, train), jacobian (dynamical isometry), gate (check,
    init), distributed (Dask clusters, streaming output), resnet (residual networks and
    LayerNorm), activations (--activation EXPR: any activation as an expression in x).

    \b
    Examples:
      phasecli docs theory            # rendered, in your pager, on a terminal
      phasecli docs theory > theory.md   # the Markdown source in a pipe or a file
      phasecli docs verify
      phasecli docs --path
    """
    from importlib.resources import files

    resource = files("phasecli") / "docs" / DOCS[name]
    if show_path:
        echo_value(str(resource))
        return 0
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read the {name} document: {exc.strerror or exc}")
    if sys.stdout is not None and sys.stdout.isatty():
        _page(text)
    else:
        echo_value(text.rstrip("\n"))  # a pipe or a file gets the Markdown source
    return 0


def _page(text: str) -> None:
    """Render the Markdown on the terminal (rich) through the user's pager ($PAGER, else less -R)."""
    from rich.console import Console
    from rich.markdown import Markdown

    os.environ.setdefault("PAGER", "less -R")  # colours kept; pydoc reads $PAGER
    console = Console()
    with console.pager(styles=True):
        console.print(Markdown(text))
