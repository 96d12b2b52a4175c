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


# --------------------------------------------------------------------------- --test against the numpy trainer
def _digits(tmp_path, name, which, rows):
    from importlib.resources import files

    data = np.loadtxt(files("phasecli") / "data" / f"digits_{which}.csv", delimiter=",")[:rows]
    path = tmp_path / name
    np.savetxt(path, data, delimiter=",", fmt="%.17g")
    return path, data[:, :-1], data[:, -1].astype(int)


def test_test_accuracy_equals_the_independent_numpy_trainer_on_the_same_seeds(cli, tmp_path):
    """End to end: the CLI's rows against naive_train started from the networks of the documented seed streams
    (naive_train.draw_seeded), on rows normalized by naive_ntk and eta from naive_ntk's infinite-width NTK.
    The lr factors cover lazy, catapult, 3 of 4 networks diverged and all diverged."""
    import math

    import naive_ntk
    import naive_train as NT

    act, sw2, sb2, depth, width, samples, steps, seed = "erf", 1.5, 0.05, 2, 32, 4, 12, 3
    lrs = [0.5, 1.5, 2.0, 2.5]
    train_path, X, y = _digits(tmp_path, "train.csv", "train", 30)
    test_path, Xt, yt = _digits(tmp_path, "test.csv", "test", 60)
    r = cli("train", "-a", act, "--sw2", sw2, "--sb2", sb2, "--depth", depth, "--width", width, "--samples", samples,
            "--steps", steps, "--seed", seed, "--lr-factor", ",".join(map(str, lrs)), "--train", train_path,
            "--test", test_path, "-f", "csv")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    rows = _rows(r.stdout)
    assert r.stdout.splitlines()[0] == ",".join(columns.TRAIN)
    # the oracle: its own normalization, eta_max, targets, networks and training
    q = naive_ntk.q_star(act, sw2, sb2)
    Xn, Xtn = naive_ntk.normalize_rows(X, sw2, sb2, q), naive_ntk.normalize_rows(Xt, sw2, sb2, q)
    lam_inf = np.linalg.eigvalsh(naive_ntk.kernels(act, Xn, sw2, sb2, [depth])[depth][1])[-1]
    classes = np.unique(y)
    Y = (y[:, None] == classes[None, :]) - 1.0 / classes.size
    nets = [NT.draw_seeded(seed, s, X.shape[1], width, depth, classes.size) for s in range(samples)]
    lam0 = [np.linalg.eigvalsh(NT.ntk(p, Xn, act, sw2, sb2))[-1] for p in nets]
    seen = set()
    for row, f in zip(rows, lrs):
        eta = f * 2.0 / lam_inf
        res = [NT.run(p, Xn, Y, act, sw2, sb2, eta, steps, kernels=False) for p in nets]
        alive = [s for s in range(samples) if not res[s]["diverged"]]
        test = np.array([NT.accuracy(res[s]["params"], Xtn, yt, classes, act, sw2, sb2) for s in alive])
        train = np.array([NT.accuracy(res[s]["params"], Xn, y, classes, act, sw2, sb2) for s in alive])
        assert float(row["diverged_fraction"]) == 1 - len(alive) / samples
        assert float(row["lambda_max_inf"]) == pytest.approx(lam_inf, rel=1e-9)
        assert float(row["lambda_max_empirical"]) == pytest.approx(np.median(lam0), rel=1e-10)
        assert float(row["eta_empirical_factor"]) == pytest.approx(eta * np.median(lam0) / 2, rel=1e-9)
        init = np.median([lam0[s] for s in alive]) if alive else np.median(lam0)
        assert float(row["lambda_max_init"]) == pytest.approx(init, rel=1e-10)  # finite in every row
        if not alive:
            assert row["status"] == "all networks diverged"
            assert all(math.isnan(float(row[c])) for c in ("test_accuracy", "test_accuracy_se", "train_accuracy"))
            seen.add("none")
            continue
        assert row["status"] == "ok"
        # the fractions are multiples of 1/60: the same predictions give the same numbers to rounding
        assert abs(float(row["test_accuracy"]) - test.mean()) <= 1e-12, (f, row["test_accuracy"], test)
        assert abs(float(row["train_accuracy"]) - train.mean()) <= 1e-12
        se = test.std(ddof=1) / math.sqrt(test.size) if test.size > 1 else math.nan
        assert float(row["test_accuracy_se"]) == pytest.approx(se, abs=1e-12, nan_ok=True)
        seen.add("all" if len(alive) == samples else "some")
    assert seen == {"all", "some", "none"}  # the three cases were exercised
