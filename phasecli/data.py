"""Data: reading inputs and labelled sets, synthetic inputs, and their validation.

The first layer of the data flow: everything above it (kernels, predictors, the command
line) receives checked float64 arrays.  Bad input raises ``InputError`` (a ValueError)
naming the line or row; nothing here prints.
"""

from __future__ import annotations

import math
import os
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
        raise InputError(f"{what}: row {r + 1}, column {c + 1} is {arr[r, c]!r} (NaN and inf are not allowed)", what)
    return np.ascontiguousarray(arr)


def _parse_csv(text: str, name: str) -> np.ndarray:
    rows = []
    width = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
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
                raise InputError(f"{name}: line {lineno}, column {col}: {shown!r} is not a number "
                                 f"(no header line allowed)") from None
            if not math.isfinite(v):
                raise InputError(f"{name}: line {lineno}, column {col} is {cell!r} (NaN and inf are not allowed)")
            vals.append(v)
        rows.append(vals)
    if not rows:
        raise InputError(f"{name}: no data rows")
    return np.array(rows, dtype=np.float64)


def load_data(source) -> np.ndarray:
    """Inputs as an (m, d) float64 array, one input per row.

    ``source``: a path to a CSV file (comma-separated numbers, no header, blank lines
    ignored) or a ``.npy`` file; ``'-'`` for CSV on stdin; or a text stream.  Ragged
    rows, non-numeric cells, NaN / inf and empty input raise ValueError naming the line.
    A 1-D ``.npy`` array is read as one feature per row.
    """
    if hasattr(source, "read"):
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return _parse_csv(text, getattr(source, "name", "<stream>"))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            return _parse_csv(sys.stdin.read(), "<stdin>")
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory")
        if path.lower().endswith(".npy"):
            try:
                arr = np.load(path, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
                raise InputError(f"{path}: not a readable .npy array ({exc.__class__.__name__})") from None
            if arr.dtype.kind not in "biuf":
                raise InputError(f"{path}: array of dtype {arr.dtype} is not numeric")
            return check_matrix(arr, path)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        return _parse_csv(text, path)
    return check_matrix(source, "data")


def synthetic_data(m: int, dim: int, seed: int = 0) -> np.ndarray:
    """m standard normal inputs of dimension dim (numpy default_rng(seed)): reproducible."""
    m, dim = int(m), int(dim)
    if m < 1 or dim < 1:
        raise InputError(f"synthetic data needs m >= 1 and dim >= 1, got m={m}, dim={dim}")
    return np.random.default_rng(int(seed)).standard_normal((m, dim))



def load_labelled(source, label_column: int = -1):
    """(X, y) from a CSV / .npy file (one example per row) with integer labels in ``label_column``.

    Labels must be whole numbers representable exactly as 64-bit integers (|label| < 2^53
    as read from text): larger values would merge distinct classes.
    """
    data = load_data(source)
    n_cols = data.shape[1]
    if n_cols < 2:
        raise InputError("a labelled file needs at least one feature column and one label column", "labels")
    col = label_column if label_column >= 0 else n_cols + label_column
    if not 0 <= col < n_cols:
        raise InputError(f"label column {label_column} does not exist (the file has {n_cols} columns)",
                         "label_column")
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
