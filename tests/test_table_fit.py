"""Tables on a terminal fit its width (fewer columns with a note, or one line per column for a few
rows); a pipe or an explicit --columns keeps every column."""

import io
import re
import sys

import pytest

from phasecli.cli.columns import PHASE
from phasecli.cli.output import Sink
from shell_drive import run_on_terminal

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class TTY(io.StringIO):
    def isatty(self):
        return True


def chunk(n):
    row = {"activation": "tanh", "sw2": 1.7609546396067, "sb2": 0.05, "q_star": 0.57004788164, "c_star": 1.0,
           "chi_1": 0.9999999999, "chi_c": 0.9999999999, "xi_q": 3.14159265, "xi_c": 1e10, "xi_grad": 1e10,
           "xi_1": 1e10, "xi_star": float("nan"), "max_trainable_depth": 6e10, "phase": "critical",
           "q_slope": 0.7, "fixed_point": "stable", "converged": True}
    return {c: [row[c]] * n for c in PHASE}


def render(n, width, monkeypatch, stream=None, **kwargs):
    monkeypatch.setenv("COLUMNS", str(width))
    stream = stream or TTY()
    sink = Sink(PHASE, "table", stream, **kwargs)
    sink.write(chunk(n))
    sink.close()
    lines = [ANSI.sub("", line) for line in stream.getvalue().splitlines()]
    return sink, lines


@pytest.mark.parametrize("rows", [5, 40, 600])  # rich table, and aligned text beyond 500 rows
@pytest.mark.parametrize("width", [60, 100, 140])
def test_terminal_table_fits_and_names_what_it_left_out(rows, width, monkeypatch):
    sink, lines = render(rows, width, monkeypatch)
    assert max(map(len, lines)) <= width
    assert sink.hidden and "phase" not in sink.hidden  # labels are kept first
    shown = set(PHASE) - set(sink.hidden)
    assert {"activation", "phase"} <= shown and any(name in lines[1] or name in lines[0] for name in shown)


def test_few_wide_rows_are_drawn_one_line_per_column(monkeypatch):
    sink, lines = render(2, 100, monkeypatch)
    assert max(map(len, lines)) <= 100 and not sink.hidden
    assert sum(1 for line in lines if re.match(r"\W*(max_trainable_depth|converged)\b", line)) == 2
    assert "row 2" in "\n".join(lines)


def test_pipe_and_explicit_columns_keep_every_column(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    stream = io.StringIO()  # not a terminal
    sink = Sink(PHASE, "table", stream)
    sink.write(chunk(5))
    sink.close()
    assert not sink.hidden and all(name in stream.getvalue() for name in PHASE)
    sink, lines = render(5, 60, monkeypatch, select=PHASE)  # the user chose the columns: all of them
    assert not sink.hidden and "converged" in lines[1]


def test_phase_on_a_100_column_terminal():
    """The real command on a pseudo-terminal 100 columns wide: every line fits, stderr names the rest."""
    status, out, err = run_on_terminal([sys.executable, "-m", "phasecli", "phase", "--sw2", "1:3:5", "--sb2", "0.05"],
                                       env={"COLUMNS": "100", "LINES": "40", "TERM": "xterm"})
    assert status == 0, err
    table = [line for line in out.split("\n") if line and line[0] in "┏┃┡│└"]
    assert len(table) == 9 and max(map(len, table)) <= 100, table  # 5 rows, the header, 3 rules
    assert "do not fit this 100-column terminal" in err and "--columns" in err
