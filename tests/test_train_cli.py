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


TESTED = ("-a", "erf", "--train", "digits", "--examples", "20", *SMALL, "--lr-factor", "0.5")


def _labelled(tmp_path, name, rows):
    path = tmp_path / name
    np.savetxt(path, rows, delimiter=",", fmt="%.17g")
    return str(path)


@pytest.fixture(scope="module")
def test_rows():
    from importlib.resources import files

    return np.loadtxt(files("phasecli") / "data" / "digits_test.csv", delimiter=",")[:20]


@pytest.mark.parametrize("case,needle", [
    ("features", "54 features but the training set has 64"),
    ("unseen", "never occur in the training labels"),
    ("float label", "labels must be integers"),
    ("nan", "NaN"),
    ("empty", "no data rows"),
    ("zero row", "all zeros"),
    ("missing", "no such file"),
    ("no --train", "needs a labelled --train"),
    ("--test-examples alone", "--test-examples"),
    ("too many test rows", "--test has 20"),
    ("both stdin", "--train already reads stdin"),
])
def test_bad_test_sets_are_one_line_exit_2(cli, tmp_path, test_rows, case, needle):
    rows = test_rows.copy()
    args = list(TESTED)
    if case == "features":
        test = _labelled(tmp_path, "t.csv", rows[:, 10:])
    elif case == "unseen":
        rows[0, -1] = 42
        test = _labelled(tmp_path, "t.csv", rows)
    elif case == "float label":
        rows[0, -1] = 1.5
        test = _labelled(tmp_path, "t.csv", rows)
    elif case == "nan":
        rows[2, 3] = np.nan
        test = _labelled(tmp_path, "t.csv", rows)
    elif case == "empty":
        test = str(tmp_path / "empty.csv")
        open(test, "w").close()
    elif case == "zero row":
        rows[3, :-1] = 0
        test = _labelled(tmp_path, "t.csv", rows)
    elif case == "missing":
        test = str(tmp_path / "nope.csv")
    elif case == "no --train":
        args, test = ["--examples", "6", *SMALL], "digits"
    elif case == "--test-examples alone":
        args, test = args + ["--test-examples", "5"], None
    elif case == "too many test rows":
        args, test = args + ["--test-examples", "21"], _labelled(tmp_path, "t.csv", rows)
    else:
        args[args.index("digits")] = "-"
        test = "-"
    r = cli("train", *args, *(["--test", test] if test else []))
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_test_labels_a_subset_of_the_classes_and_other_formats(cli, tmp_path, test_rows):
    """Test rows of only some of the training classes, as CSV with labels written 3.0 and as .npz, score the
    same; the test set is independent of the rows written (columns before it unchanged)."""
    some = test_rows[np.isin(test_rows[:, -1], [0, 1, 2])]
    csv_path = tmp_path / "t.csv"
    np.savetxt(csv_path, some, delimiter=",", fmt="%.1f")
    npz_path = tmp_path / "t.npz"
    np.savez(npz_path, x=some[:, :-1], y=some[:, -1].astype(int))
    base = cli("train", *TESTED, "-f", "csv")
    a = cli("train", *TESTED, "--test", csv_path, "-f", "csv")
    b = cli("train", *TESTED, "--test", npz_path, "-f", "csv")
    assert a.returncode == b.returncode == base.returncode == 0, a.stderr + b.stderr
    ra, rb, r0 = _rows(a.stdout)[0], _rows(b.stdout)[0], _rows(base.stdout)[0]
    assert ra["test_accuracy"] == rb["test_accuracy"] and 0.0 <= float(ra["test_accuracy"]) <= 1.0
    assert r0["test_accuracy"] == "nan" and r0["status"] == "ok"
    n = columns.TRAIN.index("test_accuracy")
    assert [ra[c] for c in columns.TRAIN[:n]] == [r0[c] for c in columns.TRAIN[:n]]


# --------------------------------------------------------------------------- --png over depths: Figure 2
def test_depth_figure_draws_accuracy_cells_and_both_bounds(monkeypatch):
    from types import SimpleNamespace

    import phasecli.plotting.training as training

    figures = []
    monkeypatch.setattr(training, "save", lambda fig, path: figures.append(fig))
    depths, lrs = [1, 3, 10], [0.5, 1.0, 2.0, 4.0]
    lam_inf, lam_emp = {1: 10.0, 3: 20.0, 10: 40.0}, {1: 12.0, 3: 30.0, 10: 80.0}
    acc = {(d, f): 0.5 + 0.01 * d + 0.02 * f for d in depths for f in lrs}
    acc[(1, 4.0)] = acc[(3, 4.0)] = np.nan  # every network diverged
    runs = [SimpleNamespace(lr_factor=f, depth=d, test_accuracy=acc[(d, f)], diverged=0.5 if (d, f) == (10, 4.0)
                            else float(np.isnan(acc[(d, f)])), lambda_max_inf=lam_inf[d],
                            lambda_max_empirical=lam_emp[d]) for d in depths for f in lrs]
    setups = [SimpleNamespace(depth=d, X_test=np.zeros((7, 2)), m_test=7, classes=(0, 1), activation="erf", sw2=1.5,
                              sb2=0.05, width=64, m=9, outputs=2, samples=3, n_steps=30) for d in depths]
    training.train_depth_figure(runs, setups, path="unused.png")
    fig = figures[0]
    ax = fig.axes[0]
    mesh = ax.collections[0]
    cells = np.ma.masked_invalid(mesh.get_array()).reshape(len(lrs), len(depths))
    expected = np.array([[acc[(d, f)] for d in depths] for f in lrs])
    assert np.allclose(cells.filled(np.nan), expected, equal_nan=True)
    assert ax.get_yscale() == "log" and "depth" in ax.get_xlabel() and "lr_factor" in ax.get_ylabel()
    assert "test accuracy" in ax.get_title()
    lines = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()}
    inf2 = next(v for k, v in lines.items() if "2/" in k and "infinite" in k)
    inf4 = next(v for k, v in lines.items() if "4/" in k and "infinite" in k)
    emp2 = next(v for k, v in lines.items() if "2/" in k and "networks" in k)
    emp4 = next(v for k, v in lines.items() if "4/" in k and "networks" in k)
    assert np.all(inf2 == 1.0) and np.all(inf4 == 2.0)
    ratio = np.array([lam_inf[d] / lam_emp[d] for d in depths])  # 2/lambda_emp in units of 2/lambda_inf
    assert np.allclose(emp2, ratio) and np.allclose(emp4, 2 * ratio)
    lo, hi = ax.get_ylim()
    assert lo < min(ratio.min(), 0.5) and hi > 4.0  # every line and cell inside the axes
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "every network diverged" in legend and "some networks diverged" in legend


def test_png_over_depths_writes_figure_2_and_one_depth_the_curves(cli, tmp_path):
    path = tmp_path / "fig2.png"
    r = cli("train", *TESTED, "--lr-factor", "0.5,3", "--depth", "1,2", "--test", "digits", "--test-examples",
            "30", "--png", path)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(_rows_text(r.stdout)) == 5
    r = cli("train", *TESTED, "--depth", "1,2", "--width", "8,16", "--png", tmp_path / "x.png")
    assert r.returncode == 2 and "one (sw2, sb2, width)" in r.stderr and not (tmp_path / "x.png").exists()


def _rows_text(text):
    return text.strip().splitlines()
