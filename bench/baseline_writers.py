"""Baseline for bench_stream.py: the row-by-row writer one would write first.

``write(sink, chunk)`` replaces ``phasecli.cli.output.Sink.write`` in a benchmark child: the
same output rules (repr of floats, true/false, JSON "inf"/"-inf"/null, aligned plain
tables with widths from the first chunk), but formatted one row at a time with the csv
module, one ``json.dumps`` per row and per-cell f-strings.  Long tables only (past the
rich table's 500 rows), which is what a large grid writes.
"""

from __future__ import annotations

import csv
import json
import math

LEFT = {"activation", "phase", "fixed_point"}


def _python(seq):
    return seq.tolist() if hasattr(seq, "tolist") else list(seq)


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _json(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _short(v):
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:.6g}"
    return _cell(v)


def write(sink, chunk):
    columns = sink.columns
    rows = list(zip(*(_python(chunk[c]) for c in columns)))
    out = sink.stream
    if sink.fmt in ("csv", "tsv"):
        writer = csv.writer(out, delimiter="," if sink.fmt == "csv" else "\t", lineterminator="\n")
        if not sink._started:
            writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    elif sink.fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({c: _json(v) for c, v in zip(columns, row)}) + "\n")
    elif sink.fmt == "json":
        for k, row in enumerate(rows):
            lead = ",\n  " if (sink.rows or k) else "[\n  "
            out.write(lead + json.dumps({c: _json(v) for c, v in zip(columns, row)}))
    elif sink.fmt == "table":
        cells = [[_short(v) for v in row] for row in rows]
        if sink._widths is None:
            sink._widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(columns)]
            out.write("  ".join(_just(c, sink._widths[k], columns[k]) for k, c in enumerate(columns)).rstrip() + "\n")
        sink._table_buffer = None
        for r in cells:
            out.write("  ".join(_just(v, sink._widths[k], columns[k]) for k, v in enumerate(r)).rstrip() + "\n")
    else:
        raise ValueError(f"no baseline for format {sink.fmt}")
    sink._started = True
    sink.rows += len(rows)
    out.flush()


def _just(text, width, column):
    return text.ljust(width) if column in LEFT else text.rjust(width)
