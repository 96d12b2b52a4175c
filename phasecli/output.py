"""Output sinks: one row iterator, written to exactly one of table / csv / tsv / json / jsonl.

Numbers are written at full precision (``repr`` of the float); non-finite values are
``inf`` / ``-inf`` / ``nan`` in CSV and TSV and ``null`` in JSON.  Nothing here imports
numpy, numba or matplotlib.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from contextlib import contextmanager

FORMATS = ("table", "csv", "tsv", "json", "jsonl")


def default_format(stream=None) -> str:
    """'table' on a terminal, 'csv' when stdout is a pipe or file."""
    stream = stream or sys.stdout
    return "table" if stream.isatty() else "csv"


def _plain(value):
    """A Python scalar for a numpy scalar (keeps this module numpy-free)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _text(value) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if value is None:
        return ""
    return str(value)


def _json_value(value):
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _short(value) -> str:
    value = _plain(value)
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return _text(value)


def write_rows(columns, rows, fmt: str, stream=None, title: str | None = None) -> int:
    """Write ``rows`` (iterables matching ``columns``) to ``stream``; returns the row count."""
    stream = stream or sys.stdout
    n = 0
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        stream.write(sep.join(columns) + "\n")
        for row in rows:
            stream.write(sep.join(_text(v) for v in row) + "\n")
            n += 1
    elif fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(dict(zip(columns, (_json_value(v) for v in row))), allow_nan=False) + "\n")
            n += 1
    elif fmt == "json":
        stream.write("[")
        for row in rows:
            stream.write(("," if n else "") + "\n  " + json.dumps(
                dict(zip(columns, (_json_value(v) for v in row))), allow_nan=False))
            n += 1
        stream.write("\n]\n" if n else "]\n")
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, header_style="bold")
        for col in columns:
            table.add_column(col, justify="left" if col in ("activation", "phase", "fixed_point", "status") else "right")
        for row in rows:
            table.add_row(*(_short(v) for v in row))
            n += 1
        Console(file=stream, soft_wrap=False, width=max(80, min(400, 14 * len(columns)))).print(table)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    stream.flush()
    return n


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    directory = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".phasecli-", suffix=suffix, dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(path: str) -> str | None:
    """None if ``path`` can be created or replaced, else a one-line reason."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        return f"{path} is a directory"
    if not os.path.isdir(directory):
        return f"directory {directory} does not exist"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {directory} is not writable"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    return None
