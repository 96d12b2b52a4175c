"""Where phasecli caches its compiled numba kernels, and whether that cache is warm (pure Python).

``cache_dir()``: ``$NUMBA_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/phasecli/numba``
(``~/.cache/phasecli/numba``), else ``<tmp>/phasecli-<uid>/numba`` when that is not
writable; inside it one folder per phasecli version (``cache_subdir``), shared by every
install of that version whose kernel sources are the same (``source_stamp``); the kernels of an
activation expression in a folder of their own, keyed on its normal form (``expression_tag``).  ``is_warm(tag)`` / ``mark_warm(tag)`` keep one marker file per kernel-source
state and tag (a command name), so the command line can say once that the first run
compiles.  Importing this module must not import numba.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the phasecli package
# modules without kernels whose globals the kernels read, so compiled in as constants: part of the stamp
KERNEL_CONSTANT_SOURCES = (os.path.join("activations", "__init__.py"),)


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
    """A digest of phasecli's version and the name and contents of every numba module and of the activation
    registry (its per-code tables are compiled into the kernels): the stamp of every cached kernel.  Neither
    the install path nor modification times enter it, so two installs of the same phasecli (two virtualenvs,
    a CI image and a checkout) share one cache; any edit invalidates it."""
    from phasecli import __version__

    h = hashlib.sha1(__version__.encode())
    for root, dirs, files in os.walk(PACKAGE_DIR):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    source = f.read()
                relative = os.path.relpath(path, PACKAGE_DIR)
                # a module with numba kernels (they call each other across modules), or one whose values
                # the kernels compile in as constants (the activation registry's per-code tables)
                if b"@njit" in source or relative in KERNEL_CONSTANT_SOURCES:
                    h.update(relative.encode())
                    h.update(source)
    return h.hexdigest()[:16]


def cache_subdir(py_file: str) -> str:
    """Where, under ``cache_dir()``, the kernels of ``py_file`` are cached: by phasecli version, kernel
    sources and the file's place in the package, not by install path (numba's default).  Checkouts with
    other kernel sources get other folders, so they never overwrite each other's entries; a folder whose
    sources are gone is never read again and may be deleted."""
    from phasecli import __version__

    relative = os.path.relpath(os.path.dirname(os.path.abspath(py_file)), PACKAGE_DIR)
    return os.path.normpath(os.path.join(f"phasecli-{__version__}-{source_stamp()}{expression_tag()}", relative))


def expression_tag() -> str:
    """"-x<16 hex digits of the normal form's sha256>" when an activation expression is installed (its kernels
    have its facts and functions compiled in: a cache folder of their own), else "" (the registered ones)."""
    import sys

    registry = sys.modules.get("phasecli.activations")
    digest = registry.expression_digest() if registry is not None else None
    return "" if digest is None else f"-x{digest[:16]}"


def _marker(tag: str) -> str:
    return os.path.join(cache_dir(), f".warm-{source_stamp()}{expression_tag()}-{tag}")


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
