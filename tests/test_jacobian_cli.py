"""`phasecli jacobian` as a user and a script see it: columns, rows, the seed's claim, errors, figures."""

import csv
import io
import json
import math

from phasecli.cli.columns import JACOBIAN, JACOBIAN_EMPIRICAL


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_columns_rows_and_the_seed_002_claim(cli):
    r = cli("jacobian", "-a", "tanh", "--sb2", "1e-4,1e-3,0.01,0.1,0.5", "--depth", "8,128", "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert tuple(r.stdout.splitlines()[0].split(",")) == JACOBIAN
    rows = _rows(r.stdout)
    assert len(rows) == 5 * 2 * 2  # sb2 x weights x depth: weights outer, depth inner
    assert [(row["weights"], row["depth"]) for row in rows[:4]] == [("gaussian", "8"), ("gaussian", "128"),
                                                                     ("orthogonal", "8"), ("orthogonal", "128")]
    assert {row["phase"] for row in rows} == {"critical"}
    var = {(float(row["sb2"]), row["weights"], int(row["depth"])): float(row["var_s2"]) for row in rows}
    sb2 = [1e-4, 1e-3, 0.01, 0.1, 0.5]
    assert var[(1e-4, "orthogonal", 128)] * 10 <= var[(1e-4, "gaussian", 128)]
    for w in ("gaussian", "orthogonal"):
        series = [var[(b, w, 128)] for b in sb2]
        assert series == sorted(series) and len(set(series)) == len(series)
    for row in rows:
        assert abs(float(row["mean_s2"]) - 1) < 1e-8 and float(row["s2_min"]) == 0.0
        assert float(row["s2_max"]) > float(row["mean_s2"])


def test_json_value_and_a_linear_network(cli):
    r = cli("jacobian", "-a", "linear", "--sw2", "1", "--sb2", "0", "--depth", "4", "-f", "json")
    assert r.returncode == 0, r.stderr
    gauss, orth = json.loads(r.stdout)
    assert gauss["var_s2"] == 4.0 and math.isclose(gauss["s2_max"], 5 ** 5 / 4 ** 4, rel_tol=1e-10)
    assert orth["var_s2"] == 0.0 and math.isclose(orth["s2_min"], 1.0, rel_tol=1e-10)
    r = cli("jacobian", "-a", "linear", "--sw2", "1", "--sb2", "0", "--depth", "4", "--weights", "orthogonal",
            "--value", "s2_max")
    assert r.returncode == 0 and math.isclose(float(r.stdout), 1.0, rel_tol=1e-10)


def test_usage_errors_are_one_line_with_status_2(cli):
    for args, option in ((["--weights", "haar"], "--weights"), (["--width", "100"], "--empirical"),
                         (["--sw2", "1,2", "--sb2", "0.1,0.2", "--png", "x.png"], "--png"),
                         (["--empirical", "--width", "20000", "--depth", "100"], "--width")):
        r = cli("jacobian", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and option in r.stderr and "Traceback" not in r.stderr


def test_no_fixed_point_is_reported_not_hidden(cli):
    r = cli("jacobian", "-a", "relu", "--sw2", "3", "--sb2", "0.1", "--depth", "5", "-f", "csv")
    assert r.returncode == 1
    rows = _rows(r.stdout)
    assert len(rows) == 2 and all(row["var_s2"] == "nan" and row["q_star"] == "inf" for row in rows)
    assert r.stderr.count("\n") == 1 and "q* is infinite" in r.stderr


def test_empirical_columns_and_figure(cli, tmp_path):
    png = tmp_path / "density.png"
    r = cli("jacobian", "-a", "tanh", "--sb2", "0.05", "--depth", "2,4", "--empirical", "--width", "64",
            "--samples", "2", "--seed", "3", "-f", "csv", "--png", str(png))
    assert r.returncode == 0, r.stderr
    assert tuple(r.stdout.splitlines()[0].split(",")) == JACOBIAN_EMPIRICAL
    rows = _rows(r.stdout)
    assert len(rows) == 4 and {row["width"] for row in rows} == {"64"} and {row["samples"] for row in rows} == {"2"}
    assert all(float(row["var_s2_se"]) > 0 and float(row["s2_max"]) > float(row["mean_s2"]) for row in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = cli("jacobian", "-a", "tanh", "--sb2", "0.05", "--depth", "2,4", "--empirical", "--width", "64",
                "--samples", "2", "--seed", "3", "-f", "csv")
    assert again.stdout == r.stdout  # reproducible streams


def test_variance_figure(cli, tmp_path):
    png = tmp_path / "var.png"
    r = cli("jacobian", "--sb2", "1e-3,0.01,0.1", "--depth", "8,32", "--png", str(png), "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
