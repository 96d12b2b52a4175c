"""Issue 19: hardening, second round.  Each case is a correct result or one clean line on stderr
(exit 2 for input, 1 at run time), and nothing phasecli writes replaces a non-regular file."""

import csv
import io
import os
import socket
import stat
import threading

import pytest


def _one_clean_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr and lines[0].startswith("phasecli"), stderr


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL_PHASE = ("phase", "--sw2", "1,2", "--sb2", "0,1", "-f", "csv")


# ------------------------------------------------------------------ 1. file-writing safety
def test_png_through_a_symlink_writes_its_target_and_keeps_the_link(cli, tmp_path):
    link = tmp_path / "link.png"
    link.symlink_to("real.png")
    r = cli(*SMALL_PHASE, "--png", str(link))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == "real.png"
    assert (tmp_path / "real.png").read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.png", "real.png"]  # no temporary left


def test_png_into_a_fifo_nobody_reads_is_refused_and_the_fifo_stays(cli, tmp_path):
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    r = cli(*SMALL_PHASE, "--png", str(fifo))
    assert r.returncode == 1 and "FIFO" in r.stderr
    _one_clean_line(r.stderr)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_png_into_a_fifo_with_a_reader_is_written_through(tmp_path):
    """In-process (the reader must be open before the write): the FIFO receives the PNG and stays a FIFO."""
    from phasecli.output import atomic_path

    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()))
    reader.start()
    # wait until the reader has the FIFO open (opening for writing without O_NONBLOCK would block otherwise)
    for _ in range(200):
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            break
        except OSError:
            threading.Event().wait(0.01)
    with atomic_path(str(fifo)) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(PNG_MAGIC + b"payload")
    reader.join(10)
    assert b"".join(received).endswith(PNG_MAGIC + b"payload") or PNG_MAGIC + b"payload" in b"".join(received)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_png_onto_a_socket_is_refused_before_any_work(cli, tmp_path):
    path = tmp_path / "s.png"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        r = cli(*SMALL_PHASE, "--png", str(path))
    finally:
        sock.close()
    assert r.returncode == 2 and r.stdout == "" and "regular file" in r.stderr
    _one_clean_line(r.stderr)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_png_onto_a_symlink_loop_replaces_nothing(cli, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.symlink_to("b.png")
    b.symlink_to("a.png")
    r = cli(*SMALL_PHASE, "--png", str(a))
    assert r.returncode == 2 and "loop" in r.stderr
    _one_clean_line(r.stderr)
    assert a.is_symlink() and b.is_symlink() and os.readlink(a) == "b.png"


def test_a_device_is_written_through_never_replaced(tmp_path):
    """/dev/null receives the bytes and stays the character device (in-process, no figure needed)."""
    from phasecli.output import atomic_path, check_writable

    assert check_writable(os.devnull) is None
    before = os.stat(os.devnull)
    with atomic_path(os.devnull) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(PNG_MAGIC)
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


# ------------------------------------------------------------------ 2. silent wrong results: malformed lists
@pytest.mark.parametrize("args, option", [
    (("phase", "--sw2", "1,,2", "--sb2", "0.05"), "--sw2"),
    (("phase", "--sw2", "1,2,", "--sb2", "0.05"), "--sw2"),
    (("depth-scale", "--sw2", "1.5", "--sb2", ",0.05"), "--sb2"),
    (("phase", "--sw2", "1", "--sb2", "0.05", "--columns", "verdict,,reason"), "--columns"),
    (("phase", "--sw2", "1", "--sb2", "0.05", "--columns", ","), "--columns"),
    (("generalize", "--train", "digits", "--test", "digits", "--architecture", "fc,,cnn-f"), "--architecture"),
    (("kappa", "--depth", "1,,3"), "--depth"),
    (("verify", "--width", "10,,20"), "--width"),
    (("jacobian", "--weights", "gaussian,,orthogonal"), "--weights"),
])
def test_an_empty_list_item_is_a_malformed_list(cli, args, option):
    r = cli(*args)
    assert r.returncode == 2 and r.stdout == ""
    _one_clean_line(r.stderr)
    assert f"'{option}'" in r.stderr
