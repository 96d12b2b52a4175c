"""completions/ must match what the CLI generates (regenerate with completions/generate.sh)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_current(shell):
    env = dict(os.environ, _PHASECLI_COMPLETE=f"{shell}_source")
    code = "from phasecli.cli import cli; cli.main(prog_name='phasecli')"
    generated = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                               timeout=60).stdout
    stored = (ROOT / "completions" / f"phasecli.{shell}").read_text()
    assert generated == stored, f"completions/phasecli.{shell} is stale: run completions/generate.sh"


def test_completion_offers_subcommands_and_activations():
    code = "from phasecli.cli import cli; cli.main(prog_name='phasecli')"
    env = dict(os.environ, _PHASECLI_COMPLETE="bash_complete", COMP_WORDS="phasecli phase --activation le",
               COMP_CWORD="3")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60).stdout
    assert "leaky_relu" in out
