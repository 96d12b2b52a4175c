"""kappa / lr / generalize with --architecture, --filter, --image-shape."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from phasecli.cli import columns


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_architecture_column_is_appended():
    """appended after the columns that existed before it, and kept there when later columns are appended"""
    assert columns.KAPPA.index("architecture") == 17 and columns.LR.index("architecture") == 11
    assert columns.GENERALIZE.index("architecture") == 13 and columns.LR[11:] == ("architecture", "residual_scale",
                                                                                    "layer_norm")
    assert columns.KAPPA[18:] == ("kappa_limit", "residual_scale", "layer_norm")  # appended later
    assert columns.KAPPA.index("status") == 16 and columns.GENERALIZE.index("status") == 12


def test_kappa_cnn_on_default_synthetic_images(cli):
    res = cli("kappa", "-a", "erf", "--sw2", "4", "--sb2", "0.05", "--architecture", "cnn-p", "--m", "4",
              "--depth", "1,50", "-f", "csv")
    assert res.returncode == 0, res.stderr
    rows = _rows(res.stdout)
    assert [r["architecture"] for r in rows] == ["cnn-p", "cnn-p"]
    assert float(rows[0]["kappa"]) > float(rows[1]["kappa"]) > 1.0 and rows[1]["phase"] == "chaotic"


def test_lr_cnn_from_a_file(cli, tmp_path):
    path = tmp_path / "img.csv"
    np.savetxt(path, np.random.default_rng(0).standard_normal((4, 30)), delimiter=",")
    res = cli("lr", "-a", "relu", "--sw2", "2", "--sb2", "0", "--data", str(path), "--architecture", "cnn-f",
              "--image-shape", "5,3,2", "--filter", "3", "--depth", "1,2", "-f", "csv")
    assert res.returncode == 0, res.stderr
    rows = _rows(res.stdout)
    assert len(rows) == 2 and all(r["architecture"] == "cnn-f" for r in rows)
    assert abs(float(rows[0]["eta_max"]) * float(rows[0]["lambda_max"]) - 2.0) < 1e-12


@pytest.mark.parametrize("args,needle", [
    (["--architecture", "cnn-f", "--dim", "10"], "H*W*C"),
    (["--architecture", "cnn-f", "--filter", "4"], "odd"),
    (["--architecture", "cnn-f", "--filter", "7"], "does not fit"),
    (["--architecture", "cnn-f", "--image-shape", "3,3"], "H,W,C"),
    (["--image-shape", "6,6,3"], "convolutional"),
    (["--architecture", "cnn-f", "--dropout", "0.5"], "fully connected"),
    (["--architecture", "cnn"], "cnn"),
])
def test_usage_errors_exit_2(cli, args, needle):
    res = cli("kappa", "--depth", "1", *args)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 3


def test_image_file_needs_its_shape(cli, tmp_path):
    path = tmp_path / "img.csv"
    np.savetxt(path, np.ones((3, 12)) + np.eye(3, 12), delimiter=",")
    res = cli("kappa", "--data", str(path), "--architecture", "cnn-p", "--depth", "1")
    assert res.returncode == 2 and "--image-shape" in res.stderr


def test_generalize_compares_architectures_with_a_figure(cli, tmp_path):
    rng = np.random.default_rng(3)
    for name, n in (("train", 10), ("test", 5)):
        labels = np.arange(n) % 2
        X = rng.standard_normal((n, 9)) + labels[:, None]
        np.savetxt(tmp_path / f"{name}.csv", np.column_stack([X, labels]), delimiter=",")
    png = tmp_path / "cnn.png"
    res = cli("generalize", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "-a", "erf",
              "--sw2", "0.5,3", "--sb2", "0.1", "--architecture", "cnn-f,cnn-p", "--image-shape", "3,3,1",
              "--depth", "1,3", "-f", "csv", "--png", str(png))
    assert res.returncode == 0, res.stderr
    rows = _rows(res.stdout)
    assert len(rows) == 2 * 2 * 2
    assert [r["architecture"] for r in rows[:4]] == ["cnn-f"] * 4 and rows[-1]["architecture"] == "cnn-p"
    assert png.stat().st_size > 10_000


def test_generalize_rows_of_the_wrong_length(cli, tmp_path):
    X = np.column_stack([np.random.default_rng(0).standard_normal((6, 10)), np.arange(6) % 2])
    np.savetxt(tmp_path / "d.csv", X, delimiter=",")
    res = cli("generalize", "--train", str(tmp_path / "d.csv"), "--test", str(tmp_path / "d.csv"),
              "--architecture", "cnn-f", "--image-shape", "2,2,2", "--filter", "1", "--depth", "1")
    assert res.returncode == 2 and "--image-shape" in res.stderr and "--train" in res.stderr


# ----------------------------------------------------------------------------- large runs: refusal, progress
def test_full_digits_cnn_p_is_refused_before_any_work(cli):
    res = cli("generalize", "-a", "erf", "--train", "digits", "--test", "digits", "--architecture", "cnn-p")
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "estimated" in lines[0] and " h on 2 cores" in lines[0] and "--examples" in lines[0]
    assert "--test-examples" in lines[0]


def test_refusal_counts_every_point_and_the_quadrature_cost(cli):
    # one small CNN-F point is fine; tanh (nested quadrature, ~1e5 x erf's cost per entry) on the same rows is not
    args = ("generalize", "--train", "digits", "--test", "digits", "--architecture", "cnn-f", "--examples", "100",
            "--test-examples", "50", "--depth", "1,3", "-f", "csv")
    assert cli(*args, "-a", "erf").returncode == 0
    res = cli(*args, "-a", "tanh")  # (4950 + 5000) pairs x 64 x 3 layers x ~12 ms: ~6 h
    assert res.returncode == 2 and "error: this convolutional run needs an estimated" in res.stderr
    res = cli("kappa", "-a", "erf", "--architecture", "cnn-p", "--m", "2000", "--depth", "100")
    assert res.returncode == 2 and "--examples" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_examples_take_the_first_rows(cli):
    res = cli("generalize", "-a", "relu", "--sw2", "1.8", "--train", "digits", "--test", "digits", "--examples", "20",
              "--test-examples", "7", "--architecture", "cnn-f", "--depth", "2", "-f", "csv")
    assert res.returncode == 0, res.stderr
    acc = float(_rows(res.stdout)[0]["test_accuracy"])
    assert abs(acc * 7 - round(acc * 7)) < 1e-9  # a multiple of 1/7: seven test rows
    res = cli("generalize", "--train", "digits", "--test", "digits", "--examples", "1001")
    assert res.returncode == 2 and "1001 rows asked, --train has 1000" in res.stderr


def test_workload_counts_what_the_engine_does():
    from phasecli import ntk
    from phasecli.ntk.engines import cnn

    X = ntk.synthetic_data(7, 4 * 5 * 2, 0)
    Xt = ntk.synthetic_data(3, 4 * 5 * 2, 1)
    for arch in ("cnn-f", "cnn-p"):
        for max_bytes in (cnn.MAX_STATE_BYTES, 5000):  # one block, and blocks of a few pairs
            seen = []
            with cnn.progress(seen.append):
                engine = cnn.CnnEngine("erf", X, Xt, (4, 5, 2), 3, arch == "cnn-p", 1.5, 0.1, 0.01, 1.0,
                                       max_bytes=max_bytes)
                list(engine.run(np.array([1, 4, 6])))
            assert sum(seen) == cnn.workload(7, 3, (4, 5, 2), arch, [1, 4, 6], max_bytes=max_bytes)[0]
            assert len(seen) == 6 * (1 if max_bytes > 10 ** 6 else -(-engine.pa.size // engine.block))


def test_generalize_progress_reaches_its_total(monkeypatch):
    from click.testing import CliRunner

    from phasecli.cli import cli as group
    from phasecli.cli import cmd_ntk

    bars = []

    class Recorder:
        def __init__(self, total, label, unit="items"):
            self.total, self.label, self.unit, self.done = total, label, unit, 0
            bars.append(self)

        def __enter__(self):
            return self.advance

        def advance(self, n=1):
            self.done += n

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(cmd_ntk, "Progress", Recorder)
    res = CliRunner().invoke(group, ["generalize", "-a", "erf", "--train", "digits", "--test", "digits",
                                     "--examples", "60", "--test-examples", "40", "--sw2", "1,2",
                                     "--architecture", "cnn-f", "--depth", "1,5", "--batch-size", "25",
                                     "-f", "csv"])
    assert res.exit_code == 0, res.output
    (bar,) = bars
    # 2 points x 2 test batches (25 + 15 rows), each through 5 layers: (1770 + 60 b) pairs x 64 positions
    per_point = sum((60 * 59 // 2 + 60 * b) * 64 * 5 for b in (25, 15))
    assert bar.unit == "k entry-layers" and bar.total == 2 * per_point // 10 ** 3  # units: ~100+ steps per bar
    assert bar.done == bar.total
