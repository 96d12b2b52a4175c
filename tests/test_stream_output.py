"""The output sinks against an independent reading of what they wrote.

Oracle: the cell rules written out plainly below (repr of floats, true/false, JSON "inf" /
"-inf" / null, TSV blanks for tabs and newlines, aligned plain tables), applied one cell
at a time, and the standard library's csv / json parsers.  Properties: any mix of column
kinds (float / int / bool arrays, float lists, strings with separators, mixed objects,
repeated values, -0.0, NaN, subnormals) reads back as its cells; the bytes do not depend
on how the rows are cut into chunks; JSON stays one valid array.
"""

import csv
import io
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasecli.cli.output import Sink

LEFT_NAME = "phase"  # a label column: left-justified in tables


# ----------------------------------------------------------------------------- oracle (no phasecli)
def cell_text(v):
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return float.__repr__(v)
    return str(v)


def json_expected(v):
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def short_text(v):
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:.6g}"
    return cell_text(v)


def python_values(column):
    return [v.item() if hasattr(v, "item") else v for v in column]


def rows_of(chunk, names):
    return list(zip(*(python_values(chunk[n]) for n in names)))


def same_json(got, want):
    if isinstance(want, float):
        return isinstance(got, float) and float.__repr__(got) == float.__repr__(want)
    return got == want and type(got) is type(want)


# ----------------------------------------------------------------------------- strategies
POOL = [0.0, -0.0, 1.0, 0.5, float("nan"), float("inf"), -float("inf"), 5e-324, 1e16, 1e-5, 123456789.125]
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(POOL))
TEXTS = st.one_of(st.sampled_from(["ordered", "a,b", 'say "hi"', "tab\there", "two\nlines", "cr\r", "", " x "]),
                  st.text(max_size=6))
MIXED = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20), FLOATS, TEXTS)


@st.composite
def chunks(draw, max_rows=120):
    n = draw(st.integers(0, max_rows))
    n_cols = draw(st.integers(1, 5))
    data = {}
    for k in range(n_cols):
        kind = draw(st.sampled_from(["farray", "f32", "flist", "iarray", "barray", "str", "mixed"]))
        if kind in ("farray", "f32", "flist"):
            values = draw(st.lists(FLOATS, min_size=n, max_size=n))
            with np.errstate(over="ignore"):  # float32 overflows to inf, as a user's float32 array would
                col = values if kind == "flist" else np.array(values, dtype=np.float64 if kind == "farray" else
                                                              np.float32)
        elif kind == "iarray":
            col = np.array(draw(st.lists(st.integers(-2 ** 62, 2 ** 62), min_size=n, max_size=n)), dtype=np.int64)
        elif kind == "barray":
            col = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        elif kind == "str":
            col = draw(st.lists(TEXTS, min_size=n, max_size=n))
        else:
            col = draw(st.lists(MIXED, min_size=n, max_size=n))
        data[LEFT_NAME if k == 0 and kind == "str" else f"c{k}"] = col
    return data


def write(fmt, names, parts, **kw):
    buf = io.StringIO()
    sink = Sink(names, fmt, buf, **kw)
    for part in parts:
        sink.write(part)
    sink.close()
    return buf.getvalue()


def cut(chunk, names, bounds):
    return [{n: chunk[n][a:b] for n in names} for a, b in zip(bounds[:-1], bounds[1:])]


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- properties
@SETTINGS
@given(chunks())
def test_csv_reads_back_as_its_cells(chunk):
    names = list(chunk)
    rows = [r or [""] for r in csv.reader(io.StringIO(write("csv", names, [chunk]), newline=""))]
    assert rows[0] == names
    assert rows[1:] == [[cell_text(v) for v in row] for row in rows_of(chunk, names)]


@SETTINGS
@given(chunks())
def test_tsv_cells_have_no_tabs_or_newlines(chunk):
    names = list(chunk)
    text = write("tsv", names, [chunk])
    want = [[cell_text(v).replace("\t", " ").replace("\n", " ").replace("\r", " ") for v in row]
            for row in rows_of(chunk, names)]
    assert text.split("\n")[:-1] == ["\t".join(names)] + ["\t".join(r) for r in want]


@SETTINGS
@given(chunks())
def test_json_and_jsonl_are_strict_json_of_the_cells(chunk):
    names = list(chunk)
    want = [[json_expected(v) for v in row] for row in rows_of(chunk, names)]
    array = json.loads(write("json", names, [chunk]), parse_constant=lambda c: pytest.fail(f"literal {c}"))
    lines = [json.loads(line) for line in write("jsonl", names, [chunk]).splitlines()]
    for objects in (array, lines):
        assert len(objects) == len(want)
        for obj, row in zip(objects, want):
            assert list(obj) == names
            assert all(same_json(obj[n], w) for n, w in zip(names, row))


@SETTINGS
@given(chunks(), st.data())
def test_bytes_do_not_depend_on_the_chunking(chunk, data):
    names = list(chunk)
    n = len(chunk[names[0]])
    inner = sorted(data.draw(st.lists(st.integers(0, n), max_size=4)))
    bounds = [0] + inner + [n]
    for fmt in ("csv", "tsv", "json", "jsonl"):
        assert write(fmt, names, cut(chunk, names, bounds)) == write(fmt, names, [chunk])
    value = names[-1]
    want = ["" if isinstance(v, float) and math.isnan(v) else cell_text(v) for v in python_values(chunk[value])]
    assert write("csv", names, cut(chunk, names, bounds), value=value) == "".join(w + "\n" for w in want)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(POOL + [2.5, -7.25, 3.0e-300]), min_size=501, max_size=900),
       st.lists(st.sampled_from(["ordered", "chaotic", "critical", "x"]), min_size=900, max_size=900))
def test_long_tables_are_aligned_plain_text(values, labels):
    n = len(values)
    chunk = {"x": np.array(values), LEFT_NAME: labels[:n], "n": np.arange(n), "ok": np.arange(n) % 3 == 0}
    names = list(chunk)
    cells = [[short_text(v) for v in row] for row in rows_of(chunk, names)]
    widths = [max([len(name)] + [len(r[k]) for r in cells]) for k, name in enumerate(names)]

    def line(texts):
        return "  ".join(t.ljust(w) if name == LEFT_NAME else t.rjust(w)
                         for t, w, name in zip(texts, widths, names)).rstrip()

    assert write("table", names, [chunk]).split("\n")[:-1] == [line(names)] + [line(r) for r in cells]


def test_short_table_is_one_rich_table_with_every_row():
    chunk = {"x": np.array([0.5, float("inf"), float("nan")]), LEFT_NAME: ["ordered", "chaotic", "critical"]}
    text = write("table", list(chunk), [chunk, {k: v[:0] for k, v in chunk.items()}])
    body = [line for line in text.splitlines() if line.startswith("│")]  # rich's box rows
    assert [[c.strip() for c in line.strip("│").split("│")] for line in body] == [
        ["0.5", "ordered"], ["inf", "chaotic"], ["nan", "critical"]]
    assert "┃" in text.splitlines()[1] and "x" in text.splitlines()[1]


def test_signed_zero_and_nan_payloads_survive_deduplication():
    quiet = np.frombuffer(np.array([0x7FF8000000000001, 0xFFF8000000000000], dtype=np.uint64).tobytes())
    x = np.concatenate([np.tile([0.0, -0.0], 50), quiet, [1.0]])
    rows = list(csv.reader(io.StringIO(write("csv", ["x"], [{"x": x}]))))
    assert [r[0] for r in rows[1:]] == ["0.0", "-0.0"] * 50 + ["nan", "nan", "1.0"]
    assert json.loads(write("json", ["x"], [{"x": x}]))[-3:] == [{"x": None}, {"x": None}, {"x": 1.0}]


def test_a_huge_chunk_is_written_in_slices_with_the_same_bytes():
    n = 70_001
    x = np.arange(n) / 7.0
    flags = np.arange(n) % 2 == 0
    text = write("csv", ["x", "even"], [{"x": x, "even": flags}])
    lines = text.split("\n")
    assert len(lines) == n + 2 and lines[-1] == ""
    assert lines[1] == "0.0,true" and lines[n] == f"{float.__repr__(float(x[-1]))},true"
    assert json.loads(write("json", ["x"], [{"x": x}]))[n - 1] == {"x": x[-1]}


def test_empty_outputs():
    assert write("json", ["a"], []) == "[]\n"
    assert write("json", ["a"], [{"a": []}]) == "[]\n"
    assert write("csv", ["a", "b"], []) == "a,b\n"
    assert write("jsonl", ["a"], [{"a": []}]) == ""
    assert write("csv", ["a"], [{"a": [float("nan"), 2.0]}], value="a") == "\n2.0\n"
