"""completions/ must match the CLI (regenerate with completions/generate.sh) and work."""

import pathlib
import shutil
import subprocess

import pytest

from phasecli import completion

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_current(shell):
    stored = (ROOT / "completions" / f"phasecli.{shell}").read_text()
    assert completion.GENERATORS[shell]() == stored, f"completions/phasecli.{shell} is stale: run completions/generate.sh"


def _bash_complete(words):
    script = (ROOT / "completions" / "phasecli.bash").read_text()
    line = " ".join(words)
    cmd = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _phasecli; "
           'printf "%s\\n" "${COMPREPLY[@]}"')
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30).stdout.split()


def test_bash_completes_commands_options_and_choices():
    assert "generalize" in _bash_complete(["phasecli", "ge"])
    assert _bash_complete(["phasecli", "phase", "--activation", "le"]) == ["leaky_relu"]
    assert "--trainable-multiple" in _bash_complete(["phasecli", "phase", "--tr"])
    assert _bash_complete(["phasecli", "kappa", "--format", "js"]) == ["json", "jsonl"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_script_parses_where_the_shell_exists(shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = ROOT / "completions" / f"phasecli.{shell}"
    flag = ["-n"] if shell == "zsh" else ["--no-execute"]
    r = subprocess.run([shell, *flag, str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_every_command_and_option_is_offered():
    from phasecli.cli import cli
    import click

    bash = completion.bash()
    ctx = click.Context(cli, info_name="phasecli")
    for name in cli.list_commands(ctx):
        assert f"        {name})" in bash
        for param in cli.get_command(ctx, name).params:
            if isinstance(param, click.Argument):
                for choice in getattr(param.type, "choices", []):
                    assert choice in bash
                continue
            for opt in getattr(param, "opts", []):
                assert opt in bash
