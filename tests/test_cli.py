"""The command line as a user and a script see it: columns, formats, errors, exit codes."""

import csv
import io
import json
import math
import subprocess
import sys

import pytest

from phasecli.cli import CRITICAL_COLUMNS, DEPTH_COLUMNS, PHASE_COLUMNS

REQUIRED_PHASE = ["activation", "sw2", "sb2", "q_star", "c_star", "chi_1", "chi_c", "xi_q", "xi_c", "xi_grad",
                  "xi_1", "xi_star", "max_trainable_depth", "phase"]


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_phase_csv_columns_are_stable(cli):
    r = cli("phase", "--sw2", "1,3", "--sb2", "0.05", "--format", "csv")
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert header[: len(REQUIRED_PHASE)] == REQUIRED_PHASE
    assert tuple(header) == PHASE_COLUMNS
    rows = _csv(r.stdout)
    assert [row["phase"] for row in rows] == ["ordered", "chaotic"]
    assert float(rows[0]["c_star"]) == 1.0 and float(rows[1]["c_star"]) < 1.0
    assert math.isclose(float(rows[0]["max_trainable_depth"]), 6 * float(rows[0]["xi_c"]))


def test_default_format_is_csv_in_a_pipe(cli):
    r = cli("phase", "--sw2", "1", "--sb2", "0.05")
    assert r.stdout.startswith("activation,sw2,sb2,")


def test_non_finite_values_are_inf_nan_in_csv_and_inf_string_null_in_json(cli):
    r = cli("phase", "-a", "relu", "--sw2", "3", "--sb2", "0.1", "-f", "csv")
    row = _csv(r.stdout)[0]
    assert row["q_star"] == "inf" and row["c_star"] == "nan" and row["fixed_point"] == "infinite"
    r = cli("phase", "-a", "relu", "--sw2", "3", "--sb2", "0.1", "-f", "json")
    obj = json.loads(r.stdout)[0]
    assert obj["q_star"] == "inf" and obj["c_star"] is None and obj["chi_1"] == 1.5


def test_jsonl_and_tsv(cli):
    r = cli("depth-scale", "--sw2", "1:2:3", "--sb2", "0.05", "-f", "jsonl")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["sw2"] for d in lines] == [1.0, 1.5, 2.0] and list(lines[0]) == list(DEPTH_COLUMNS)
    r = cli("depth-scale", "--sw2", "1", "--sb2", "0.05", "-f", "tsv")
    assert r.stdout.splitlines()[0].split("\t") == list(DEPTH_COLUMNS)


def test_table_format(cli):
    r = cli("phase", "--sw2", "1.5", "--sb2", "0.05", "-f", "table")
    assert r.returncode == 0 and "ordered" in r.stdout and "q_star" in r.stdout


def test_critical_value_for_command_substitution(cli):
    r = cli("critical", "--activation", "tanh", "--sb2", "0.05", "--value")
    assert r.returncode == 0 and r.stderr == ""
    value = float(r.stdout.strip())
    assert abs(value - 1.76) < 0.005  # literature: tanh, sb2 = 0.05 is critical at sw2 ~= 1.76
    r = cli("critical", "--activation", "tanh", "--sb2", "0.05", "--format", "csv")
    assert r.stdout.splitlines()[0].split(",") == list(CRITICAL_COLUMNS)


def test_critical_without_crossing_exits_1(cli):
    r = cli("critical", "-a", "silu", "--sb2", "0.05", "-f", "csv")
    assert r.returncode == 1
    assert _csv(r.stdout)[0]["status"] == "q_infinite" and _csv(r.stdout)[0]["sw2_critical"] == "nan"
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = cli("critical", "-a", "silu", "--sb2", "0.05", "--value")
    assert r.returncode == 1 and r.stdout.strip() == ""


def test_activations_listed(cli):
    r = cli("activations", "-f", "csv")
    names = [row["name"] for row in _csv(r.stdout)]
    for name in ["tanh", "erf", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "sigmoid", "sin",
                 "linear", "hard_tanh"]:
        assert name in names


@pytest.mark.parametrize("args", [
    ["phase", "--sw2", "1:2"],
    ["phase", "--sw2", "1:2:0"],
    ["phase", "--sw2", "a,b"],
    ["phase", "--sw2", "-1"],
    ["phase", "--sb2", "inf"],
    ["phase", "--sb2", "nan"],
    ["phase", "-a", "swishy"],
    ["phase", "-f", "xml"],
    ["phase", "--sw2", "0:1:100000", "--sb2", "0:1:100000"],
    ["phase", "--sw2", "0:1:10000", "--sb2", "0:1:10000", "--png", "big.png"],
    ["phase", "--png", "/nonexistent-dir/x.png"],
    ["critical", "--sw2-range", "5:1"],
    ["depth-scale", "--q0", "-1"],
    ["phase", "--sw2", "1:2:1e12"],
])
def test_usage_errors_one_line_exit_2(cli, args):
    r = cli(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("phasecli")
    assert r.stdout == ""


def test_head_ends_quietly():
    cmd = f"{sys.executable} -m phasecli phase --sw2 0.5:4:60 --sb2 0:1:60 -f csv | head -1; exit ${{PIPESTATUS[0]}}"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.startswith("activation,")


def test_help_has_examples_and_says_variances(cli):
    r = cli("phase", "--help")
    assert r.returncode == 0 and "Examples" in r.stdout and "VARIANCE" in r.stdout


def test_help_imports_no_heavy_modules():
    code = ("import sys\nfrom phasecli.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY=' + ','.join(m for m in ('numba', 'scipy', 'matplotlib', 'numpy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "Usage:" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "HEAVY=", r.stdout


def test_python_dash_m_and_version(cli):
    r = cli("--version")
    assert r.returncode == 0 and "phasecli" in r.stdout


def test_png_outputs(cli, tmp_path):
    for args, name in [(["phase", "--sw2", "0.5:4:12", "--sb2", "0:1:10"], "phase.png"),
                       (["phase", "--sw2", "0.5:4:12", "--sb2", "0.05"], "phase1d.png"),
                       (["depth-scale", "--sw2", "0.5:4:20", "--sb2", "0.05"], "xi1d.png"),
                       (["depth-scale", "--sw2", "0.5:4:12", "--sb2", "0:1:8"], "xi2d.png"),
                       (["critical", "--sb2", "0:1:6"], "crit.png")]:
        path = tmp_path / name
        r = cli(*args, "--png", str(path), "-f", "csv")
        assert r.returncode == 0, r.stderr
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".phasecli-")]


def test_failed_png_write_leaves_nothing_and_exits_1(tmp_path, monkeypatch, capsys):
    from phasecli import cli as cli_module
    from phasecli.cli import output

    target = tmp_path / "out.png"

    def broken_savefig(fig, path):
        with output.atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"partial")
            raise OSError(28, "No space left on device")

    import phasecli.plotting.base as base
    import phasecli.plotting.meanfield as mf_plots
    monkeypatch.setattr(base, "save", broken_savefig)
    monkeypatch.setattr(mf_plots, "save", broken_savefig)
    with pytest.raises(SystemExit) as exc:
        cli_module.main(["critical", "--sb2", "0,0.05", "--png", str(target), "-f", "csv"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "No space left" in err
    assert list(tmp_path.iterdir()) == []
