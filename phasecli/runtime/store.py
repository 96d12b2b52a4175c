"""Numerical tables kept on disk beside the compiled kernels (pure Python; imports numpy on use).

An activation expression's two-point tables take seconds of nested quadrature to build and are the same
on every run of the same phasecli, kernel sources and expression: ``stored_arrays`` keeps them in the
kernels' cache folder (``runtime.cache``: version, kernel-source stamp, the expression's tag), in
``tables/<name>-<sha1 of key>.npz``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from phasecli.runtime.cache import cache_dir, expression_tag, source_stamp


def stored_arrays(name: str, key: str, build):
    """The arrays ``build()`` returns (a dict of name -> numpy array or number), loaded from the cache when
    present and readable, else built and stored atomically (a temporary file in the folder, then a rename).
    A cache that cannot be written is skipped; a damaged entry is rebuilt (and replaced)."""
    import numpy as np

    from phasecli import __version__

    folder = os.path.join(cache_dir(), f"phasecli-{__version__}-{source_stamp()}{expression_tag()}", "tables")
    path = os.path.join(folder, f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:20]}.npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception:  # missing, truncated, not a zip (BadZipFile), a bad header: build it again
        pass
    arrays = build()
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
    return arrays
