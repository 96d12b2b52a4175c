"""`phasecli warmup`: progress on stderr, nothing on stdout, every kernel compiled ahead of time."""

import subprocess
import sys

import pytest

from phasecli.cli import cli as cli_group
from phasecli.cli.cmd_warmup import JOBS


@pytest.mark.slow  # a fresh process or a full warmup: tens of seconds
def test_warmup_reports_each_job_on_stderr_and_nothing_on_stdout(cli):
    r = cli("warmup")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert [line.split()[2] for line in lines[:-1]] == [f"{k}/{len(JOBS)}" for k in range(1, len(JOBS) + 1)]
    assert [line.split()[3] for line in lines[:-1]] == [command for command, _ in JOBS]
    assert lines[-1].startswith("phasecli warmup: every kernel compiled and cached in ")


def test_warmup_runs_every_command_that_computes():
    computing = set(cli_group.commands) - {"activations", "docs", "warmup"}
    assert {command for command, _ in JOBS} == computing


@pytest.mark.slow  # a fresh process or a full warmup: tens of seconds
def test_after_warmup_commands_start_without_the_compile_notice(cli):
    assert cli("warmup").returncode == 0
    r = cli("critical", "-a", "erf", "--sb2", "0.1", "--value")
    assert r.returncode == 0 and r.stderr == ""


PROBE = """
import sys

import pytest
from phasecli.cli import main
from phasecli.expectations import kernels as _kernels
from phasecli.maps import equal_kernels as _twopoint_kernels
from phasecli.jacobian_spectrum import kernels as _isometry_kernels
from phasecli.maps import unequal_kernels as _rawdev_kernels
from phasecli.catapult_dynamics import kernels as _dynamics_kernels
from phasecli.ntk.engines import fc_kernels as _fc_kernels
from phasecli.ntk.engines import cnn_kernels as _cnn_kernels
from phasecli.finite import network_kernels as _network_kernels
from phasecli.finite import twoinput_kernels as _twoinput_kernels
for args in {commands!r}:
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code == 0, (args, exc.code)
modules = (_kernels, _twopoint_kernels, _isometry_kernels, _rawdev_kernels, _dynamics_kernels, _fc_kernels,
           _cnn_kernels, _network_kernels, _twoinput_kernels)
compiled = sorted(f"{{m.__name__}}.{{name}}" for m in modules for name, f in vars(m).items()
                  if hasattr(f, "stats") and sum(f.stats.cache_misses.values()))
print("COMPILED:", " ".join(compiled))
"""


def test_after_warmup_the_help_examples_compile_nothing(tmp_path):
    """With the cache the session's warmup filled, the main commands' help examples load every kernel
    from it: no cache miss in a fresh process (a kernel warmup forgot would be compiled here)."""
    commands = [["phase", "-a", "erf", "--sw2", "0.5:3:5", "--sb2", "0,0.05"], ["critical", "--sb2", "0:1:4"],
                ["depth-scale", "--sw2", "1:3:5", "--sb2", "0.05"],
                ["kappa", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--depth", "1,10,100"],
                ["lr", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--depth", "5,10"],
                ["check", "-a", "tanh", "--sb2", "0.05", "--depth", "200"], ["init", "-a", "relu", "--depth", "50"],
                ["jacobian", "-a", "tanh", "--sb2", "1e-4,0.05", "--depth", "8"]]
    commands = [[*c, "-f", "csv"] for c in commands]
    r = subprocess.run([sys.executable, "-c", PROBE.format(commands=commands)], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    last = r.stdout.splitlines()[-1]
    assert last.startswith("COMPILED:") and last == "COMPILED: ", f"compiled, not loaded: {last}"
