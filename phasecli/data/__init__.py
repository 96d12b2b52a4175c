"""Data: reading inputs and labelled sets, synthetic inputs, and their validation.

The first layer of the data flow: everything above it (kernels, predictors, the command
line) receives checked float64 arrays.  Bad input raises ``InputError`` (a ValueError)
naming the line or row; nothing here prints.
"""

from __future__ import annotations

import math
import os
import re
import sys

import numpy as np

from phasecli.validate import InputError


def check_matrix(x, what: str) -> np.ndarray:
    """x as a C-contiguous float64 (rows, columns) array; InputError (param ``what``) otherwise."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a numeric array", what) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{what} must be 2-D (one input per row), got {arr.ndim} dimensions", what)
    if arr.shape[0] == 0:
        raise InputError(f"{what} has no rows", what)
    if arr.shape[1] == 0:
        raise InputError(f"{what} has no columns", what)
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{what}: row {r + 1}, column {c + 1} is {float(arr[r, c])} (NaN and inf are not allowed)",
                         what)
    return np.ascontiguousarray(arr)


# NUL, other C0 controls than tab / newline / form feed / carriage return, and bytes that are not UTF-8 (read as U+FFFD)
BINARY = re.compile("[\x00-\x08\x0e-\x1f\ufffd]")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_csv(text: str, name: str, notes: list | None = None):
    """(values, column names or None) of a CSV: comma-separated numbers, blank lines ignored.

    A first line that is not all numbers while the next one is, is a header (what
    ``pandas.DataFrame.to_csv`` writes); a header whose first name is empty marks the pandas
    index, a column that is dropped.  What was read is appended to ``notes``."""
    text = text[1:] if text.startswith("\ufeff") else text  # the byte-order mark spreadsheets write
    if BINARY.search(text[:65536]):
        raise InputError(f"{name}: is not a text CSV file (binary data; .npy and .npz arrays are read by their "
                         "file name's extension)")
    lines = [(lineno, line.strip()) for lineno, line in enumerate(text.splitlines(), start=1) if line.strip()]
    names = None
    if len(lines) >= 2:
        first = [c.strip() for c in lines[0][1].split(",")]
        second = [c.strip() for c in lines[1][1].split(",")]
        # a header: no number in it, or an empty first name (the pandas index) before the others;
        # a data line with a typo ('1,2,x') stays an error
        header = not any(map(_is_number, first)) or (first[0] == "" and len(first) > 1)
        if header and all(map(_is_number, second)) and len(first) == len(second):
            names = [c.strip('"') for c in first]
            lines = lines[1:]
    rows = []
    width = None
    for lineno, s in lines:
        cells = [c.strip() for c in s.split(",")]
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise InputError(f"{name}: line {lineno} has {len(cells)} values, expected {width} (ragged CSV)")
        vals = []
        for col, cell in enumerate(cells, start=1):
            try:
                v = float(cell)
            except ValueError:
                shown = cell if len(cell) <= 20 else cell[:17] + "..."
                raise InputError(f"{name}: line {lineno}, column {col}: {shown!r} is not a number"
                                 + ("" if lineno > 1 else " (a header line needs a numeric line after it)")) from None
            if not math.isfinite(v):
                raise InputError(f"{name}: line {lineno}, column {col} is {cell!r} (NaN and inf are not allowed)")
            vals.append(v)
        rows.append(vals)
    if not rows:
        raise InputError(f"{name}: no data rows")
    values = np.array(rows, dtype=np.float64)
    if names is not None:
        message = f"{name}: header line read ({len(names)} columns)"
        if names[0] == "" and values.shape[1] > 1:
            values, names = np.ascontiguousarray(values[:, 1:]), names[1:]
            message += "; its unnamed first column (a pandas index) is not data and was dropped"
        if notes is not None:
            notes.append(message)
    return values, names


def _npz(path: str, wanted: tuple, notes: list | None):
    """The arrays of a .npz archive named by the first names in ``wanted`` that it holds, e.g.
    (("x", "X", "inputs", "features"), ("y", "labels")); an archive of one array stands for the
    first role.  InputError naming the arrays it holds otherwise."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"{path}: not a readable .npz archive ({exc.__class__.__name__})") from None
    found = []
    for role in wanted:
        key = next((k for k in role if k in arrays), None)
        if key is None and len(arrays) == 1 and len(wanted) == 1:
            key = next(iter(arrays))
        if key is None:
            raise InputError(f"{path}: holds arrays {', '.join(sorted(arrays)) or '(none)'}; name them "
                             + " and ".join("/".join(r) for r in wanted) + " (e.g. numpy.savez(path, "
                             + ", ".join(f"{r[0]}=..." for r in wanted) + "))")
        if arrays[key].dtype.kind not in "biuf":
            raise InputError(f"{path}: array {key!r} of dtype {arrays[key].dtype} is not numeric")
        found.append((key, arrays[key]))
    if notes is not None:
        notes.append(f"{path}: read " + ", ".join(f"array {k!r} {tuple(a.shape)}" for k, a in found))
    return [a for _, a in found]


INPUT_ARRAYS = ("x", "X", "inputs", "features", "data")
LABEL_ARRAYS = ("y", "labels", "label", "targets")


def _read(source, notes: list | None = None):
    """(values, column names or None) from a path, '-', a text stream or an array."""
    if hasattr(source, "read"):
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return _parse_csv(text, getattr(source, "name", "<stream>"), notes)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            text = stream.read().decode("utf-8", errors="replace") if stream is not None else sys.stdin.read()
            return _parse_csv(text, "<stdin>", notes)
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory")
        if path.lower().endswith(".npz"):
            return check_matrix(_npz(path, (INPUT_ARRAYS,), notes)[0], path), None
        if path.lower().endswith(".npy"):
            try:
                arr = np.load(path, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
                raise InputError(f"{path}: not a readable .npy array ({exc.__class__.__name__})") from None
            if arr.dtype.kind not in "biuf":
                raise InputError(f"{path}: array of dtype {arr.dtype} is not numeric")
            return check_matrix(arr, path), None
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        return _parse_csv(text, path, notes)
    return check_matrix(source, "data"), None


def load_data(source, notes: list | None = None) -> np.ndarray:
    """Inputs as an (m, d) float64 array, one input per row.

    ``source``: a path to a CSV file (comma-separated numbers, blank lines ignored, an optional
    header line as pandas writes it), a ``.npy`` array, or a ``.npz`` archive (the array named
    x / X / inputs / features / data, or its only array); ``'-'`` for CSV on stdin; or a text
    stream.  Ragged rows, non-numeric cells, NaN / inf and empty input raise ValueError naming
    the line.  A 1-D array is read as one feature per row.  What was read (a header, the
    arrays used) is appended to ``notes``.
    """
    return _read(source, notes)[0]


def synthetic_data(m: int, dim: int, seed: int = 0) -> np.ndarray:
    """m standard normal inputs of dimension dim (numpy default_rng(seed)): reproducible."""
    m, dim = int(m), int(dim)
    if m < 1 or dim < 1:
        raise InputError(f"synthetic data needs m >= 1 and dim >= 1, got m={m}, dim={dim}")
    return np.random.default_rng(int(seed)).standard_normal((m, dim))



def load_labelled(source, label_column: int | str = -1, notes: list | None = None):
    """(X, y) from a CSV / .npy file (one example per row) with integer labels in ``label_column``
    (an index, negative from the end, or a header name), or from a ``.npz`` archive with the
    features in x / X / inputs / features / data and the labels in y / labels / label / targets.

    Labels must be whole numbers representable exactly as 64-bit integers (|label| < 2^53
    as read from text): larger values would merge distinct classes.
    """
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else ""
    if path.lower().endswith(".npz") and os.path.isfile(path):
        features, labels = _npz(path, (INPUT_ARRAYS, LABEL_ARRAYS), notes)
        features, labels = check_matrix(features, path), np.asarray(labels, dtype=np.float64).ravel()
        if labels.shape[0] != features.shape[0]:
            raise InputError(f"{path}: {features.shape[0]} inputs but {labels.shape[0]} labels", "labels")
        data, col = np.column_stack([features, labels]), features.shape[1]
    else:
        data, names = _read(source, notes)
        col = _label_index(label_column, names, data.shape[1])
        if names is not None and notes is not None:
            notes.append(f"labels in column {names[col]!r}, features in the other {len(names) - 1}")
    n_cols = data.shape[1]
    if n_cols < 2:
        raise InputError("a labelled file needs at least one feature column and one label column", "labels")
    labels = data[:, col]
    if not np.all(labels == np.round(labels)):
        bad = labels[labels != np.round(labels)][0]
        raise InputError(f"labels must be integers (column {label_column}); found {bad:g}", "labels")
    too_big = np.abs(labels) >= 2.0 ** 53
    if too_big.any():
        raise InputError(f"label {labels[too_big][0]:g} is too large to be an exact integer class label "
                         "(|label| must be below 2^53)", "labels")
    features = np.delete(data, col, axis=1)
    return np.ascontiguousarray(features), labels.astype(np.int64)


def _label_index(label_column, names, n_cols: int) -> int:
    """The label column's index from an index (negative from the end) or a header name."""
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if names is None:
            raise InputError(f"label column {label_column!r} is a name, but the file has no header line",
                             "label_column")
        if label_column not in names:
            raise InputError(f"no column named {label_column!r} (the header has {', '.join(names)})", "label_column")
        return names.index(label_column)
    index = int(label_column)
    col = index if index >= 0 else n_cols + index
    if not 0 <= col < n_cols:
        raise InputError(f"label column {index} does not exist (the file has {n_cols} columns)", "label_column")
    return col


def balanced_rows(y, per_class: int | None = None) -> np.ndarray:
    """Indices of the first ``per_class`` rows of every class of the labels ``y``, in file order (default:
    the smallest class's count), so that every class has as many rows.  InputError when a class has fewer
    rows than asked, naming it."""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    n = int(counts.min()) if per_class is None else int(per_class)
    if n < 1:
        raise InputError(f"balanced rows need at least 1 row per class, got {n}", "per_class")
    short = counts < n
    if short.any():
        raise InputError(f"{n} rows per class asked, but class {classes[short][0]} has {counts[short][0]}",
                         "per_class")
    keep = np.zeros(y.size, dtype=bool)
    for c in classes:
        keep[np.flatnonzero(y == c)[:n]] = True
    return np.flatnonzero(keep)


def class_balance(y) -> tuple:
    """(classes, counts, largest / smallest count) of the labels ``y``."""
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    return classes, counts, float(counts.max() / counts.min())


def class_index(y, n: int, classes, what: str) -> np.ndarray:
    """Each label of ``y`` (``check_labels``) as its index among the sorted training ``classes``; InputError
    naming ``what`` for a label that never occurs in training (no output stands for it)."""
    arr = check_labels(y, n, what)
    unseen = np.setdiff1d(np.unique(arr), classes)
    if unseen.size:
        raise InputError(f"test labels {unseen.tolist()[:5]} never occur in the training labels", what)
    return np.searchsorted(classes, arr)


def check_labels(y, n: int, what: str) -> np.ndarray:
    """``y`` as int64 class labels, one per example (``n``): integers, or floats that are whole numbers below
    2^53 in magnitude (larger ones would merge classes).  InputError naming ``what`` otherwise."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{what} must hold one integer label per example ({n}), got shape {arr.shape}", what)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind not in "fb" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) \
                or np.any(np.abs(arr) >= 2.0 ** 53):
            raise InputError(f"{what} must be integer class labels", what)
    return arr.astype(np.int64)
