"""Output sinks: a command's rows, written to exactly one of table / csv / tsv / json / jsonl / value.

Rows arrive in *chunks*: a mapping column -> sequence (list or 1-D numpy array), every
sequence of the same length.  A sink writes each chunk as soon as it gets it, so a grid
streams (``| head`` returns after the first chunk) and memory stays bounded.  Formatting
is per column, not per cell (``map(repr, floats)``), so writing does not dominate.

Numbers are written at full precision (``repr`` of the float).  Non-finite values:
``inf`` / ``-inf`` / ``nan`` in CSV, TSV and tables; in JSON (strict, no NaN literals)
``"inf"`` / ``"-inf"`` as strings and ``null`` for NaN, so the best case (an infinite
depth scale) is never confused with an undefined cell.  CSV cells holding a comma, a
quote or a newline are quoted (RFC 4180); TSV cells have tabs and newlines replaced by
spaces.  ``value`` prints one column only, one line per row, with an empty line where
the value is undefined (NaN).

Nothing here imports numpy, numba or click; rich only for small tables.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from contextlib import contextmanager

FORMATS = ("table", "csv", "tsv", "json", "jsonl")
RICH_TABLE_ROWS = 500  # tables up to this many rows are drawn by rich; longer ones as aligned plain text
_LEFT = {"activation", "phase", "fixed_point", "status", "verdict", "reason", "regime", "weights", "architecture",
         "predictor", "method", "loss", "name", "kind", "description", "trust"}


class OutputError(OSError):
    """Writing to the output failed (disk full, closed stdout): a runtime failure."""


def default_format(stream=None) -> str:
    """'table' on a terminal, 'csv' when stdout is a pipe or file."""
    stream = stream or sys.stdout
    try:
        return "table" if stream is not None and stream.isatty() else "csv"
    except (AttributeError, ValueError):
        return "csv"


# ----------------------------------------------------------------------------- cell formatting
def _plain_list(seq) -> list:
    """Python scalars (numpy arrays and scalars unwrapped) as a list."""
    if hasattr(seq, "tolist"):
        return seq.tolist()
    return [v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v for v in seq]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # 'nan', 'inf', '-inf' included
    return str(value)


def _column_text(values: list) -> list[str]:
    """CSV/TSV text of one column; the fast paths cover homogeneous float / int / str columns."""
    if not values:
        return []
    kind = type(values[0])
    if kind is float and all(type(v) is float for v in values):
        return list(map(float.__repr__, values))
    if kind is str and all(type(v) is str for v in values):
        return values
    return [_text(v) for v in values]


def _csv_quote(cells: list[str]) -> list[str]:
    return [('"' + c.replace('"', '""') + '"') if (',' in c or '"' in c or "\n" in c or "\r" in c) else c
            for c in cells]


def _tsv_clean(cells: list[str]) -> list[str]:
    return [c.replace("\t", " ").replace("\n", " ").replace("\r", " ") if ("\t" in c or "\n" in c or "\r" in c)
            else c for c in cells]


def _json_scalar(value) -> str:
    import json

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "null"
        if math.isinf(value):
            return '"inf"' if value > 0 else '"-inf"'
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _column_json(values: list) -> list[str]:
    if values and all(type(v) is float for v in values):
        return [repr(v) if v - v == 0.0 else ("null" if v != v else ('"inf"' if v > 0 else '"-inf"')) for v in values]
    return [_json_scalar(v) for v in values]


def _short(value) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return _text(value)


def json_value(value):
    """A cell as a strict-JSON Python value: 'inf' / '-inf' strings, None for NaN."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


# ----------------------------------------------------------------------------- sinks
def _chunk_length(chunk, columns) -> int:
    lengths = {len(chunk[c]) for c in columns}
    if len(lengths) > 1:
        raise ValueError(f"ragged chunk: columns have lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def rows_chunk(columns, rows) -> dict:
    """A chunk from an iterable of row sequences (in the order of ``columns``)."""
    cols = {c: [] for c in columns}
    for row in rows:
        for c, v in zip(columns, row):
            cols[c].append(v)
    return cols


class Sink:
    """Writes chunks of rows for ``columns`` in format ``fmt`` to ``stream``.

    ``select``: the columns to write, in that order (default: all).  ``value``: write
    that one column only, bare.  Call ``write(chunk)`` any number of times, then
    ``close()``; ``rows`` counts what was written.  Failures to write raise
    ``BrokenPipeError`` (the reader went away) or ``OutputError``.
    """

    def __init__(self, columns, fmt: str, stream=None, select=None, value: str | None = None,
                 title: str | None = None):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        self.all_columns = tuple(columns)
        for name in list(select or ()) + ([value] if value else []):
            if name not in self.all_columns:
                raise KeyError(name)
        self.columns = tuple(select) if select else self.all_columns
        self.value = value
        self.fmt = "value" if value else fmt
        self.stream = stream if stream is not None else sys.stdout
        self.title = title
        self.rows = 0
        self._table_buffer: list[list] | None = [] if self.fmt == "table" else None
        self._widths: list[int] | None = None
        self._started = False
        self._closed = False

    # -- low level
    def _out(self, text: str) -> None:
        if not text:
            return
        if self.stream is None:
            raise OutputError(9, "standard output is closed")
        try:
            self.stream.write(text)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:  # ENOSPC (/dev/full), EBADF, a closed file object
            raise OutputError(getattr(exc, "errno", None) or 5, _reason(exc)) from None

    def _flush(self) -> None:
        if self.stream is None:
            raise OutputError(9, "standard output is closed")
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise OutputError(getattr(exc, "errno", None) or 5, _reason(exc)) from None

    # -- public
    def write(self, chunk) -> None:
        """Write one chunk (mapping column -> sequence) now."""
        n = _chunk_length(chunk, self.columns)
        if self.fmt == "value":
            vals = _plain_list(chunk[self.value])
            text = ["" if (isinstance(v, float) and math.isnan(v)) else _text(v) for v in vals]
            self._out("".join(t + "\n" for t in text))
        elif self.fmt in ("csv", "tsv"):
            sep = "," if self.fmt == "csv" else "\t"
            clean = _csv_quote if self.fmt == "csv" else _tsv_clean
            if not self._started:
                self._out(sep.join(self.columns) + "\n")
            if n:
                cols = [clean(_column_text(_plain_list(chunk[c]))) for c in self.columns]
                self._out("".join(sep.join(r) + "\n" for r in zip(*cols)))
        elif self.fmt in ("json", "jsonl"):
            if n:
                keys = [_json_scalar(c) + ": " for c in self.columns]
                cols = [_column_json(_plain_list(chunk[c])) for c in self.columns]
                objs = ["{" + ", ".join(k + v for k, v in zip(keys, r)) + "}" for r in zip(*cols)]
                if self.fmt == "jsonl":
                    self._out("".join(o + "\n" for o in objs))
                else:
                    lead = ",\n  " if self.rows else "[\n  "
                    self._out(lead + ",\n  ".join(objs))
        else:
            self._table_write(chunk, n)
        self._started = True
        self.rows += n
        self._flush()

    def close(self) -> int:
        """Finish the output (JSON bracket, a pending table); returns the row count."""
        if self._closed:
            return self.rows
        self._closed = True
        if self.fmt in ("csv", "tsv") and not self._started:
            self._out(("," if self.fmt == "csv" else "\t").join(self.columns) + "\n")
        elif self.fmt == "json":
            self._out("\n]\n" if self.rows else "[]\n")
        elif self.fmt == "table":
            if self._table_buffer is not None:
                self._rich_table(self._table_buffer)
                self._table_buffer = None
        self._flush()
        return self.rows

    # -- tables
    def _table_write(self, chunk, n):
        rows = [list(r) for r in zip(*(_plain_list(chunk[c]) for c in self.columns))] if n else []
        if self._table_buffer is not None:
            self._table_buffer.extend(rows)
            if len(self._table_buffer) <= RICH_TABLE_ROWS:
                return
            rows, self._table_buffer = self._table_buffer, None
        self._plain_table(rows)

    def _rich_table(self, rows):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=self.title, header_style="bold")
        for col in self.columns:
            table.add_column(col, justify="left" if col in _LEFT else "right")
        for row in rows:
            table.add_row(*(_short(v) for v in row))
        width = max(80, min(400, 14 * len(self.columns)))
        console = Console(file=_Capture(), soft_wrap=False, width=width, force_terminal=_isatty(self.stream),
                          color_system="auto" if _isatty(self.stream) else None)
        console.print(table)
        self._out(console.file.getvalue())

    def _plain_table(self, rows):
        """Aligned plain text for long tables (widths from the header and the first rows)."""
        cells = [[_short(v) for v in row] for row in rows]
        if self._widths is None:
            self._widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(self.columns)]
            self._out("  ".join(self._just(c, k, header=True) for k, c in enumerate(self.columns)).rstrip() + "\n")
        self._out("".join("  ".join(self._just(v, k) for k, v in enumerate(r)).rstrip() + "\n" for r in cells))

    def _just(self, text, k, header=False):
        w = self._widths[k]
        return text.ljust(w) if self.columns[k] in _LEFT else text.rjust(w)


class _Capture:
    """A text buffer rich can print to (collects the rendered table)."""

    def __init__(self):
        self._parts = []

    def write(self, text):
        self._parts.append(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def getvalue(self):
        return "".join(self._parts)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _reason(exc) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def write_rows(columns, rows, fmt: str, stream=None, title: str | None = None) -> int:
    """Write an iterable of row sequences in one chunk; returns the row count."""
    sink = Sink(columns, fmt, stream, title=title)
    sink.write(rows_chunk(columns, rows))
    return sink.close()


# ----------------------------------------------------------------------------- files
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
    if not path or not path.strip():
        return "the path is empty"
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
