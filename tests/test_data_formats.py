"""Data in the formats people have: a CSV with a header line (what pandas.DataFrame.to_csv writes, index
column included) and .npz archives with named arrays give the same rows as the plain CSV; what was
read is said on stderr; what cannot be read is one line, exit 2."""

import numpy as np
import pytest

from phasecli.data import load_data, load_labelled

RNG = np.random.default_rng(7)
X = RNG.standard_normal((12, 4))
Y = np.arange(12) % 3


def plain_csv(path, x, y=None):
    rows = x if y is None else np.column_stack([x, y])
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n")
    return str(path)


def pandas_csv(path, x, y=None):
    """What DataFrame(x, columns=[f0..]).assign(label=y).to_csv(path) writes: an unnamed index column first."""
    names = [f"f{j}" for j in range(x.shape[1])] + ([] if y is None else ["label"])
    rows = x if y is None else np.column_stack([x, y])
    lines = ["," + ",".join(names)]
    lines += [f"{i}," + ",".join(repr(float(v)) if k < x.shape[1] else str(int(v)) for k, v in enumerate(row))
              for i, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_library_reads_header_and_npz(tmp_path):
    notes = []
    assert np.array_equal(load_data(pandas_csv(tmp_path / "p.csv", X), notes), X)
    assert "header line" in notes[0] and "pandas index" in notes[0]
    np.savez(tmp_path / "a.npz", x=X)
    assert np.array_equal(load_data(str(tmp_path / "a.npz")), X)
    np.savez(tmp_path / "only.npz", anything=X)
    assert np.array_equal(load_data(str(tmp_path / "only.npz")), X)
    features, labels = load_labelled(pandas_csv(tmp_path / "l.csv", X, Y), "label")
    assert np.array_equal(features, X) and np.array_equal(labels, Y)
    np.savez(tmp_path / "l.npz", X=X, labels=Y)
    features, labels = load_labelled(str(tmp_path / "l.npz"))
    assert np.array_equal(features, X) and np.array_equal(labels, Y)


def test_typo_in_the_first_line_is_not_a_header(tmp_path):
    path = tmp_path / "typo.csv"
    path.write_text("1,2,x\n3,4,5\n")
    with pytest.raises(ValueError, match="line 1, column 3"):
        load_data(str(path))


def test_kappa_rows_equal_for_plain_header_and_npz(cli, tmp_path):
    args = ("kappa", "-a", "erf", "--sw2", "2", "--sb2", "0.1", "--depth", "1,5", "-f", "csv")
    plain = cli(*args, "--data", plain_csv(tmp_path / "x.csv", X))
    assert plain.returncode == 0 and plain.stderr == ""
    header = cli(*args, "--data", pandas_csv(tmp_path / "h.csv", X))
    assert header.returncode == 0 and header.stdout == plain.stdout
    assert "note: " in header.stderr and "pandas index" in header.stderr
    np.savez(tmp_path / "x.npz", x=X)
    npz = cli(*args, "--data", str(tmp_path / "x.npz"))
    assert npz.returncode == 0 and npz.stdout == plain.stdout and "array 'x' (12, 4)" in npz.stderr


def test_generalize_rows_equal_for_plain_header_and_npz(cli, tmp_path):
    args = ("generalize", "-a", "erf", "--sw2", "2", "--sb2", "0.1", "--depth", "1,3", "-f", "csv")
    plain_path = plain_csv(tmp_path / "t.csv", X, Y)
    plain = cli(*args, "--train", plain_path, "--test", plain_path)
    assert plain.returncode == 0, plain.stderr
    header_path = pandas_csv(tmp_path / "h.csv", X, Y)
    header = cli(*args, "--train", header_path, "--test", header_path, "--label-column", "label")
    assert header.returncode == 0 and header.stdout == plain.stdout and "labels in column 'label'" in header.stderr
    np.savez(tmp_path / "t.npz", x=X, y=Y)
    npz = cli(*args, "--train", str(tmp_path / "t.npz"), "--test", str(tmp_path / "t.npz"))
    assert npz.returncode == 0 and npz.stdout == plain.stdout


@pytest.mark.parametrize("make, extra, message", [
    (lambda p: np.savez(p / "w.npz", a=X, b=Y) or str(p / "w.npz"), (), "holds arrays a, b"),
    (lambda p: pandas_csv(p / "h.csv", X, Y), ("--label-column", "target"), "no column named 'target'"),
    (lambda p: plain_csv(p / "n.csv", X, Y), ("--label-column", "label"), "has no header line"),
    (lambda p: (p / "only.csv").write_text("a,b,label\n") and str(p / "only.csv"), (), "not a number"),
])
def test_unreadable_labelled_files_are_one_line_exit_2(cli, tmp_path, make, extra, message):
    path = make(tmp_path)
    r = cli("generalize", "--train", path, "--test", path, "--depth", "1", *extra)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("value, shown", [(np.nan, "is nan"), (np.inf, "is inf"), (-np.inf, "is -inf")])
def test_a_non_finite_entry_is_named_as_a_plain_number(value, shown):
    from phasecli.data import check_matrix
    from phasecli.errors import InputError

    X = np.array([[1.0, 2.0], [value, 3.0]])
    with pytest.raises(InputError) as err:
        check_matrix(X, "X")
    assert f"row 2, column 1 {shown} (NaN and inf are not allowed)" in str(err.value)
    assert "np." not in str(err.value)
