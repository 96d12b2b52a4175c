"""``phasecli verify`` as a user runs it: seed 003's claim in the output, reproducibility, errors, figure."""

from __future__ import annotations

import json
import math

import pytest

from phasecli.cli.columns import VERIFY

BASE = ("verify", "-a", "tanh", "--sb2", "0.05", "--samples", "400", "--width", "24,64", "--depth", "1,4,9")


def rows(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_chaotic_ratio_far_above_ordered_at_width_32_depth_20(cli):
    """Seleznova & Kutyniok: deep chaotic networks are random at initialization, ordered ones are not."""
    out = rows(cli("verify", "-a", "tanh", "--sw2", "1,4", "--sb2", "0.05", "--width", "32", "--depth", "20",
                   "--samples", "3000", "-f", "json"))
    ordered, chaotic = out
    assert (ordered["phase"], chaotic["phase"]) == ("ordered", "chaotic")
    assert ordered["ratio"] + 2 * ordered["ratio_se"] < 1.25
    assert chaotic["ratio"] - 2 * chaotic["ratio_se"] > 3.0
    assert chaotic["ratio"] - 1 > 10 * (ordered["ratio"] - 1)
    assert chaotic["trust"] in ("no", "undetermined") and chaotic["reason"] and "," not in chaotic["reason"]


def test_columns_and_theory_rows(cli):
    out = rows(cli(*BASE, "--sw2", "1.5", "-f", "json"))
    assert list(out[0]) == list(VERIFY)
    assert [(r["width"], r["depth"]) for r in out] == [(w, d) for w in (24, 64) for d in (1, 4, 9)]
    first = out[0]
    assert first["q_theory"] == 1.0 and first["c_theory"] == 0.5 and first["samples"] == 400
    assert all(math.isfinite(r["ntk_theory"]) and r["ntk_theory"] > 0 for r in out)


def test_same_seed_same_output_whatever_the_threads_another_seed_other_draws(cli, cli_process):
    args = (*BASE, "--sw2", "2.5", "-f", "csv")
    a = cli(*args)
    b = cli_process(*args, env={"NUMBA_NUM_THREADS": "1"})  # numba reads it at start-up: a new process
    c = cli(*args, "--seed", "1")
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout and a.stdout.splitlines()[0] == c.stdout.splitlines()[0]


def test_scheduler_gives_the_local_rows(cli):
    distributed = pytest.importorskip("distributed")
    args = (*BASE, "--sw2", "1.5,3", "-f", "csv")
    local = cli(*args)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=":0", scheduler_port=0) as cluster:
        remote = cli(*args, "--scheduler", cluster.scheduler_address)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout


def test_undetermined_trust_when_one_network_dominates(cli):
    proc = cli("verify", "--sw2", "4", "--sb2", "0.05", "--width", "16", "--depth", "30", "--samples", "60",
               "-f", "json")
    out = rows(proc)
    assert out[0]["trust"] == "undetermined" and out[0]["max_share"] > 0.01 and "heavy tail" in out[0]["reason"]
    assert "," not in out[0]["reason"]
    assert "warning" in proc.stderr and "max_share" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, needle", [
    (("--sb2", "2"), "q0 >= sb2"),
    (("--sb2", "0.5", "--c0", "-0.9"), "'--c0': c0 = -0.9 cannot be reached"),
    (("--sw2", "0"), "sw2 must be > 0"),
    (("--width", "abc"), "--width"),
    (("--width", "0"), "--width"),
    (("--samples", "1"), "--samples"),
    (("--c0", "1.5"), "--c0"),
    (("--depth", "0"), "--depth"),
    (("--depth", "3", "--png", "x.png"), "several values"),
    (("--sw2", "1,2,3,4,5,6,7", "--depth", "1,2", "--png", "x.png"), "at most 6"),
    (("--columns", "ratio,nope"), "unknown column"),
])
def test_bad_input_exits_2_with_one_line(cli, args, needle, tmp_path):
    proc = cli("verify", "--samples", "10", "--width", "8", "--depth", "1,2", *args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_png_value_and_help(cli, tmp_path):
    png = tmp_path / "ratio.png"
    proc = cli(*BASE, "--sw2", "1,4", "--png", str(png), "--value", "ratio")
    assert proc.returncode == 0, proc.stderr
    values = [float(v) for v in proc.stdout.split()]
    assert len(values) == 12 and all(v >= 1.0 for v in values)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    help_text = cli("verify", "--help").stdout
    assert "Examples:" in help_text and "standard parameterization" in help_text and "--tolerance" in help_text
