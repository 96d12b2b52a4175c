"""`phasecli catapult` on the command line: columns, formats, figures and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from phasecli.cli import columns


def test_columns_regimes_and_json_inf(cli):
    r = cli("catapult", "--lr-factor", "0.5,1.5,2,2.1", "-f", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert tuple(rows[0]) == columns.CATAPULT
    assert [row[2] for row in rows[1:]] == ["lazy", "catapult", "unconverged", "divergent"]
    assert float(rows[1][1]) == 1.0 and float(rows[2][1]) == 3.0  # eta = lr_factor * 2 / lambda0
    r = cli("catapult", "--lr-factor", "2.1", "-f", "json")
    row = json.loads(r.stdout)[0]
    assert row["final_loss"] == "inf" and row["peak_loss"] == "inf" and row["regime"] == "divergent"


def test_value_and_columns(cli):
    r = cli("catapult", "--lr-factor", "1:1.9:4", "--value", "regime")
    assert r.returncode == 0 and r.stdout.split() == ["lazy", "catapult", "catapult", "catapult"]
    r = cli("catapult", "--lr-factor", "1.5", "--width", "100000", "--columns", "steps,peak_step", "-f", "csv")
    assert r.stdout.splitlines()[0] == "steps,peak_step"


@pytest.mark.parametrize("args,option", [
    (("--lr-factor", "-1"), "--lr-factor"), (("--lr-factor", "0"), "--lr-factor"),
    (("--lr-factor", "1:2:x"), "--lr-factor"), (("--lr-factor", "2e6"), "--lr-factor"),
    (("--width", "0"), "--width"), (("--tol", "0"), "--tol"), (("--steps", "-3"), "--steps"),
    (("--lambda0", "nan"), "--lambda0"), (("--f0", "inf"), "--f0"), (("--columns", "nope"), "--columns"),
    (("--lr-factor", "1.5", "--steps", "100000000", "--png", "x.png"), "--png"),
])
def test_bad_input_is_one_line_exit_2(cli, args, option):
    r = cli("catapult", *args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and option in r.stderr and "Traceback" not in r.stderr


def test_png_curves_and_summary(cli, tmp_path):
    for spec, name in (("0.5,1.5,2.1", "curves.png"), ("0.9:2.1:400", "summary.png")):
        path = tmp_path / name
        r = cli("catapult", "--lr-factor", spec, "--png", str(path), "-f", "csv")
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # nothing but the two figures (atomic writes)


def test_help_has_examples(cli):
    r = cli("catapult", "--help")
    assert r.returncode == 0 and "Examples" in r.stdout and "--lr-factor" in r.stdout
