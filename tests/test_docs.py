"""The user documents match the code: README's column lists are phasecli.cli.columns, every guide the
README or a command's help names is shipped and printed by `phasecli docs`, and no document
points users at the developers' THEORY.md."""

import re
from pathlib import Path

import pytest

from phasecli.cli import columns
from phasecli.cli.cmd_docs import DOCS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOC_DIR = ROOT / "phasecli" / "docs"

LISTED = {
    "phase": columns.PHASE, "depth-scale": columns.DEPTH_SCALE, "critical": columns.CRITICAL,
    "kappa": columns.KAPPA, "lr": columns.LR, "generalize": columns.GENERALIZE,
    "activations": columns.ACTIVATIONS, "verify": columns.VERIFY, "catapult": columns.CATAPULT,
    "train": columns.TRAIN, "jacobian": columns.JACOBIAN, "check": columns.CHECK, "init": columns.INIT,
}


def _readme_columns():
    block = README.split("Columns, in this order:", 1)[1]
    found = {}
    for m in re.finditer(r"^- `([a-z -]+)`: (then |after `phase`: )?`([^`]+)`", block, flags=re.M):
        found[m.group(1)] = tuple(c.strip() for c in " ".join(m.group(3).split()).split(","))
    return found


@pytest.mark.parametrize("command", sorted(LISTED))
def test_readme_lists_the_columns_of_the_code(command):
    assert _readme_columns()[command] == LISTED[command]


def test_readme_lists_the_empirical_jacobian_columns():
    extra = _readme_columns()["jacobian --empirical"]
    phase = columns.JACOBIAN.index("phase") + 1  # the measured columns after phase, the appended ones last
    assert columns.JACOBIAN[:phase] + extra + columns.JACOBIAN[phase:] == columns.JACOBIAN_EMPIRICAL


def test_every_guide_named_is_shipped(cli):
    top = cli("--help").stdout
    commands = re.findall(r"^  ([a-z-]+)  ", top.split("Commands:", 1)[1], flags=re.M)
    help_texts = top + "".join(cli(c, "--help").stdout for c in commands)
    named = set(re.findall(r"phasecli docs\s+([a-z]+)", README + help_texts))
    assert named and named <= set(DOCS), named - set(DOCS)
    for name, filename in DOCS.items():
        assert (DOC_DIR / filename).is_file(), filename
        r = cli("docs", name)
        assert r.returncode == 0 and r.stdout.startswith("#"), name


def test_user_documents_do_not_cite_the_developers_theory_file():
    for path in [ROOT / "README.md", *DOC_DIR.glob("*.md")]:
        assert "THEORY.md" not in path.read_text(), path
