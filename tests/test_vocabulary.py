"""One vocabulary: an option name means the same thing in every command (the same metavar, the same kind
of value, on/off or not), old spellings stay as hidden aliases, and every error and warning line has one form."""

import click
import pytest

from phasecli.cli import cli


def _commands():
    ctx = click.Context(cli, info_name="phasecli")
    for name in cli.list_commands(ctx):
        yield name, cli.get_command(ctx, name)


def _describe(command, param):
    ctx = click.Context(command, info_name=command.name)
    return (param.make_metavar(ctx) if not param.is_flag else "FLAG", bool(param.is_flag),
            type(param.type).__name__ if not isinstance(param.type, click.Choice) else "Choice")


def test_each_option_means_the_same_in_every_command():
    seen = {}
    for name, command in _commands():
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            for opt in param.opts + param.secondary_opts:
                seen.setdefault(opt, {}).setdefault(_describe(command, param), []).append(name)
    differing = {opt: forms for opt, forms in seen.items() if len(forms) > 1}
    assert not differing, "\n".join(f"{opt}: {forms}" for opt, forms in differing.items())


def test_metavars_name_what_they_hold():
    generic = {"TEXT"}  # a string that says nothing of what it holds
    for name, command in _commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.is_flag and not param.hidden:
                metavar = param.make_metavar(click.Context(command, info_name=name))
                assert metavar not in generic, f"{name} {param.opts[0]}: metavar {metavar}"


@pytest.mark.parametrize("old, new, command", [
    ("--m", "--examples", "kappa"), ("--m", "--examples", "lr"), ("--m", "--examples", "check"),
    ("--m", "--examples", "train"),
])
def test_old_spellings_are_hidden_aliases(cli, old, new, command):
    args = {"kappa": ["--depth", "2", "--sw2", "1.5"], "lr": ["--depth", "2", "--sw2", "1.5"],
            "check": ["--depth", "10", "--lr", "0.1"],
            "train": ["--width", "8", "--samples", "1", "--steps", "2", "--lr-factor", "0.5"]}[command]
    a = cli(command, *args, old, "6", "-f", "csv")
    b = cli(command, *args, new, "6", "-f", "csv")
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout, a.stderr + b.stderr
    assert old not in cli(command, "--help").stdout.split()


def test_errors_and_warnings_have_one_form(cli):
    usage = cli("kappa", "--sw2", "x")
    runtime = cli("critical", "-a", "silu", "--sb2", "0.05", "--value")
    warning = cli("kappa", "-a", "relu", "--sw2", "1,3", "--sb2", "0.1", "--m", "5", "--depth", "3", "-f", "csv")
    assert usage.returncode == 2 and usage.stderr.startswith("phasecli kappa: error: ")
    assert runtime.returncode == 1 and runtime.stderr.startswith("phasecli critical: error: ")
    assert warning.returncode == 0 and warning.stderr.startswith("phasecli kappa: warning: ")


def test_a_column_name_means_one_thing():
    """Every column name two or more commands write has one documented meaning (columns.SHARED)."""
    from phasecli.cli import columns

    tables = {name: getattr(columns, name) for name in dir(columns)
              if name.isupper() and isinstance(getattr(columns, name), tuple)}
    users = {}
    for table, names in tables.items():
        for name in names:
            users.setdefault(name, set()).add(table)
    shared = {name for name, where in users.items() if len(where) > 1}
    assert shared == set(columns.SHARED), (sorted(shared - set(columns.SHARED)), sorted(set(columns.SHARED) - shared))
    assert all(isinstance(text, str) and len(text) > 10 for text in columns.SHARED.values())
