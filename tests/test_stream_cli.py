"""Streaming on the command line: rows leave as each block is computed, whatever the format.

A 2000 x 2000 grid (4M cells, minutes of work) read only for its first rows must end at
once with status 0 and nothing on stderr, in every format: it can only do so if the rows
are written block by block.  Memory does not grow with the grid: a grid four times larger
runs in about the same peak memory.  On a terminal, long grids show a progress bar on
stderr.
"""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import run_cli

BIG = ["phase", "--sw2", "0.5:4:2000", "--sb2", "0:1:2000"]


def _popen(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "phasecli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("fmt, first", [("csv", "activation,sw2,"), ("json", "["), ("table", "activation"),
                                        ("jsonl", '{"activation": '), ("tsv", "activation\tsw2")])
def test_reading_the_first_rows_of_a_huge_grid_ends_the_run(fmt, first):
    proc = _popen(BIG + ["-f", fmt])
    try:
        head = [proc.stdout.readline() for _ in range(3)]
        proc.stdout.close()  # as `| head -3` does
        _, err = proc.communicate(timeout=120)  # the whole grid would take minutes
    finally:
        proc.kill()
    assert head[0].startswith(first)
    assert all(line.endswith("\n") for line in head)
    assert proc.returncode == 0 and err == ""


def test_json_of_many_blocks_is_one_array_with_the_csv_rows(cli):
    args = ["phase", "-a", "erf", "--sw2", "0.5:4:50", "--sb2", "0:1:40"]  # 50 blocks of one sw2 row
    rows = list(csv.DictReader(io.StringIO(cli(*args, "-f", "csv").stdout)))
    objects = json.loads(cli(*args, "-f", "json").stdout)
    assert len(objects) == len(rows) == 2000
    for obj, row in zip(objects, rows):
        for name, text in row.items():
            value = obj[name]
            if text == "nan":
                assert value is None
            elif isinstance(value, bool):
                assert text == ("true" if value else "false")
            elif isinstance(value, float):
                assert float(text) == value
            else:
                assert value == text  # labels, and "inf" / "-inf" as strings


def _peak_rss_mb(args):
    proc = subprocess.Popen([sys.executable, "-m", "phasecli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    lines = sum(block.count(b"\n") for block in iter(lambda: proc.stdout.read(1 << 20), b""))
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return usage.ru_maxrss / 1024, lines


def test_peak_memory_does_not_grow_with_the_grid():
    small, small_lines = _peak_rss_mb(["phase", "-a", "relu", "--sw2", "0.5:4:150", "--sb2", "0:1:400", "-f", "csv"])
    large, large_lines = _peak_rss_mb(["phase", "-a", "relu", "--sw2", "0.5:4:600", "--sb2", "0:1:400", "-f", "csv"])
    assert (small_lines, large_lines) == (60_001, 240_001)
    # keeping the rows would add ~100 MB of arrays and ~300 MB of text for the 180,000 extra rows
    assert large < small + 40, (small, large)


@pytest.mark.slow  # a fresh process or a full warmup: tens of seconds
def test_progress_bar_on_a_terminal_only():
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        # PHASECLI_PROGRESS_DELAY=0: the bar at once, so a small grid shows it (by default after 1.5 s)
        proc = subprocess.Popen([sys.executable, "-m", "phasecli", "phase", "--sw2", "0.5:4:60", "--sb2", "0:1:50",
                                 "-f", "csv"], stdout=subprocess.DEVNULL, stderr=slave,
                                env={**os.environ, "COLUMNS": "100", "PHASECLI_PROGRESS_DELAY": "0"})
        os.close(slave)
        seen = b""
        while True:
            try:
                block = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not block:
                break
            seen += block
        proc.wait(timeout=300)
    finally:
        os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0
    assert "tanh grid" in text and "cells" in text, text[-500:]


def test_no_progress_bar_off_a_terminal_even_at_once(monkeypatch):
    monkeypatch.setenv("PHASECLI_PROGRESS_DELAY", "0")
    r = run_cli("phase", "--sw2", "0.5:4:60", "--sb2", "0:1:50", "-f", "csv")
    assert r.returncode == 0 and r.stdout.count("\n") == 1 + 60 * 50
    assert "cells" not in r.stderr and "\x1b" not in r.stderr


@pytest.mark.parametrize("value, delay", [(None, 1.5), ("0", 0.0), ("2.5", 2.5), ("abc", 1.5), ("-1", 1.5),
                                          ("nan", 1.5), ("inf", 1.5), ("", 1.5)])
def test_progress_delay_from_the_environment(monkeypatch, value, delay):
    from phasecli.cli.progress import Progress

    if value is None:
        monkeypatch.delenv("PHASECLI_PROGRESS_DELAY", raising=False)
    else:
        monkeypatch.setenv("PHASECLI_PROGRESS_DELAY", value)
    assert Progress(10, "x").delay == delay
