"""`generalize` on the command line: the ensemble columns, --balance, the class-balance warning, and bad input
(in-process: ``cli`` runs ``phasecli`` as the console script does)."""

import csv
import io

import numpy as np
import pytest

from phasecli.data import load_labelled

BASE = ("generalize", "--train", "digits", "--test", "digits", "--test-examples", "40", "-a", "erf", "--sw2", "3",
        "--sb2", "0.1", "--depth", "1,20")


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_columns_appended_in_order(cli):
    r = cli(*BASE, "--examples", "60", "-f", "csv")
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert header[-6:] == ["ensemble_accuracy", "ensemble_std", "delta", "train_class_ratio", "residual_scale",
                           "layer_norm"]
    assert header[:14] == ["activation", "sw2", "sb2", "depth", "test_accuracy", "test_mse", "train_accuracy",
                           "kappa", "prediction_scale", "predictor", "ill_conditioned", "phase", "status",
                           "architecture"]
    rows = _rows(r.stdout)
    for row in rows:
        assert 0.0 <= float(row["ensemble_accuracy"]) <= 1.0
        assert float(row["ensemble_std"]) > 0.0


def test_unbalanced_labels_warn(cli):
    """The first 300 digits hold 34 zeros and 24 twos."""
    r = cli(*BASE, "--examples", "300", "-f", "csv", "--columns", "depth,train_class_ratio")
    assert r.returncode == 0
    assert "training labels are unbalanced: class 0 has 34 rows, class 2 24" in r.stderr
    assert float(_rows(r.stdout)[0]["train_class_ratio"]) == pytest.approx(34 / 24)


def test_balance_matches_the_same_rows_given_as_a_file(cli, tmp_path):
    """--balance --examples 300 takes the first 30 rows of every class, in file order: the same rows written
    to a file by hand give the same output."""
    b = cli(*BASE, "--examples", "300", "--balance", "-f", "csv", "--columns", "depth,train_class_ratio,test_mse")
    assert b.returncode == 0 and "unbalanced" not in b.stderr
    assert float(_rows(b.stdout)[0]["train_class_ratio"]) == 1.0
    from importlib.resources import files

    X, y = load_labelled(str(files("phasecli") / "data" / "digits_train.csv"))
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:30] for c in range(10)]))
    X, y, balanced = X[keep], y[keep], b.stdout
    path = tmp_path / "train.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    r = cli("generalize", "--train", str(path), "--test", "digits", "--test-examples", "40", "-a", "erf", "--sw2",
            "3", "--sb2", "0.1", "--depth", "1,20", "-f", "csv", "--columns", "depth,train_class_ratio,test_mse")
    assert r.returncode == 0, r.stderr
    assert r.stdout == balanced


@pytest.mark.parametrize("extra,message", [
    (("--examples", "5", "--balance"), "fewer than one row for each of the 10 classes"),
    (("--examples", "2000", "--balance"), "200 rows per class asked, but class"),
])
def test_balance_errors(cli, extra, message):
    r = cli(*BASE, *extra)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) <= 2 and "Traceback" not in r.stderr


def test_balance_with_a_single_class_file(cli, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("1,2,0\n3,4,0\n5,6,0\n")
    r = cli("generalize", "--train", str(path), "--test", str(path), "--balance", "--depth", "1")
    assert r.returncode == 2
    assert "single class" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("command", [
    ("generalize", "--train", "digits", "--test", "digits", "--examples", "20", "--test-examples", "10", "--depth", "1",
     "--architecture", "cnn-f", "--image-shape", "8,8,1"),
    ("kappa", "--data", "digits", "--examples", "5", "--depth", "3", "--architecture", "cnn-p", "--image-shape",
     "8,8,1"),
])
def test_position_normalization_of_zero_pixels_is_refused_before_any_work(cli, command):
    """The digits have zero pixels: --normalize position cannot scale them; one line, before the cost note."""
    r = cli(*command, "--normalize", "position")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "'--normalize'" in r.stderr and "row 1 has a zero pixel at (h, w) = (1, 1)" in r.stderr


def test_unbalanced_training_with_unseen_test_labels_prints_only_the_error(cli, tmp_path):
    """The class-balance warning comes after the rows: a run refused for its labels prints one line."""
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("".join(f"{i},{i % 3},0\n" for i in range(1, 9)) + "9,1,1\n")
    test.write_text("1,2,2\n")
    r = cli("generalize", "--train", str(train), "--test", str(test), "--depth", "1")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == ["phasecli generalize: error: Invalid value for '--test': test labels [2] "
                                             "never occur in the training labels"]
