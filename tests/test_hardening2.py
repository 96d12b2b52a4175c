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
    from phasecli.cli.output import atomic_path

    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    # the reader is open before the write (a non-blocking open for reading needs no writer), and a thread
    # drains it until the writer has come and gone; probing with a writer instead would end the reader's
    # read at once with an empty EOF, a race the test lost on a loaded machine
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    received = []

    def drain():
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                received.append(chunk)
            elif chunk == b"" and received:
                return  # the writer closed after writing
            else:
                time.sleep(0.005)

    reader = threading.Thread(target=drain)
    reader.start()
    with atomic_path(str(fifo)) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(PNG_MAGIC + b"payload")
    reader.join(30)
    os.close(fd)
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
    from phasecli.cli.output import atomic_path, check_writable

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


# ------------------------------------------------------------------ 2. silent wrong results: q* at tiny sb2
def _q_stars(cli, activation, sw2, sb2s):
    r = cli("phase", "-a", activation, "--sw2", str(sw2), "--sb2", ",".join(map(repr, sb2s)), "-f", "csv",
            "--columns", "sb2,q_star,converged")
    assert r.returncode == 0, r.stderr
    rows = _rows(r.stdout)
    assert [float(row["sb2"]) for row in rows] == list(sb2s) and all(row["converged"] == "true" for row in rows)
    return [float(row["q_star"]) for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("activation, sw2, sb2, bracket", [
    ("tanh", 1.0, 1e-40, (6e-21, 8e-21)),
    ("elu", 1.0, 1e-40, (2e-27, 3e-27)),
    ("hard_tanh", 1.0, 1e-40, (0.0058, 0.006)),
    ("tanh", 1.0, 1e-20, (6e-11, 8e-11)),
])
def test_q_star_at_tiny_sb2_matches_a_high_precision_oracle(cli, activation, sw2, sb2, bracket):
    """At the edge of chaos q* balances sb2 against the o(q) part of E[phi^2]: below ~1e-12 plain
    quadrature cannot see it (tanh gave 4.65e-16 at any sb2 below 1e-32).  Oracle: mpmath, 60 digits."""
    from naive_smallq import q_star

    (ours,) = _q_stars(cli, activation, sw2, [sb2])
    assert ours == pytest.approx(q_star(activation, sw2, sb2, bracket, dps=60), rel=1e-12)


def test_q_star_down_to_the_smallest_double_follows_the_leading_order_law(cli):
    """tanh: q* = sqrt(sb2/2); sin: q* = sqrt(sb2); elu: q* = (sb2 sqrt(pi/2))^(2/3) (to O(q*) relative)."""
    import math

    sb2s = [1e-60, 1e-150, 1e-300, 5e-324]
    laws = {"tanh": lambda s: math.sqrt(s) / math.sqrt(2.0), "sin": math.sqrt,
            "elu": lambda s: math.exp(2.0 / 3.0 * (math.log(s) + 0.5 * math.log(math.pi / 2.0)))}
    for activation, law in laws.items():
        for sb2, ours in zip(sb2s, _q_stars(cli, activation, 1.0, sb2s)):
            assert ours == pytest.approx(law(sb2), rel=1e-12), (activation, sb2)
    # away from the edge: q* = sb2 / (1 - sw2 a1) with a1 = 1 (tanh), 4/pi (erf)
    for activation, a1 in (("tanh", 1.0), ("erf", 4.0 / math.pi)):
        for sb2, ours in zip(sb2s[:3], _q_stars(cli, activation, 0.5, sb2s[:3])):
            assert ours == pytest.approx(sb2 / (1.0 - 0.5 * a1), rel=1e-12), (activation, sb2)


def test_a_bounded_activation_has_a_finite_q_star_at_any_sw2(cli):
    """tanh at sw2 = 1e16 was q* = inf with every other value NaN: |tanh| <= 1 gives q* <= sw2 + sb2.
    For sign-like tanh (q* >> 1): q* -> sw2 + sb2, chi_c -> 2/pi, c* -> sb2 / (q* (1 - 2/pi)), the
    arcsine kernel of sign(x), to O(1/sqrt(q*))."""
    import math

    r = cli("phase", "-a", "tanh", "--sw2", "1e16,1e20", "--sb2", "0.05", "-f", "csv")
    assert r.returncode == 0, r.stderr
    for row in _rows(r.stdout):
        sw2, q = float(row["sw2"]), float(row["q_star"])
        assert row["phase"] == "chaotic" and row["converged"] == "true" and row["fixed_point"] == "stable"
        assert q <= sw2 + 0.05 and q == pytest.approx(sw2, rel=1e-6)
        assert float(row["chi_c"]) == pytest.approx(2.0 / math.pi, rel=1e-6)
        assert float(row["c_star"]) == pytest.approx(0.05 / (q * (1.0 - 2.0 / math.pi)), rel=1e-3)


def test_kernels_past_the_smooth_table_limit_are_a_status_not_a_hang(cli):
    r = cli("kappa", "-a", "tanh", "--sw2", "1e16,1", "--sb2", "0.05", "--depth", "1", "-f", "csv")
    assert r.returncode == 0  # a sweep whose rows carry their status (exit 1 with --strict)
    assert cli("kappa", "-a", "tanh", "--sw2", "1e16,1", "--sb2", "0.05", "--depth", "1", "--strict").returncode == 1
    _one_clean_line(r.stderr)
    rows = _rows(r.stdout)
    assert rows[0]["status"] == "q_too_large" and rows[0]["kappa"] == "nan" and rows[1]["status"] == "ok"


# ------------------------------------------------------------------ 2./4. data at the ends of the float64 range
def test_tiny_and_huge_rows_are_scaled_like_any_other(cli, tmp_path):
    """Normalization divides each row by its norm: rows of 1e-300 or 1e300 are the same inputs as rows
    of 1 (they were 'all zeros', or silently zero after an overflowing norm)."""
    rows = ["1,2,3", "1,0,1", "2,1,0"]
    out = {}
    for name, factor in (("one", "1"), ("tiny", "1e-300"), ("huge", "1e300")):
        path = tmp_path / f"{name}.csv"
        path.write_text("".join(",".join(repr(float(v) * float(factor)) for v in row.split(",")) + "\n"
                                for row in rows))
        r = cli("kappa", "--data", str(path), "--depth", "1,5", "-f", "csv", "--columns", "kappa,status")
        assert r.returncode == 0, r.stderr
        out[name] = _rows(r.stdout)
    assert all(row["status"] == "ok" for row in out["tiny"] + out["huge"])
    for name in ("tiny", "huge"):
        for a, b in zip(out[name], out["one"]):
            assert float(a["kappa"]) == pytest.approx(float(b["kappa"]), rel=1e-12)


def test_rows_whose_variance_overflows_are_refused_naming_the_row(cli, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("1e300,2e300\n1e300,0\n")
    r = cli("kappa", "--data", str(path), "--depth", "1", "--no-normalize")
    assert r.returncode == 2 and r.stdout == "" and "row 1" in r.stderr and "'--data'" in r.stderr
    _one_clean_line(r.stderr)


# ------------------------------------------------------------------ 3. tracebacks and hangs
def test_a_scheduler_that_accepts_and_stays_silent_is_one_line_within_seconds(cli):
    """A loopback socket that accepts connections and never answers (was: 'out of memory' and a
    Client.__del__ traceback after 12 s, or a hang)."""
    pytest.importorskip("distributed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        r = cli("phase", "--sw2", "1,2", "--sb2", "0.05", "--scheduler", f"tcp://127.0.0.1:{port}", "-f", "csv")
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()
    assert r.returncode == 1 and r.stdout == "" and "cannot reach the Dask scheduler" in r.stderr and "5 s" in r.stderr
    _one_clean_line(r.stderr)


def test_verify_estimates_before_running_for_hours(cli):
    r = cli("verify", "--width", "1000000", "--depth", "1000", "--samples", "100000")
    assert r.returncode == 2 and r.stdout == "" and "estimated" in r.stderr and "h on 2 cores" in r.stderr
    _one_clean_line(r.stderr)
    assert "e+" in r.stderr.split("~")[1].split(" ")[0]  # 1.8e+05 h, not 180000.0 h


def test_durations_are_short_text():
    from phasecli.runtime.plans import duration_text

    assert duration_text(40) == "40 s" and duration_text(600) == "10 min" and duration_text(7200) == "2.0 h"
    assert duration_text(4.0e14) == "1.1e+11 h"


# ------------------------------------------------------------------ 4. unclear messages
def test_an_impossible_c0_blames_c0_and_gives_its_range(cli):
    r = cli("verify", "--c0", "-1")
    assert r.returncode == 2 and "'--c0'" in r.stderr and "[-0.9, 1]" in r.stderr
    _one_clean_line(r.stderr)


def test_a_bad_scheduler_from_the_environment_names_the_variable(cli):
    r = cli("phase", "--sw2", "1", "--sb2", "0.05", env={"DASK_SCHEDULER_ADDRESS": "garbage"})
    assert r.returncode == 2 and "$DASK_SCHEDULER_ADDRESS" in r.stderr and "--scheduler" not in r.stderr
    _one_clean_line(r.stderr)


def test_too_many_inputs_are_refused_with_an_estimate_not_out_of_memory(cli):
    r = cli("kappa", "--m", "100000")
    assert r.returncode == 2 and r.stdout == "" and "'--examples'" in r.stderr and "GiB" in r.stderr
    assert "batch-size" not in r.stderr
    _one_clean_line(r.stderr)


def test_a_dangling_symlink_names_its_targets_missing_directory(tmp_path):
    from phasecli.cli.output import check_writable

    link = tmp_path / "x.png"
    link.symlink_to(tmp_path / "missing" / "y.png")
    reason = check_writable(str(link))
    assert str(tmp_path / "missing") in reason and "symbolic link" in reason
    target = tmp_path / "t.png"
    link2 = tmp_path / "ok.png"
    link2.symlink_to(target)  # dangling, directory exists: writable, and the target is what gets written
    assert check_writable(str(link2)) is None


def test_a_huge_q0_reaches_the_fixed_point_of_a_bounded_activation(cli):
    """From q0 = 1e308, Q(q0) = sw2 E[tanh^2] + sb2 ~ 1.55: the first step was lost to cancellation
    (hi + (Q - hi) = 0) and the cell 'did not converge'."""
    rows = {}
    for q0 in ("1", "1e308"):
        r = cli("phase", "--sw2", "1.5", "--sb2", "0.05", "--q0", q0, "-f", "csv", "--columns", "q_star,converged")
        assert r.returncode == 0, r.stderr
        rows[q0] = _rows(r.stdout)[0]
    assert rows["1e308"]["converged"] == "true"
    assert float(rows["1e308"]["q_star"]) == pytest.approx(float(rows["1"]["q_star"]), rel=1e-14)
    r = cli("verify", "--q0", "1e308", "--width", "8", "--depth", "2", "--samples", "10")
    assert r.returncode == 2 and "'--q0'" in r.stderr  # was q_theory = inf next to a finite q_mean
    _one_clean_line(r.stderr)
