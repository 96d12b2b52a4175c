"""`phasecli warmup`: progress on stderr, nothing on stdout, every kernel compiled ahead of time."""

import os
import subprocess
import sys

import pytest

from phasecli.cli import cli as cli_group
from phasecli.cli.cmd_warmup import JOBS


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


def test_after_warmup_commands_start_without_the_compile_notice(cli):
    assert cli("warmup").returncode == 0
    r = cli("critical", "-a", "erf", "--sb2", "0.1", "--value")
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.slow
def test_warmup_compiles_what_the_commands_use(tmp_path):
    """After a warmup on an empty cache, the help examples of the main commands compile nothing more."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "phasecli", "warmup"], capture_output=True, text=True, env=env,
                       timeout=1800, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = sorted(p.name for p in (tmp_path / "cache").rglob("*.nbc"))
    assert before
    for args in (["phase", "-a", "erf", "--sw2", "0.5:3:5", "--sb2", "0,0.05"], ["critical", "--sb2", "0:1:4"],
                 ["depth-scale", "--sw2", "1:3:5", "--sb2", "0.05"],
                 ["kappa", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--depth", "1,10,100"],
                 ["lr", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--depth", "5,10"],
                 ["check", "-a", "tanh", "--sb2", "0.05", "--depth", "200"], ["init", "-a", "relu", "--depth", "50"],
                 ["jacobian", "-a", "tanh", "--sb2", "1e-4,0.05", "--depth", "8"]):
        r = subprocess.run([sys.executable, "-m", "phasecli", *args, "-f", "csv"], capture_output=True, text=True,
                           env=env, timeout=600, cwd=tmp_path)
        assert r.returncode == 0, (args, r.stderr)
        assert "compiling" not in r.stderr, args
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.nbc")) == before
