"""Issue 7: the bad and edge inputs a careful user hits first, each a correct result or one clean line.

Every case runs the command line as a user does (a subprocess, or ``main`` in-process
where a fake terminal is needed) and checks the exit status, stdout and that stderr is a
single line without traceback or Python warning.
"""

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import run_cli_process


def _one_clean_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr and lines[0].startswith("phasecli"), stderr


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


# ------------------------------------------------------------------ 2. silent wrong results
@pytest.mark.parametrize("args", [
    ["phase", "--trainable-multiple", "nan"],
    ["depth-scale", "--trainable-multiple", "inf"],
    ["phase", "--critical-tol", "nan"],
    ["phase", "--q0", "nan"],
    ["phase", "--slope", "nan"],
    ["kappa", "--dropout", "nan"],
    ["generalize", "--train", "digits", "--test", "digits", "--ridge", "nan"],
    ["generalize", "--train", "digits", "--test", "digits", "--time", "nan"],
    ["generalize", "--train", "digits", "--test", "digits", "--eta", "inf", "--time", "1"],
])
def test_non_finite_float_options_are_refused_naming_the_option(cli, args):
    r = cli(*args)
    assert r.returncode == 2 and r.stdout == ""
    _one_clean_line(r.stderr)
    option = next(a for a in args if a.startswith("--") and a not in ("--train", "--test"))
    assert f"'{option}'" in r.stderr, r.stderr


def test_kappa_theory_overflow_is_inf_not_a_clamp(cli):
    r = cli("kappa", "-a", "erf", "--sw2", "0.3", "--sb2", "0.05", "--m", "6", "--depth", "1000", "-f", "csv")
    assert r.returncode == 0, r.stderr
    row = _rows(r.stdout)[0]
    assert row["kappa_theory"] == "inf" and row["phase"] == "ordered"


def test_empty_png_path_is_a_usage_error(cli):
    r = cli("phase", "--sw2", "1,2", "--sb2", "0,1", "--png", "")
    assert r.returncode == 2 and r.stdout == ""
    _one_clean_line(r.stderr)


def test_labels_beyond_exact_integers_are_refused(cli, tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("0.1,0.2,1e20\n0.3,0.1,2e20\n0.5,0.5,1e20\n")
    r = cli("generalize", "--train", str(train), "--test", str(train), "--depth", "1")
    assert r.returncode == 2 and "2^53" in r.stderr
    _one_clean_line(r.stderr)


def test_generalization_api_sorts_and_deduplicates_depths():
    from phasecli.ntk import predictor as gen

    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 5))
    y = (X[:, 0] > 0).astype(int)
    Xt = rng.normal(size=(20, 5))
    yt = (Xt[:, 0] > 0).astype(int)
    both = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [30, 1])
    one = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [1])
    thirty = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [30])
    assert both.depth.tolist() == [1, 30]
    assert both.test_mse[0] == pytest.approx(one.test_mse[0], rel=1e-12)
    assert both.test_mse[1] == pytest.approx(thirty.test_mse[0], rel=1e-12)
    twice = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [5, 5])
    assert twice.depth.tolist() == [5] and np.isfinite(twice.kappa).all() and twice.test_accuracy[0] > 0.5


@pytest.mark.parametrize("content,why", [
    ("1,2\n2,4\n0,1\n", "proportional rows"),
    ("1,2\n1,2\n0,1\n", "identical rows"),
    ("1\n2\n3\n", "one feature: every row proportional after normalization"),
])
def test_singular_data_is_reported_in_status_and_stderr(cli, tmp_path, content, why):
    path = tmp_path / "x.csv"
    path.write_text(content)
    r = cli("kappa", "-a", "erf", "--sw2", "2", "--sb2", "0.1", "--data", str(path), "--depth", "1,5", "-f", "csv")
    assert r.returncode == 0, (why, r.stderr)
    rows = _rows(r.stdout)
    assert {row["status"] for row in rows} == {"singular"}, why
    assert all(row["kappa"] == "inf" for row in rows)
    _one_clean_line(r.stderr)
    assert "singular" in r.stderr


# ------------------------------------------------------------------ 3. figures that came out blank
def _distinct_colours(path):
    from matplotlib.image import imread

    img = imread(str(path))
    return len(np.unique(np.round(img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))


@pytest.mark.parametrize("args", [
    ["kappa", "--sw2", "1.5", "--sb2", "0,0.05,0.1", "--m", "6", "--depth", "1:20"],
    ["kappa", "--sw2", "0.8,1.5,3", "--sb2", "0.05", "--m", "6", "--depth", "4"],
    ["generalize", "--train", "digits", "--test", "digits", "--examples", "200", "--balance", "--test-examples", "200",
     "-a", "erf", "--sw2", "2", "--sb2", "0.05,0.5", "--depth", "1,5,20"],
    ["phase", "--sw2", "1", "--sb2", "0:1:8"],
    ["depth-scale", "--sw2", "0.5:3:12", "--sb2", "0:0.5:6"],
])
def test_every_sweep_shape_draws_a_non_blank_figure(cli, tmp_path, args):
    path = tmp_path / "fig.png"
    r = cli(*args, "--png", str(path), "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert _distinct_colours(path) > 40


@pytest.mark.parametrize("args", [
    ["phase", "--sw2", "1.5", "--sb2", "0.05"],
    ["depth-scale", "--sw2", "1.5", "--sb2", "0.05"],
    ["kappa", "--sw2", "1,2", "--sb2", "0,0.1", "--m", "4", "--depth", "3"],
    ["kappa", "--m", "4", "--depth", "3"],
    ["critical", "--sb2", "0.05"],
])
def test_sweeps_without_a_figure_are_refused_before_any_work(cli, tmp_path, args):
    path = tmp_path / "fig.png"
    r = cli(*args, "--png", str(path))
    assert r.returncode == 2 and r.stdout == "" and not path.exists()
    _one_clean_line(r.stderr)


# ------------------------------------------------------------------ 4. write failures
def test_closed_stdout_is_one_line_exit_1():
    r = subprocess.run(f"{sys.executable} -m phasecli activations >&-", shell=True, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    _one_clean_line(r.stderr)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_full_disk_is_one_line_exit_1(fmt):
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "phasecli", "activations", "-f", fmt], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 1
    _one_clean_line(r.stderr)
    assert "No space left" in r.stderr


# ------------------------------------------------------------------ 5. hangs
def test_long_table_into_a_pipe_streams_like_csv():
    cmd = (f"{sys.executable} -m phasecli phase --sw2 0.5:4:200 --sb2 0:1:200 -f table | head -3; "
           "exit ${PIPESTATUS[0]}")
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0 and r.stderr == ""
    header, first = r.stdout.splitlines()[:2]
    assert header.split()[:3] == ["activation", "sw2", "sb2"] and first.split()[0] == "tanh"
    assert elapsed < 60  # generous: the 200 x 200 table used to print nothing for 180 s


def test_ctrl_c_ends_a_long_grid_quickly_with_130():
    p = subprocess.Popen([sys.executable, "-m", "phasecli", "phase", "--sw2", "0.5:4:3000", "--sb2", "0:1:3000",
                          "-f", "csv"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(4.0)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    # the 9-million-cell grid takes minutes: ending within seconds shows the interrupt is not
    # held until the grid is done (a generous bound, since CI machines are shared)
    assert rc == 130 and time.monotonic() - t0 < 20.0
    err = p.stderr.read()
    assert "interrupted" in err and "Traceback" not in err


# ------------------------------------------------------------------ 6. pipes and CI
def test_value_into_head_under_pipefail_exits_0():
    cmd = f"set -o pipefail; {sys.executable} -m phasecli critical --sb2 0:1:400 --value | head -1"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stderr == "" and float(r.stdout) == 1.0


def test_json_keeps_inf_apart_from_nan(cli):
    r = cli("depth-scale", "-a", "relu", "--sw2", "2,2.5", "--sb2", "0", "-f", "json")
    rows = json.loads(r.stdout)
    assert rows[0]["xi_c"] == "inf" and rows[0]["max_trainable_depth"] == "inf"  # marginal relu: the best case
    assert rows[1]["xi_c"] is None or isinstance(rows[1]["xi_c"], float)
    r = cli("phase", "-a", "relu", "--sw2", "3", "--sb2", "0.1", "-f", "jsonl")
    row = json.loads(r.stdout)
    assert row["q_star"] == "inf" and row["c_star"] is None


@pytest.mark.parametrize("args,option", [
    (["kappa", "--data", "DATA", "--seed", "5"], "--seed"),  # --examples N with --data takes its first N rows
    (["kappa", "--data", "DATA", "--dim", "3", "--seed", "2"], "--dim"),
    (["generalize", "--train", "digits", "--test", "digits", "--eta", "1"], "--eta"),
])
def test_options_that_would_be_ignored_are_refused(cli, tmp_path, args, option):
    data = tmp_path / "x.csv"
    data.write_text("1,2\n3,5\n")
    r = cli(*[str(data) if a == "DATA" else a for a in args])
    assert r.returncode == 2 and option in r.stderr
    _one_clean_line(r.stderr)


def test_internal_errors_are_not_blamed_on_the_user(monkeypatch, capsys):
    from phasecli import meanfield
    from phasecli.cli import main

    def broken(*args, **kwargs):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(meanfield, "solve_critical", broken)
    with pytest.raises(SystemExit) as exc:
        main(["critical", "--sb2", "0.05"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "internal error" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ 1. first-run compile notice
@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_compile_notice_once_on_stderr_terminal_or_not(monkeypatch, capsys, terminal):
    from phasecli.runtime import cache as _cachedir
    from phasecli import cli as cli_package

    class Stream(io.StringIO):
        def isatty(self):
            return terminal

    warm = set()
    monkeypatch.setattr(_cachedir, "is_warm", lambda tag: tag in warm)
    monkeypatch.setattr(_cachedir, "mark_warm", lambda tag: warm.add(tag))
    fake, out = Stream(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    monkeypatch.setattr(sys, "stdout", out)
    for _ in range(2):
        with pytest.raises(SystemExit) as exit_:
            cli_package.main(["critical", "--sb2", "0.05", "-f", "csv"])
        assert exit_.value.code == 0
    lines = fake.getvalue().splitlines()
    assert len(lines) == 1 and "compiling" in lines[0] and "`critical`" in lines[0] and warm == {"critical"}
    assert "compiling" not in out.getvalue()  # stdout carries data only
    with pytest.raises(SystemExit):
        cli_package.main(["activations", "-f", "csv"])  # compiles nothing: no notice
    with pytest.raises(SystemExit):
        cli_package.main(["phase", "--help"])
    assert len(fake.getvalue().splitlines()) == 1
    warm.clear()
    with pytest.raises(SystemExit) as exit_:
        cli_package.main(["critical", "--sb2", "abc"])  # a usage error: its one line, no notice
    assert exit_.value.code == 2 and len(fake.getvalue().splitlines()) == 2 and not warm
    assert "compiling" not in fake.getvalue().splitlines()[-1]
    capsys.readouterr()


@pytest.mark.slow  # a fresh process or a full warmup: tens of seconds
def test_numba_cache_lives_outside_the_package(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("NUMBA_CACHE_DIR", None)
    # catapult: the smallest kernels (seconds to compile), so an empty cache costs little here
    r = run_cli_process("catapult", "--lr-factor", "0.5", "--steps", "20", "--value", "regime", env=env)
    assert r.returncode == 0 and r.stdout == "lazy\n"  # lr_factor < 1: the lazy regime
    cached = list((tmp_path / "cache" / "phasecli" / "numba").rglob("*.nbi"))
    assert cached, "the kernels were not cached in the per-user directory"
    import phasecli

    package = os.path.dirname(phasecli.__file__)
    assert not [f for f in os.listdir(package) if f.endswith((".nbi", ".nbc"))]
    assert not any(f.endswith((".nbi", ".nbc")) for root, _, files in os.walk(package) for f in files)
    explicit = tmp_path / "explicit"
    r = run_cli_process("catapult", "--lr-factor", "0.5", "--steps", "20", "--value", "regime",
                        env=dict(env, NUMBA_CACHE_DIR=str(explicit)))
    assert r.returncode == 0 and list(explicit.rglob("*.nbi"))


def test_depth_scales_on_the_root_solved_critical_line_are_never_negative():
    from phasecli import meanfield

    line = meanfield.solve_critical("tanh", [0.05, 0.3])
    for sw2c, sb2 in zip(line.sw2_critical, line.sb2):
        for sw2 in (sw2c, np.nextafter(sw2c, 0), np.nextafter(sw2c, 9)):
            grid = meanfield.solve_phase("tanh", [sw2], [sb2])
            assert grid.phase[0, 0] == "critical"
            for name in ("xi_c", "max_trainable_depth"):
                value = getattr(grid, name)[0, 0]
                assert value > 1e6, (name, value)
            assert np.isnan(grid.xi_star[0, 0]) or grid.xi_star[0, 0] > 1e6


@pytest.mark.parametrize("activation,sw2", [("relu", 2.0), ("linear", 1.0), ("leaky_relu", 2.0 / (1 + 0.01 ** 2))])
def test_linear_length_map_at_slope_one_with_bias_has_no_fixed_point(cli, activation, sw2):
    """q^{l+1} = q^l + sb2 grows without bound: q* is infinite, never a rounding-made root near 1e15."""
    from phasecli import meanfield

    grid = meanfield.solve_phase(activation, [sw2], [0.05, 0.0])
    assert grid.fixed_point[0, 0] == "infinite" and math.isinf(grid.q_star[0, 0])
    assert grid.fixed_point[0, 1] == "marginal" and grid.q_star[0, 1] == 1.0
    line = meanfield.solve_critical(activation, [0.0, 0.05])  # chi_1 does not depend on q: the line exists
    assert list(line.status) == ["ok", "ok"] and line.sw2_critical[1] == pytest.approx(sw2, rel=1e-12)
    assert line.q_star[0] == 1.0 and math.isinf(line.q_star[1])
    r = cli("lr", "-a", activation, "--sw2", repr(sw2), "--sb2", "0.05", "--m", "4", "--depth", "3", "-f", "csv")
    assert r.returncode == 1 and _rows(r.stdout)[0]["status"] == "q_infinite"
    _one_clean_line(r.stderr)
