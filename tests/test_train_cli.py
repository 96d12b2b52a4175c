"""`phasecli train` on the command line: eta as `phasecli lr` prints it, columns, limits and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from phasecli.cli import columns

SMALL = ("--width", "32", "--samples", "2", "--steps", "8")


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_eta_is_lr_factor_times_what_lr_prints(cli, tmp_path):
    from importlib.resources import files

    digits = np.loadtxt(files("phasecli") / "data" / "digits_train.csv", delimiter=",")[:30]
    labelled, features = tmp_path / "train.csv", tmp_path / "features.csv"
    np.savetxt(labelled, digits, delimiter=",", fmt="%g")
    np.savetxt(features, digits[:, :-1], delimiter=",", fmt="%g")
    lr = cli("lr", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--depth", "2", "--data", str(features),
             "--value", "eta_max")
    assert lr.returncode == 0, lr.stderr
    eta_max = float(lr.stdout)
    r = cli("train", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--depth", "2", "--train", str(labelled),
            "--lr-factor", "0.5,3", *SMALL, "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == ",".join(columns.TRAIN)
    rows = _rows(r.stdout)
    assert [float(row["eta"]) for row in rows] == pytest.approx([0.5 * eta_max, 3 * eta_max], rel=1e-12)
    assert rows[1]["regime"] == "divergent" and rows[1]["final_loss"] == "inf"
    # synthetic inputs: the same agreement with lr's defaults (--m 20 --dim 10 --seed 0)
    lr = cli("lr", "--depth", "1", "--value", "eta_max")
    r = cli("train", "--lr-factor", "1", *SMALL, "--value", "eta")
    assert float(r.stdout) == pytest.approx(float(lr.stdout), rel=1e-12)


def test_json_and_png(cli, tmp_path):
    path = tmp_path / "train.png"
    r = cli("train", "-a", "erf", "--train", "digits", "--examples", "20", "--lr-factor", "0.5,1.5,4", *SMALL,
            "-f", "json", "--png", str(path))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    rows = json.loads(r.stdout)
    assert [row["regime"] for row in rows][-1] == "divergent"
    assert rows[-1]["final_loss"] == "inf" and rows[-1]["lambda_max_final"] is None
    # the initial kernel does not depend on training: reported in every row, diverged or not (same networks)
    assert rows[-1]["status"] == "all networks diverged" and rows[0]["status"] == "ok"
    assert rows[-1]["lambda_max_init"] == rows[0]["lambda_max_init"] == rows[-1]["lambda_max_empirical"]
    assert rows[-1]["test_accuracy"] is None and rows[0]["test_accuracy"] is None  # no --test
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,needle", [
    (("--train", "digits"), "4,000"),  # 1000 examples x 10 outputs
    (("--examples", "1"), "--examples"),  # at least 2 examples
    (("--train", "digits", "--dim", "10"), "--train"),  # --dim describes synthetic inputs
    (("--train", "digits", "--examples", "5000"), "--examples"),
    (("-a", "relu", "--sw2", "2.5", "--sb2", "0.1"), "--no-normalize"),
    (("--lr-factor", "0"), "--lr-factor"),
    (("--depth", "0"), "--depth"),
    (("--columns", "eta,nope"), "--columns"),
])
def test_bad_input_is_one_line_exit_2(cli, args, needle):
    r = cli("train", *args, *SMALL)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr and "Traceback" not in r.stderr


def test_single_class_is_refused(cli, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("1,2,3,0\n2,1,0,0\n0,1,1,0\n")
    r = cli("train", "--train", str(path), *SMALL)
    assert r.returncode == 2 and "single class" in r.stderr and "--train" in r.stderr
