"""Hardening, third pass (issue 19): binary files given as CSV, and data as given (--no-normalize) whose
variances are beyond the smooth activations' kernel tables."""

import numpy as np
import pytest


@pytest.mark.parametrize("option", [["kappa", "--data"], ["train", "--train"], ["lr", "--data"],
                                    ["generalize", "--train", "digits", "--test"]])
def test_a_binary_file_is_named_not_shown(cli, tmp_path, option):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00bin,1\n2,3\n" + bytes(range(256)))
    r = cli(*option, path)
    assert r.returncode == 2 and r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert "is not a text CSV file (binary data" in line and "\\x" not in line and "\ufffd" not in line


def test_binary_stdin_is_named(cli):
    r = cli("kappa", "--data", "-", input="\x00\x01\x02abc\n")
    assert r.returncode == 2 and "<stdin>: is not a text CSV file" in r.stderr


def test_text_with_tabs_and_crlf_is_still_read(cli, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(b"1\t,2\r\n3,4\r\n\x0c5,7\r\n")
    r = cli("kappa", "-a", "erf", "--data", path, "--depth", "1", "-f", "csv", "--columns", "status")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "ok", r.stderr


def test_no_normalize_beyond_the_smooth_tables_is_a_status_not_a_long_run(cli, tmp_path):
    rows = np.random.default_rng(0).standard_normal((6, 10))
    rows[2] *= 100.0  # first-layer variance ~1.5e4 for sw2 = 1.5
    np.savetxt(tmp_path / "big.csv", rows, delimiter=",")
    r = cli("kappa", "-a", "tanh", "--data", tmp_path / "big.csv", "--no-normalize", "--depth", "1,5", "-f", "csv",
            "--columns", "kappa,status")
    assert r.returncode == 1
    assert r.stdout.splitlines()[1:] == ["nan,q_too_large"] * 2
    assert "row 3 gives a first-layer variance" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # a closed-form activation has no tables: computed
    r = cli("kappa", "-a", "erf", "--data", tmp_path / "big.csv", "--no-normalize", "--depth", "1", "-f", "csv",
            "--columns", "status")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "ok"


def test_a_utf8_byte_order_mark_is_not_data(cli, tmp_path):
    """Spreadsheets save 'CSV UTF-8' with a byte-order mark: it is skipped, not read as part of the first number."""
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n5,6\n")
    r = cli("kappa", "-a", "erf", "--data", path, "--depth", "1", "-f", "csv", "--columns", "status")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "ok", r.stderr
