"""Output sinks: a command's rows, written to exactly one of table / csv / tsv / json / jsonl / value.

Rows arrive in *chunks*: a mapping column -> sequence (list or 1-D numpy array), every
sequence of the same length.  A sink writes each chunk as soon as it gets it, so a grid
streams (``| head`` returns after the first chunk) and memory stays bounded.  Formatting
is per column, not per cell: the distinct float values of a chunk are formatted once
each, and rows are assembled by a single join (see "cell formatting" below), so writing
does not dominate.

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

import errno
import math
import os
import stat
import sys
from contextlib import contextmanager
from itertools import repeat

FORMATS = ("table", "csv", "tsv", "json", "jsonl")
RICH_TABLE_ROWS = 500  # tables up to this many rows are drawn by rich; longer ones as aligned plain text
VERTICAL_ROWS = 3  # a terminal table of at most this many rows that is too wide is drawn one line per column
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
# A chunk is formatted column by column.  Float columns (numpy arrays, or lists of floats)
# are formatted together: the distinct float64 bit patterns of all of them are found once
# (np.unique), each is formatted once, and the texts are gathered back; a grid repeats
# many values (sw2, sb2, c* = 1 and chi_c = chi_1 when ordered, xi_1 = xi_grad or NaN, ...),
# so this roughly halves the float formatting, which dominates writing.  Exact: equal
# bits give equal text (-0.0 and 0.0 stay apart).  Rows are then assembled by one join
# over the interleaved cells and separators.
_BOOL_TEXT = ("false", "true")
_DEDUP_MIN = 64  # fewer float cells than this are formatted directly
_SLICE_ROWS = 65_536  # a larger chunk is written in slices of this many rows (bounded temporaries)


def _plain_list(seq) -> list:
    """Python scalars (numpy arrays and scalars unwrapped) as a list."""
    if hasattr(seq, "tolist") and getattr(getattr(seq, "dtype", None), "kind", "O") != "O":
        return seq.tolist()
    return [v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v for v in seq]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float.__repr__(value)  # 'nan', 'inf', '-inf' included
    return str(value)


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
        return float.__repr__(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _short(value) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return _text(value)


def _value_text(value) -> str:
    return "" if isinstance(value, float) and math.isnan(value) else _text(value)


def _float_texts(values: list, style: str) -> list[str]:
    """Texts of Python floats: 'text' (repr), 'json' (null / "inf" / "-inf" when not finite),
    'value' (empty for NaN), 'short' (6 significant digits when finite)."""
    if style == "text":
        return list(map(float.__repr__, values))
    if style == "json":
        return [float.__repr__(v) if v - v == 0.0 else ("null" if v != v else ('"inf"' if v > 0 else '"-inf"'))
                for v in values]
    if style == "value":
        return ["" if v != v else float.__repr__(v) for v in values]
    return [format(v, ".6g") if v - v == 0.0 else float.__repr__(v) for v in values]


_SCALAR = {"text": _text, "json": _json_scalar, "value": _value_text, "short": _short}


def _kind(seq) -> str:
    """'f' float, 'b' bool, 'i' integer (numpy arrays, or lists of exactly that type); 'O' anything else."""
    dtype = getattr(seq, "dtype", None)
    if dtype is not None and hasattr(seq, "tolist"):
        return {"f": "f", "b": "b", "i": "i", "u": "i"}.get(dtype.kind, "O")
    if seq and all(type(v) is float for v in seq):
        return "f"
    return "O"


def _column_texts(cols, style: str) -> tuple[list, list]:
    """(texts, plain): every column's cell texts in ``style``, and for each whether its texts can
    need no CSV quoting / TSV cleaning (numbers and booleans)."""
    kinds = [_kind(c) for c in cols]
    texts: list = [None] * len(cols)
    floats = [k for k, kind in enumerate(kinds) if kind == "f"]
    if floats:
        _gather_floats(cols, floats, style, texts)
    for k, (col, kind) in enumerate(zip(cols, kinds)):
        if kind == "b":
            texts[k] = list(map(_BOOL_TEXT.__getitem__, col.tolist()))
        elif kind == "i":
            texts[k] = list(map(int.__repr__, col.tolist()))
        elif kind == "O":
            values = _plain_list(col)
            fmt = _SCALAR[style]
            if all(type(v) is str for v in values):  # labels repeat: format each distinct one once
                table = {v: fmt(v) for v in set(values)}
                texts[k] = list(map(table.__getitem__, values))
            else:
                texts[k] = [fmt(v) for v in values]
    return texts, [kind != "O" for kind in kinds]


def _gather_floats(cols, which, style, texts) -> None:
    total = sum(len(cols[k]) for k in which)
    if total < _DEDUP_MIN:
        for k in which:
            texts[k] = _float_texts(_plain_list(cols[k]), style)
        return
    import numpy as np

    arrays = [np.asarray(cols[k], dtype=np.float64).ravel() for k in which]
    bits = np.concatenate(arrays).view(np.int64)
    distinct, inverse = np.unique(bits, return_inverse=True)
    formatted = np.array(_float_texts(distinct.view(np.float64).tolist(), style), dtype=object)[inverse.ravel()]
    start = 0
    for k, array in zip(which, arrays):
        texts[k] = formatted[start:start + array.size].tolist()
        start += array.size


def _csv_quote(cell: str) -> str:
    if ',' in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _tsv_clean(cell: str) -> str:
    if "\t" in cell or "\n" in cell or "\r" in cell:
        return cell.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return cell


def _clean(texts, plain, fn) -> None:
    for k, ok in enumerate(plain):
        if not ok:
            table = {t: fn(t) for t in set(texts[k])}
            texts[k] = list(map(table.__getitem__, texts[k]))


def _interleave(texts, seps, n: int) -> str:
    """Row by row: seps[0] + texts[0][i] + seps[1] + ... + texts[-1][i] + seps[-1], all rows joined."""
    width = 2 * len(texts) + 1
    flat = [""] * (n * width)
    for j, sep in enumerate(seps):
        if sep:
            flat[2 * j::width] = [sep] * n
    for j, col in enumerate(texts):
        flat[2 * j + 1::width] = col
    return "".join(flat)


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
        # a table on a terminal fits its width, unless the user chose the columns (see _fit)
        self.fit_width = _terminal_width() if self.fmt == "table" and not select and _isatty(self.stream) else None
        self.hidden: tuple = ()  # columns a fitted table left out (the caller names them on stderr)
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
        if n > _SLICE_ROWS:
            names = set(self.columns) | ({self.value} if self.value else set())
            for start in range(0, n, _SLICE_ROWS):
                self.write({c: chunk[c][start:start + _SLICE_ROWS] for c in names})
            return
        if self.fmt == "value":
            if n:
                self._out("\n".join(_column_texts([chunk[self.value]], "value")[0][0]) + "\n")
        elif self.fmt in ("csv", "tsv"):
            sep = "," if self.fmt == "csv" else "\t"
            if not self._started:
                self._out(sep.join(self.columns) + "\n")
            if n:
                texts, plain = _column_texts([chunk[c] for c in self.columns], "text")
                _clean(texts, plain, _csv_quote if self.fmt == "csv" else _tsv_clean)
                self._out(_interleave(texts, [""] + [sep] * (len(texts) - 1) + ["\n"], n))
        elif self.fmt in ("json", "jsonl"):
            if n:
                keys = [_json_scalar(c) + ": " for c in self.columns]
                texts, _ = _column_texts([chunk[c] for c in self.columns], "json")
                end = "}\n" if self.fmt == "jsonl" else "},\n  "
                body = _interleave(texts, ["{" + keys[0]] + [", " + k for k in keys[1:]] + [end], n)
                if self.fmt == "jsonl":
                    self._out(body)
                else:
                    self._out((",\n  " if self.rows else "[\n  ") + body[:-len(end)] + "}")
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
        """Up to RICH_TABLE_ROWS rows in all are kept for one rich table; beyond, everything is
        written as aligned plain text, chunk by chunk."""
        chunks = [{c: chunk[c] for c in self.columns}] if n else []
        if self._table_buffer is not None:
            self._table_buffer.extend(chunks)
            if sum(_chunk_length(c, self.columns) for c in self._table_buffer) <= RICH_TABLE_ROWS:
                return
            chunks, self._table_buffer = self._table_buffer, None
        if self._widths is None and chunks:
            widths = self._cell_widths(chunks)
            keep = self._fit(widths, gap=2)
            self.columns = tuple(self.columns[k] for k in keep)
            self._widths = [widths[k] for k in keep]
            self._out("  ".join(self._just(c, k) for k, c in enumerate(self.columns)).rstrip() + "\n")
        formatted = [(_column_texts([c[name] for name in self.columns], "short")[0], _chunk_length(c, self.columns))
                     for c in chunks]
        for texts, rows in formatted:
            self._out(self._plain_rows(texts, rows))

    def _cell_widths(self, chunks) -> list:
        """Each column's width in a table: its name or its longest cell."""
        widths = [len(name) for name in self.columns]
        for chunk in chunks:
            for k, name in enumerate(self.columns):
                widths[k] = max(widths[k], max(map(len, _column_texts([chunk[name]], "short")[0][0]), default=0))
        return widths

    def _fit(self, widths, gap: int, frame: int = 0) -> list:
        """Indices of the columns that fit ``fit_width`` (each takes its width + ``gap``, the table
        ``frame``): the label columns (phase, status, ...) first, then the numbers from the left, shown
        in their order; the rest go to ``hidden``.  Everything when not fitting or when it fits."""
        everything = list(range(len(widths)))
        if self.fit_width is None or frame + sum(w + gap for w in widths) <= self.fit_width:
            return everything
        labels = [k for k in everything if self.columns[k] in _LEFT]
        keep, used = [], frame
        for k in labels + [k for k in everything if k not in labels]:
            if not keep or used + widths[k] + gap <= self.fit_width:
                keep.append(k)
                used += widths[k] + gap
        keep.sort()
        self.hidden = tuple(self.columns[k] for k in everything if k not in keep)
        return keep

    def _rich_table(self, chunks):
        from rich.table import Table

        rows = [row for chunk in chunks for row in zip(*(_plain_list(chunk[c]) for c in self.columns))]
        widths = [max([len(name)] + [len(_short(row[k])) for row in rows]) for k, name in enumerate(self.columns)]
        width = max(80, min(400, 14 * len(self.columns)))
        if self.fit_width is not None:
            width = self.fit_width
            natural = sum(w + 3 for w in widths) + 1  # rich: a space each side and a rule per column
            if natural > width and 0 < len(rows) <= VERTICAL_ROWS:
                self._vertical_table(rows, width)
                return
            keep = self._fit(widths, gap=3, frame=1)
            rows = [tuple(row[k] for k in keep) for row in rows]
            self.columns = tuple(self.columns[k] for k in keep)
        table = Table(title=self.title, header_style="bold")
        for col in self.columns:
            table.add_column(col, justify="left" if col in _LEFT else "right")
        for row in rows:
            table.add_row(*(_short(v) for v in row))
        self._print_rich(table, width)

    def _vertical_table(self, rows, width):
        """A few wide rows on a terminal: one line per column, one value column per row."""
        from rich.table import Table

        table = Table(title=self.title, header_style="bold")
        table.add_column("column", justify="left", style="bold")
        for i in range(len(rows)):
            table.add_column(f"row {i + 1}", justify="right")
        for k, col in enumerate(self.columns):
            table.add_row(col, *(_short(row[k]) for row in rows))
        self._print_rich(table, width)

    def _print_rich(self, table, width):
        from rich.console import Console

        console = Console(file=_Capture(), soft_wrap=False, width=width, force_terminal=_isatty(self.stream),
                          color_system="auto" if _isatty(self.stream) else None)
        console.print(table)
        self._out(console.file.getvalue())

    def _plain_rows(self, texts, n) -> str:
        """Aligned rows: numbers right-justified, labels left (the last column unpadded), no trailing blanks."""
        last = len(texts) - 1
        cells = []
        for k, col in enumerate(texts):
            left = self.columns[k] in _LEFT
            if left and k == last:
                cells.append(col)
            else:
                cells.append(list(map(str.ljust if left else str.rjust, col, repeat(self._widths[k], n))))
        text = _interleave(cells, [""] + ["  "] * last + ["\n"], n)
        if any(not t or t[-1].isspace() for t in cells[last]):
            text = "".join(line.rstrip() + "\n" for line in text[:-1].split("\n"))
        return text

    def _just(self, text, k):
        w = self._widths[k]
        return text.ljust(w) if self.columns[k] in _LEFT else text.rjust(w)


def _terminal_width() -> int:
    """Columns of the terminal ($COLUMNS when set), as every terminal program reads them."""
    import shutil

    return max(40, shutil.get_terminal_size((100, 24)).columns)


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
# Every file phasecli writes goes through ``atomic_path``.  A regular file (or a new path) is
# written to a temporary file beside it and renamed onto it only on success, so a failure
# never leaves half a file.  A symbolic link is followed: its target is written (the link
# stays).  A character device (/dev/null, /dev/stdout, a terminal) or a FIFO is written
# through, never replaced; anything else that is not a regular file (a directory, a socket,
# a block device) is refused.  Nothing that is not a regular file is ever removed or renamed over.


def _target(path: str) -> str:
    """The path actually written: ``path`` with every symbolic link resolved."""
    return os.path.realpath(path)


def _write_through(path: str) -> bool:
    """True when ``path`` exists and is a character device or a FIFO (written in place, never replaced)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path to write; on success put its content at ``path`` (see above)."""
    import tempfile  # not on the --help path

    target = _target(path)
    reason = check_writable(path)
    if reason:
        raise OSError(errno.EINVAL, reason)
    suffix = os.path.splitext(target)[1]
    if _write_through(target):
        fd, tmp = tempfile.mkstemp(prefix=".phasecli-", suffix=suffix)
        os.close(fd)
        try:
            yield tmp
            _copy_into(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    fd, tmp = tempfile.mkstemp(prefix=".phasecli-", suffix=suffix, dir=os.path.dirname(target))
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        if os.path.lexists(target) and not stat.S_ISREG(os.lstat(target).st_mode):
            raise OSError(errno.EEXIST, f"{path} is no longer a regular file; not replaced")
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _copy_into(source: str, target: str) -> None:
    """Write the bytes of ``source`` into the device or FIFO ``target`` (opened, never replaced).
    A FIFO nobody reads is refused at once rather than waited on."""
    flags = os.O_WRONLY
    if stat.S_ISFIFO(os.stat(target).st_mode):
        flags |= os.O_NONBLOCK
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(errno.ENXIO, f"no process is reading the FIFO {target}") from None
        raise
    try:
        if flags & os.O_NONBLOCK:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        with open(source, "rb") as fh:
            while True:
                block = fh.read(1 << 16)
                if not block:
                    break
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def check_writable(path: str) -> str | None:
    """None if ``path`` can be written by ``atomic_path``, else a one-line reason."""
    if not path or not path.strip():
        return "the path is empty"
    target = _target(path)
    if os.path.islink(target):
        return f"{path} is a loop of symbolic links"
    if os.path.isdir(target):
        return f"{path} is a directory"
    if os.path.exists(target):
        mode = os.stat(target).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return None if os.access(target, os.W_OK) else f"{path} is not writable"
        if not stat.S_ISREG(mode):
            return f"{path} is not a regular file, a character device or a FIFO"
        if not os.access(target, os.W_OK):
            return f"{path} is not writable"
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        via = f" (the target of the symbolic link {path})" if os.path.islink(path) else ""
        return f"directory {directory} does not exist{via}"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {directory} is not writable"
    return None
