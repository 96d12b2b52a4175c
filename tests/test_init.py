"""`phasecli init`: the critical sw2 against the quadrature oracle and the literature, He's relu init,
the shell format evaluated by bash / sh / zsh, the default-sb2 rule against an independent
Jacobian-moment oracle, and its exits."""

import csv
import io
import math
import shutil
import subprocess
import sys
import types

import pytest
from scipy import optimize

import naive as nv
from phasecli import gate
from phasecli.cli.columns import INIT
from phasecli.errors import RuntimeFailure

TANH_CRITICAL_005 = 1.7609546396067  # the value (13 digits)


def one_row(text):
    (row,) = list(csv.DictReader(io.StringIO(text)))
    return row


def oracle_critical(act, sb2, lo, hi):
    return optimize.brentq(lambda s: nv.chi_1(act, s, nv.q_star(act, s, sb2)) - 1.0, lo, hi, xtol=1e-15, rtol=1e-15)


def test_tanh_sb2_005_depth_100_critical_sw2(cli):
    r = cli("init", "-a", "tanh", "--sb2", "0.05", "--depth", "100", "-f", "csv")
    assert r.returncode == 0, r.stderr
    row = one_row(r.stdout)
    assert list(row) == list(INIT) and row["sb2_rule"] == "given"
    sw2 = float(row["sw2"])
    assert math.isclose(sw2, TANH_CRITICAL_005, rel_tol=1e-9)
    assert math.isclose(sw2, oracle_critical("tanh", 0.05, 1.2, 2.5), rel_tol=1e-12)
    assert float(row["w_std"]) == math.sqrt(sw2) and float(row["b_std"]) == math.sqrt(0.05)
    assert math.isclose(float(row["q_star"]), nv.q_star("tanh", sw2, 0.05), rel_tol=1e-10)
    assert abs(float(row["chi_1"]) - 1.0) < 1e-12 and float(row["max_trainable_depth"]) > 1e12


def test_relu_is_he_and_leaky_relu_the_closed_form(cli):
    row = one_row(cli("init", "-a", "relu", "--depth", "50", "--fan-in", "512", "-f", "csv").stdout)
    assert (float(row["sw2"]), float(row["sb2"]), row["sb2_rule"]) == (2.0, 0.0, "he")
    assert math.isclose(float(row["w_std_standard"]), math.sqrt(2.0 / 512), rel_tol=1e-15)
    row = one_row(cli("init", "-a", "leaky_relu", "--slope", "0.1", "--depth", "50", "-f", "csv").stdout)
    assert math.isclose(float(row["sw2"]), 2.0 / (1.0 + 0.1 ** 2), rel_tol=1e-12)  # chi_1 = sw2 (1 + a^2) / 2


SHELLS = [s for s in ("bash", "sh", "zsh") if shutil.which(s)]
SHELL_CASES = {"tanh": ["-a", "tanh", "--sb2", "0.05"], "relu": ["-a", "relu"]}


@pytest.fixture(scope="module")
def shell_outputs():
    """For each case: the CSV row and the text of --format shell (one run of each)."""
    from conftest import run_cli

    out = {}
    for name, args in SHELL_CASES.items():
        base = ["init", *args, "--depth", "100", "--fan-in", "64"]
        shell = run_cli(*base, "--format", "shell")
        assert shell.returncode == 0, shell.stderr
        out[name] = (one_row(run_cli(*base, "-f", "csv").stdout), shell.stdout)
    return out


ECHO = 'printf "%s %s %s %s %s\\n" "$SW2" "$SB2" "$W_STD" "$B_STD" "$W_STD_STANDARD"'


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("case", sorted(SHELL_CASES))
def test_shell_format_evals_to_the_same_numbers(shell_outputs, shell, case):
    row, text = shell_outputs[case]
    assert text.splitlines()[0].startswith("SW2=") and text.splitlines()[1].startswith("SB2=")
    r = subprocess.run([shell, "-c", f'eval "$PHASECLI_INIT"; {ECHO}'], capture_output=True, text=True, timeout=60,
                       env={"PHASECLI_INIT": text, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    values = [float(v) for v in r.stdout.split()]
    assert values == [float(row[c]) for c in ("sw2", "sb2", "w_std", "b_std", "w_std_standard")]


def test_eval_of_the_command_substitution_in_bash():
    command = " ".join([sys.executable, "-m", "phasecli", "init", "-a", "tanh", "--sb2", "0.05", "--depth", "100",
                        "--format", "shell"])
    r = subprocess.run(["bash", "-c", f'set -eu; eval "$({command})"; echo "$SW2 $SB2"'], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    sw2, sb2 = (float(v) for v in r.stdout.split())
    assert math.isclose(sw2, TANH_CRITICAL_005, rel_tol=1e-9) and sb2 == 0.05


@pytest.mark.parametrize("args, message", [
    # softplus: E[phi^2] >= q/2 (relu's), so q* is finite only for sw2 < 2, where chi_1 = sw2 E[sigmoid^2] < 1
    # (sigmoid(u)^2 + sigmoid(-u)^2 < 1): no critical point at any sb2 > 0.  (silu and gelu have one at larger
    # sb2, just below the divergence of q*: tests/test_critical_window.py.)
    (["-a", "softplus", "--depth", "10"], "no critical point for softplus"),
    (["-a", "silu", "--sb2", "0.05", "--depth", "10"], "no critical point for silu at sb2=0.05"),
    (["-a", "relu", "--sb2", "0.1", "--depth", "10"], "q* is infinite"),
])
def test_no_critical_point_exits_1(cli, args, message):
    r = cli("init", *args)
    assert r.returncode == 1 and r.stdout == "" and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [["--depth", "0"], ["--depth", "-5"], ["--depth", "10", "--sb2", "-0.1"],
                                  ["--depth", "10", "--sb2", "nan"], [], ["--depth", "10", "-f", "shell", "--value"]])
def test_bad_input_exits_2(cli, args):
    r = cli("init", *args)
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- the default sb2
def oracle_excess(act, sw2, sb2, depth):
    """THEORY.md 'Jacobian spectrum': var_s2 - var_s2(linear, same weights) = L (mu_2 / mu_1^2 - 1) on the
    critical line (chi_1 = 1), mu_k = E[phi'(sqrt(q*) z)^(2k)] by quadrature (tests/naive.py)."""
    q = nv.q_star(act, sw2, sb2)
    sq = math.sqrt(q)
    mu1 = nv.gauss(lambda z: nv.dphi(act, sq * z) ** 2)
    mu2 = nv.gauss(lambda z: nv.dphi(act, sq * z) ** 4)
    return depth * (mu2 / mu1 ** 2 - 1.0)


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_default_sb2_is_the_largest_meeting_the_isometry_target(cli, weights):
    depth = 64
    row = one_row(cli("init", "-a", "tanh", "--depth", str(depth), "--weights", weights, "-f", "csv").stdout)
    sw2, sb2 = float(row["sw2"]), float(row["sb2"])
    assert row["sb2_rule"] == "isometry" and 1e-8 < sb2 < 0.05
    assert math.isclose(sw2, oracle_critical("tanh", sb2, 1.0, 1.5), rel_tol=1e-10)
    # the excess is 1 at the chosen sb2 (the boundary of the target) to the bisection's precision
    assert math.isclose(oracle_excess("tanh", sw2, sb2, depth), gate.ISOMETRY_EXCESS, rel_tol=1e-4)
    linear = depth if weights == "gaussian" else 0.0  # Fuss-Catalan variance L; orthogonal: 0
    assert math.isclose(float(row["var_s2"]), linear + 1.0, rel_tol=1e-4)


def _fake_isometry(excess_of_sb2):
    """A stand-in for phasecli.jacobian_spectrum whose var_s2 excess over the linear network is a known function."""

    def spectrum_moments(activation, sw2, sb2, depths, *, weights="gaussian", q0=1.0, slope=0.01):
        depth = depths[0]
        base = depth if weights == "gaussian" else 0.0
        extra = 0.0 if activation == "linear" else excess_of_sb2(sb2)
        return {"mean_s2": [1.0], "var_s2": [base + extra], "q_star": 1.0, "chi_1": 1.0, "status": "ok"}

    return types.SimpleNamespace(spectrum_moments=spectrum_moments)


def test_default_sb2_search_with_a_known_excess(monkeypatch):
    monkeypatch.setattr(gate, "_isometry", lambda: _fake_isometry(lambda b: b / 3e-4))
    sb2, rule = gate.default_sb2("erf", 10)
    assert rule == "isometry" and math.isclose(sb2, 3e-4, rel_tol=1e-5)
    monkeypatch.setattr(gate, "_isometry", lambda: _fake_isometry(lambda b: 5.0 + (b - 0.01) ** 2))
    sb2, rule = gate.default_sb2("erf", 10)
    assert rule == "isometry-best" and math.isclose(sb2, 0.01, rel_tol=1e-12)  # the grid point nearest 0.01
    monkeypatch.setattr(gate, "_isometry", lambda: _fake_isometry(lambda b: 0.0))
    assert gate.default_sb2("erf", 10) == (1.0, "isometry")  # the target holds up to the cap


def test_without_the_isometry_module_the_default_is_fixed_and_said(monkeypatch):
    monkeypatch.setattr(gate, "_isometry", lambda: None)
    rec = gate.recommend("tanh", 100)
    assert (rec.sb2, rec.sb2_rule) == (gate.FALLBACK_SB2, "fixed") and math.isnan(rec.var_s2)
    assert math.isclose(rec.sw2, TANH_CRITICAL_005, rel_tol=1e-9)
    from click.testing import CliRunner

    from phasecli.cli import cli as group

    result = CliRunner().invoke(group, ["init", "--depth", "100", "-f", "csv"])
    assert result.exit_code == 0 and "isometry analysis is not available" in result.stderr


def test_no_sb2_anywhere_is_a_runtime_failure():
    with pytest.raises(RuntimeFailure, match="no critical point for softplus"):
        gate.recommend("softplus", 10)
