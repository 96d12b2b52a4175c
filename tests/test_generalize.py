"""The mean predictor against an independent numpy implementation, data checks, the CLI."""

import csv
import io

import numpy as np
import pytest

import naive_generalize as nv
from phasecli.ntk import predictor as gen


def _blobs(m, dim, k, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 2.0
    y = np.arange(m) % k
    return centers[y] + rng.normal(size=(m, dim)), y


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("activation,sw2,sb2", [("erf", 3.0, 0.1), ("erf", 1.2, 0.05), ("relu", 1.5, 0.1)])
@pytest.mark.parametrize("nngp", [False, True])
def test_predictions_match_naive(activation, sw2, sb2, nngp):
    X, y = _blobs(40, 6, 3, 1)
    Xt, yt = _blobs(25, 6, 3, 2)
    depths = [1, 3, 10, 25]
    r = gen.ntk_generalization(activation, X, y, Xt, yt, sw2, sb2, depths, nngp=nngp, keep_predictions=True,
                               batch_size=10)
    for k, depth in enumerate(depths):
        ref = nv.predictions(activation, X, y, Xt, sw2, sb2, depth, nngp=nngp)
        assert _rel(r.predictions[k], ref) < 1e-8, (activation, depth, _rel(r.predictions[k], ref))
        acc = np.mean(np.argmax(ref, axis=1) == yt)
        assert r.test_accuracy[k] == pytest.approx(acc)


def test_finite_time_and_ridge_match_naive():
    X, y = _blobs(30, 5, 3, 3)
    Xt, yt = _blobs(12, 5, 3, 4)
    r = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [2, 8], time=50.0, ridge=1e-3, keep_predictions=True)
    for k, depth in enumerate([2, 8]):
        ref = nv.predictions("erf", X, y, Xt, 2.0, 0.1, depth, ridge=1e-3, time=50.0)
        assert _rel(r.predictions[k], ref) < 1e-8


def test_time_zero_predicts_nothing_and_long_time_recovers_the_limit():
    X, y = _blobs(30, 5, 3, 5)
    Xt, yt = _blobs(10, 5, 3, 6)
    r0 = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [3], time=0.0, keep_predictions=True)
    assert np.all(r0.predictions == 0) and r0.prediction_scale[0] == 0
    inf = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [3], keep_predictions=True)
    late = gen.ntk_generalization("erf", X, y, Xt, yt, 2.0, 0.1, [3], time=1e9, keep_predictions=True)
    assert _rel(late.predictions[0], inf.predictions[0]) < 1e-6


def test_chaotic_collapse_on_digits():
    """Xiao et al.: deep in the chaotic phase kappa -> 1 while the predictor collapses."""
    Xtr, ytr = gen.load_labelled("phasecli/data/digits_train.csv")
    Xte, yte = gen.load_labelled("phasecli/data/digits_test.csv")
    keep = np.arange(0, 1000, 4)
    r = gen.ntk_generalization("erf", Xtr[keep], ytr[keep], Xte[:300], yte[:300], 3.0, 0.1, [1, 100])
    assert r.test_accuracy[0] > 0.9 and r.test_accuracy[1] < 0.3
    assert r.kappa[1] < 1.001 and r.prediction_scale[1] < 1e-8 < r.prediction_scale[0]
    assert np.all(r.train_accuracy == 1.0)


def test_targets_are_one_hot_minus_mean():
    Y = gen.encode_targets(np.array([2, 0, 1]), np.array([0, 1, 2]))
    assert np.allclose(Y.sum(axis=1), 0) and np.allclose(Y[0], [-1 / 3, -1 / 3, 2 / 3])


@pytest.mark.parametrize("text,message", [
    ("1,2,0\n3,4,1.5\n", "integers"),
    ("1,2,0\n3,nan,1\n", "NaN"),
    ("", "empty"),
    ("1,2,0\n3,4\n", ""),
])
def test_bad_labelled_files(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as exc:
        gen.load_labelled(str(path))
    assert message.lower() in str(exc.value).lower()


def test_mismatched_features_and_single_class():
    X, y = _blobs(10, 4, 2, 0)
    with pytest.raises(ValueError, match="features"):
        gen.ntk_generalization("erf", X, y, X[:, :3], y, 2.0, 0.1, [1])
    with pytest.raises(ValueError, match="single class"):
        gen.ntk_generalization("erf", X, np.zeros(10, int), X, y, 2.0, 0.1, [1])


def test_cli_generalize(cli, tmp_path):
    X, y = _blobs(30, 4, 3, 7)
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    np.savetxt(train, np.column_stack([X, y]), delimiter=",")
    np.savetxt(test, np.column_stack([X[:10], y[:10]]), delimiter=",")
    r = cli("generalize", "--train", str(train), "--test", str(test), "-a", "erf", "--sw2", "2", "--sb2", "0.1",
            "--depth", "1,5", "-f", "csv", "--png", str(tmp_path / "g.png"))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["depth"] for row in rows] == ["1", "5"]
    assert float(rows[0]["test_accuracy"]) == 1.0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3,0\n")
    r = cli("generalize", "--train", str(train), "--test", str(bad))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "features" in r.stderr
