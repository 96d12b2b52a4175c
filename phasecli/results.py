"""One way for a result to become rows (pure Python; numpy only when a table is built).

Every result type of the numeric core is a dataclass that mixes in ``Rows``: ``table(columns)``
gives one chunk of rows, column name -> 1-D sequence, every sequence ``row_count()`` long.  A
column is read from the attribute (field or property) of that name: an array of one entry per
row is taken as it is (flattened in C order), anything else (a scalar of the whole result:
activation, sw2 of one point, ...) is repeated on every row.  A result names only what is not
read that way (``row_values``: reshaped or derived columns).  Which columns, and in which order,
is the caller's choice: the command line's lists are ``phasecli.cli.columns``.
"""

from __future__ import annotations

from phasecli.errors import InputError


class Rows:
    """Mixin: ``table(columns)`` from the result's attributes (module docstring)."""

    def row_count(self) -> int:
        """Rows in the table (default: one per entry of ``depth``)."""
        return int(self.depth.size)

    def row_values(self, n: int, **options) -> dict:
        """Columns that are not an attribute read as it is: name -> sequence of ``n`` entries."""
        return {}

    def repeat(self, value, n: int):
        """A scalar of the whole result on every one of ``n`` rows."""
        return [value] * n

    def table(self, columns, **options) -> dict:
        """One chunk of rows: column name -> 1-D sequence, for ``columns`` in their order."""
        import numpy as np

        n = self.row_count()
        special = self.row_values(n, **options)
        out = {}
        for name in columns:
            if name in special:
                out[name] = special[name]
                continue
            try:
                value = getattr(self, name)
            except AttributeError:
                raise InputError(f"unknown column {name!r}", "columns") from None
            if isinstance(value, np.ndarray) and value.shape == (n,):
                out[name] = value
            elif np.ndim(value) == 0:
                out[name] = self.repeat(value, n)
            else:
                out[name] = np.asarray(value).ravel()
        return out
