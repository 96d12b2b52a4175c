"""`phasecli kappa` and `phasecli lr` as a script sees them: columns, consistency, bad input."""

import csv
import io
import math

import numpy as np
import pytest

from phasecli.cli import KAPPA_COLUMNS, LR_COLUMNS


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_kappa_columns_and_chaotic_limit(cli):
    r = cli("kappa", "-a", "erf", "--sw2", "2.5", "--sb2", "0.05", "--m", "8", "--depth", "1,50,1000", "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split(",")[:9] == ["activation", "sw2", "sb2", "depth", "lambda_max",
                                                       "lambda_min", "lambda_bulk", "kappa", "kappa_theory"]
    assert tuple(r.stdout.splitlines()[0].split(",")) == KAPPA_COLUMNS
    rows = _rows(r.stdout)
    assert [int(x["depth"]) for x in rows] == [1, 50, 1000]
    deep = rows[-1]
    assert math.isfinite(float(deep["lambda_max"])) and abs(float(deep["kappa"]) - 1) < 1e-6
    assert deep["phase"] == "chaotic" and float(deep["kappa_theory"]) == 1.0


def test_lr_is_two_over_lambda_max_and_mean_loss_scales_by_m(cli):
    common = ("-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--m", "12", "--depth", "2,7", "-f", "csv")
    kappa = _rows(cli("kappa", *common).stdout)
    lr_sum = _rows(cli("lr", *common).stdout)
    lr_mean = _rows(cli("lr", *common, "--loss", "mean").stdout)
    assert tuple(lr_sum[0]) == LR_COLUMNS
    for k, s, mn in zip(kappa, lr_sum, lr_mean):
        lam = float(k["lambda_max"])
        assert float(s["eta_max"]) == pytest.approx(2 / lam, rel=1e-14)
        assert float(s["eta_catapult"]) == pytest.approx(4 / lam, rel=1e-14)
        assert float(mn["eta_max"]) == pytest.approx(12 * 2 / lam, rel=1e-14)


def test_kappa_reads_csv_from_stdin_and_npy(cli, tmp_path):
    X = np.random.default_rng(0).normal(size=(6, 3))
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n"
    a = _rows(cli("kappa", "--data", "-", "--depth", "4", "-f", "csv", input=text).stdout)
    np.save(tmp_path / "x.npy", X)
    b = _rows(cli("kappa", "--data", str(tmp_path / "x.npy"), "--depth", "4", "-f", "csv").stdout)
    assert a[0]["kappa"] == b[0]["kappa"] and float(a[0]["kappa"]) > 1


@pytest.mark.parametrize("content,args", [
    ("1,2\n3\n", []),
    ("1,a\n3,4\n", []),
    ("1,nan\n3,4\n", []),
    ("", []),
    ("1,2\n", []),
    ("1,2\n3,4\n", ["--depth", "0"]),
    ("1,2\n3,4\n", ["--depth", "5:1"]),
])
def test_bad_data_exit_2(cli, tmp_path, content, args):
    path = tmp_path / "data.csv"
    path.write_text(content)
    r = cli("kappa", "--data", str(path), *args)
    assert r.returncode == 2, (content, args, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_point_without_kernel_is_reported(cli):
    args = ("kappa", "-a", "relu", "--sw2", "1.5,3", "--sb2", "0.1", "--m", "5", "--depth", "3", "-f", "csv")
    r = cli(*args)
    rows = _rows(r.stdout)
    # every row carries its status: exit 0 with one warning; --strict makes a missing row a failure
    assert r.returncode == 0 and r.stderr.count("\n") == 1 and "1 of 2 points have no kernel" in r.stderr
    strict = cli(*args, "--strict")
    assert strict.returncode == 1 and strict.stdout == r.stdout and "(exit status 1)" in strict.stderr
    assert rows[0]["status"] == "ok" and rows[1]["status"] == "q_infinite" and rows[1]["kappa"] == "nan"


def test_duplicate_rows_are_reported_not_crashing(cli, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("1,2,3\n1,2,3\n0,1,5\n")
    r = cli("kappa", "--data", str(path), "--depth", "2", "-f", "csv")
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr
    row = _rows(r.stdout)[0]
    assert row["kappa"] in ("inf", "nan") or float(row["kappa"]) > 1e12


def test_png_needs_a_point_or_a_sweep(cli, tmp_path):
    r = cli("kappa", "--sw2", "1,2", "--sb2", "0.1,0.2", "--png", str(tmp_path / "k.png"))
    assert r.returncode == 2
    r = cli("kappa", "-a", "erf", "--sw2", "0.5:3:4", "--sb2", "0.1", "--m", "6", "--depth", "1:8",
            "--png", str(tmp_path / "k.png"), "-f", "csv")
    assert r.returncode == 0 and (tmp_path / "k.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_exit_status_counts_rows_with_a_value(cli):
    """Exit 1 only where no row has a value (or --strict); the same rule in every sweep command."""
    r = cli("kappa", "-a", "relu", "--sw2", "3", "--sb2", "0.1", "--m", "5", "--depth", "3", "-f", "csv")
    assert r.returncode == 1 and _rows(r.stdout)[0]["status"] == "q_infinite"
    r = cli("jacobian", "-a", "relu", "--sw2", "1,3", "--sb2", "0.1", "--depth", "5", "-f", "csv")
    assert r.returncode == 0 and "have no value" in r.stderr
    assert cli("jacobian", "-a", "relu", "--sw2", "1,3", "--sb2", "0.1", "--depth", "5", "-f", "csv",
               "--strict").returncode == 1
    assert cli("phase", "--sw2", "1", "--sb2", "0.05", "-f", "csv", "--strict").returncode == 0


@pytest.mark.slow
def test_paper_sweep_with_singular_cells_exits_0(cli, tmp_path):
    """Issue 21's Figure 3 sweep on digits: a few deep ordered cells are singular; every row is written with
    its status, one warning counts them, the figure is drawn, and the exit status is 0 (1 with --strict)."""
    png = tmp_path / "g.png"
    args = ("generalize", "--train", "digits", "--test", "digits", "--examples", "150", "--test-examples", "150",
            "-a", "erf", "--sb2", "0.1", "--depth", "1:60:6", "-f", "csv")
    r = cli(*args, "--sw2", "0.5:4:8", "--png", str(png))
    rows = _rows(r.stdout)
    assert r.returncode == 0 and len(rows) == 80 and png.stat().st_size > 0
    singular = [row for row in rows if row["status"] == "singular"]
    assert singular and f"{len(singular)} rows have no prediction" in r.stderr
    strict = cli(*args, "--sw2", "0.5", "--strict")
    assert strict.returncode == 1 and "(exit status 1)" in strict.stderr
