"""The two kinds of failure the numeric core reports (pure Python).

``InputError`` (a ValueError): bad input to a public function; ``param`` names the
parameter, so the command line can blame the right option (exit status 2).
``RuntimeFailure``: a well-understood failure at run time that is nobody's bug (a Dask
scheduler that cannot be reached, a computation that cannot be carried out): one line,
exit status 1.  Anything else that escapes is a bug and is reported as one.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input to a public function; ``param`` is the parameter's name (or None)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class RuntimeFailure(RuntimeError):
    """A runtime failure with a one-line explanation for the user (exit status 1)."""
