"""completions/ must match the CLI (regenerate with completions/generate.sh) and work in the real shells.

The shells are driven as a user drives them (tests/shell_drive.py): a line is typed and TAB pressed in an
interactive bash / zsh on a pseudo-terminal, and fish answers ``complete -C``.  What they must offer is
read from the click command tree: every command, every option, and every option's value set (choices,
column names, comma lists after a comma, ``--option=value``, bundled data names beside file names).
A shell that is not installed is skipped, unless PHASECLI_REQUIRE_SHELLS=1 (.ci/run sets it after
installing zsh and fish), where its absence fails.
"""

import os
import pathlib
import shutil

import click
import pytest

from phasecli.cli import completion
from shell_drive import Bash, Zsh, fish_complete

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = {shell: str(ROOT / "completions" / f"phasecli.{shell}") for shell in ("bash", "zsh", "fish")}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_current(shell):
    stored = (ROOT / "completions" / f"phasecli.{shell}").read_text()
    assert completion.GENERATORS[shell]() == stored, f"completions/phasecli.{shell} is stale: run completions/generate.sh"


def _need(shell):
    if shutil.which(shell) is None:
        if os.environ.get("PHASECLI_REQUIRE_SHELLS") == "1":
            pytest.fail(f"{shell} is not installed but PHASECLI_REQUIRE_SHELLS=1")
        pytest.skip(f"{shell} is not installed")


# ----------------------------------------------------------------------------- what the CLI declares
def _tree():
    from phasecli.cli import cli

    ctx = click.Context(cli, info_name="phasecli")
    for name in cli.list_commands(ctx):
        yield name, cli.get_command(ctx, name)


def _value_words(command, param):
    ctx = click.Context(command, info_name=command.name)
    return [str(i.value) for i in param.shell_complete(ctx, "") if i.type == "plain"]


def _is_list(command, param, words):
    ctx = click.Context(command, info_name=command.name)
    return any(str(i.value) == f"{words[0]},{words[1]}" for i in param.shell_complete(ctx, f"{words[0]},"))


def cases():
    """(line, expected words, exact) for every command, option and value set; words are compared after
    dropping what the shell keeps of the typed token (the part before the last comma or '=')."""
    out = []
    names = [name for name, _ in _tree()]
    out.append(("phasecli ", names, False))
    for name, command in _tree():
        out.append((f"phasecli {name[:-1]}", [name], False))
        longs = [o for p in command.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts
                 if o.startswith("--")]
        out.append((f"phasecli {name} --", longs, False))
        for param in command.params:
            if isinstance(param, click.Argument):
                words = _value_words(command, param)
                if words:
                    out.append((f"phasecli {name} ", words, False))
                continue
            if param.is_flag:
                continue
            words = _value_words(command, param)
            if not words:
                continue
            long = next(o for o in param.opts if o.startswith("--"))
            files = any(i.type == "file" for i in param.shell_complete(click.Context(command), ""))
            out.append((f"phasecli {name} {long} ", words, not files))
            out.append((f"phasecli {name} {long}=", words, not files))
            if len(words) > 1 and _is_list(command, param, words):
                out.append((f"phasecli {name} {long} {words[0]},", [w for w in words if w != words[0]], True))
    return out


CASES = cases()


def _norm_word(word):
    if word.startswith("-"):
        option, _, value = word.partition("=")
        if not value:
            return option  # zsh offers --format= for an option that takes a value
        word = value  # fish offers --format=csv for --format=
    return word.rpartition(",")[2]


def _norm(words):
    return sorted({_norm_word(w) for w in words if w})


def _check(line, expected, exact, got, shell):
    got = _norm(got)
    want = _norm(expected)
    if exact:
        assert got == want, f"{shell}: {line!r} offers {got}, expected {want}"
    else:
        missing = sorted(set(want) - set(got))
        assert not missing, f"{shell}: {line!r} does not offer {missing} (got {got[:20]}...)"


def test_cases_cover_every_value_set():
    lines = [line for line, _, _ in CASES]
    assert any("--columns kappa," not in line and "kappa --columns" in line for line in lines)
    assert "phasecli jacobian --weights gaussian," in lines
    assert "phasecli generalize --architecture fc," in lines
    assert "phasecli kappa --format=" in lines
    assert len(CASES) > 150


@pytest.mark.parametrize("shell_class", [Bash, Zsh], ids=["bash", "zsh"])
def test_interactive_shell_completes_everything(shell_class):
    shell = shell_class.argv[0]
    _need(shell)
    session = shell_class(SCRIPTS[shell])
    try:
        pathlib.Path(session.dir, "figure-here.png").write_text("")
        for line, expected, exact in CASES:
            got = session.complete(line)
            assert "invalid option definition" not in session.last_output, session.last_output
            assert "command not found" not in session.last_output, session.last_output
            _check(line, expected, exact, got, shell)
        assert "figure-here.png" in session.complete("phasecli kappa --png fig")
        assert "figure-here.png" in session.complete("phasecli generalize --train fig")
        assert session.complete("phasecli kappa --sw2 ") == []  # a number: nothing to offer, not file names
    finally:
        session.close()


def test_fish_completes_everything():
    _need("fish")
    answers = fish_complete(SCRIPTS["fish"], [line for line, _, _ in CASES])
    assert len(answers) == len(CASES)
    for (line, expected, exact), got in zip(CASES, answers):
        _check(line, expected, exact, got, "fish")
