"""runtime.store.stored_arrays: an expression's tables kept on disk, bit for bit, rebuilt when damaged, skipped
when the cache cannot be written."""

from __future__ import annotations

import os

import numpy as np

from phasecli.runtime import store


def _build(calls):
    def build():
        calls.append(1)
        return {"bps": np.linspace(0.0, np.pi, 7), "cd": np.random.default_rng(3).standard_normal((6, 24)),
                "mode2": np.asarray(3), "t1": np.asarray(0.1 + 0.2), "dev_relative": np.asarray(True)}
    return build


def _same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype and np.array_equal(a[k], b[k]), k


def test_second_call_reads_what_the_first_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    calls = []
    first = store.stored_arrays("t", "q=0x1.4cccccccccccdp-4", _build(calls))
    second = store.stored_arrays("t", "q=0x1.4cccccccccccdp-4", _build(calls))
    assert calls == [1]  # built once
    _same(first, second)
    assert float(second["t1"]) == 0.1 + 0.2  # to the bit
    other = store.stored_arrays("t", "q=0x1.4cccccccccccep-4", _build(calls))  # one ulp of q: another entry
    assert calls == [1, 1]
    _same(first, other)
    files = [os.path.join(r, f) for r, _, fs in os.walk(tmp_path) for f in fs]
    assert len(files) == 2 and all(f.endswith(".npz") for f in files)  # no temporary file left


def test_damaged_entry_is_rebuilt_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    calls = []
    want = store.stored_arrays("t", "k", _build(calls))
    (path,) = [os.path.join(r, f) for r, _, fs in os.walk(tmp_path) for f in fs]
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04 truncated")
    _same(store.stored_arrays("t", "k", _build(calls)), want)
    assert calls == [1, 1]
    _same(store.stored_arrays("t", "k", _build(calls)), want)  # the rebuilt entry was stored again
    assert calls == [1, 1]


def test_unwritable_cache_still_returns_the_arrays(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker))
    calls = []
    _same(store.stored_arrays("t", "k", _build(calls)), store.stored_arrays("t", "k", _build(calls)))
    assert calls == [1, 1]
