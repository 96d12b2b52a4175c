"""Where phasecli caches its compiled numba kernels, and whether that cache is warm (pure Python).

``cache_dir()``: ``$NUMBA_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/phasecli/numba``
(``~/.cache/phasecli/numba``), else ``<tmp>/phasecli-<uid>/numba`` when that is not
writable.  ``is_warm(tag)`` / ``mark_warm(tag)`` keep one marker file per kernel-source
state and tag (a command name), so the command line can say once, on a terminal, that
the first run compiles.  Importing this module must not import numba.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _writable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def cache_dir() -> str:
    """The directory phasecli's compiled kernels are cached in (created on demand)."""
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "phasecli", "numba")
    if _writable_dir(path):
        return path
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"phasecli-{uid}", "numba")


@functools.lru_cache(maxsize=1)
def source_stamp() -> str:
    """A digest of all kernel sources' sizes and modification times: the stamp of every cached kernel."""
    h = hashlib.sha1()
    for root, _dirs, files in os.walk(PACKAGE_DIR):
        for name in sorted(files):
            if name.startswith("_") and name.endswith("kernels.py"):
                st = os.stat(os.path.join(root, name))
                h.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _marker(tag: str) -> str:
    return os.path.join(cache_dir(), f".warm-{source_stamp()}-{tag}")


def is_warm(tag: str) -> bool:
    try:
        return os.path.exists(_marker(tag))
    except OSError:
        return True


def mark_warm(tag: str) -> None:
    try:
        path = _marker(tag)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w"):
            pass
    except OSError:
        pass
