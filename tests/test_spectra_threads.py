"""The NTK and NNGP summaries of a layer in two threads (issue 24).

From ``ntk.TWO_THREAD_SPECTRA_M`` up to below ``TWO_THREAD_SPECTRA_M_MAX`` inputs the NNGP summary runs in a
second thread beside the NTK's: the numbers must be those of the one-thread path bit for bit, and both must match the independent oracle
(``tests/naive_ntk.py``: a plain per-layer recursion with the closed-form erf / relu kernels and
``numpy.linalg.eigvalsh``).  The BLAS limiter used by both threads must restore the original limits
however the threads overlap; an error in the second thread reaches the caller.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import naive_ntk as oracle
from phasecli import ntk
from phasecli.ntk.engines import fc_kernels
from phasecli.runtime import blas

M = ntk.TWO_THREAD_SPECTRA_M + 16
COLUMNS = ("lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max", "nngp_lambda_min",
           "nngp_lambda_bulk", "nngp_kappa", "kappa_rel_err", "nngp_kappa_rel_err", "resolved", "nngp_resolved")


def _rows(m, dim, seed, spread=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, dim))
    if spread:  # rows of different lengths: the data-as-given engine tracks each row's own variance
        X *= rng.uniform(0.5, 1.5, size=(m, 1))
    return X


def _same(a, b):
    for c in COLUMNS:
        np.testing.assert_array_equal(getattr(a, c), getattr(b, c), err_msg=c)
    assert list(a.method) == list(b.method)


def _serial(monkeypatch, *args, **kw):
    with monkeypatch.context() as mp:
        mp.setattr(ntk, "TWO_THREAD_SPECTRA_M", 10**9)
        return ntk.ntk_spectra(*args, **kw)


@pytest.mark.parametrize("act,sw2,sb2", [("erf", 1.37584, 0.05), ("relu", 1.5, 0.1)])
@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "as_given"])
def test_two_threads_match_oracle_and_one_thread(monkeypatch, act, sw2, sb2, normalize):
    X = _rows(M, 12, 3)
    depths = [1, 4]
    s = ntk.ntk_spectra(act, X, sw2, sb2, depths, normalize=normalize)
    _same(s, _serial(monkeypatch, act, X, sw2, sb2, depths, normalize=normalize))
    Xo = X
    if normalize:
        Xo = oracle.normalize_rows(X, sw2, sb2, oracle.q_star(act, sw2, sb2))
    ref = oracle.kernels(act, Xo, sw2, sb2, depths)
    for i, depth in enumerate(depths):
        k, th = ref[depth][0], ref[depth][1]
        for prefix, mat in (("", th), ("nngp_", k)):
            lmax, lmin, bulk, kappa = oracle.spectrum(mat)
            for name, want in (("lambda_max", lmax), ("lambda_min", lmin), ("lambda_bulk", bulk), ("kappa", kappa)):
                got = getattr(s, prefix + name)[i]
                assert got == pytest.approx(want, rel=1e-9), f"{prefix}{name} at depth {depth}"


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "as_given"])
def test_two_threads_deflated_and_dropout_identical(monkeypatch, normalize):
    """Ordered phase, deep (the deflated spectra, tridiagonal kernels in both threads) and dropout."""
    X = _rows(M, 8, 5)
    for kw in (dict(), dict(dropout=0.7)):
        s = ntk.ntk_spectra("erf", X, 0.8, 0.1, [3, 40], normalize=normalize, **kw)
        _same(s, _serial(monkeypatch, "erf", X, 0.8, 0.1, [3, 40], normalize=normalize, **kw))
        assert s.status == "ok"
    assert "deflated" in set(s.method)


def test_error_in_the_second_thread_reaches_the_caller(monkeypatch):
    X = _rows(M, 6, 7)
    real = ntk._summarize
    calls = []

    def failing(*args, **kw):
        calls.append(threading.current_thread() is threading.main_thread())
        if not calls[-1]:
            raise ArithmeticError("boom in the NNGP thread")
        return real(*args, **kw)

    before = threading.active_count()
    monkeypatch.setattr(ntk, "_summarize", failing)
    with pytest.raises(ArithmeticError, match="boom"):
        ntk.ntk_spectra("erf", X, 1.5, 0.05, [1, 2])
    assert False in calls  # the NNGP summary did run in another thread
    assert threading.active_count() == before  # and its thread is gone


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_blas_limit_held_by_the_enclosing_thread_and_restored(monkeypatch):
    """The NNGP thread enters and leaves its own limits inside the caller's (the order ``ntk_spectra`` uses):
    it must run limited to one thread, and every limit must be lifted afterwards, also after a real
    two-thread ``ntk_spectra`` call."""
    original = _blas_threads()
    seen = {}

    def worker():
        with blas.single_threaded():
            seen["worker"] = _blas_threads()
        seen["worker_left"] = _blas_threads()  # the worker's exit must not lift the caller's limit

    with blas.single_threaded():
        t = threading.Thread(target=worker)
        t.start()
        t.join(20)
        seen["caller"] = _blas_threads()
    assert all(n == 1 for k in ("worker", "worker_left", "caller") for n in seen[k]), seen
    assert _blas_threads() == original
    inside = []
    real = ntk._summarize

    def spy(*args, **kw):
        inside.append(_blas_threads())
        return real(*args, **kw)

    monkeypatch.setattr(ntk, "_summarize", spy)
    ntk.ntk_spectra("erf", _rows(M, 6, 9), 1.5, 0.05, [1, 2])
    assert len(inside) == 4 and all(n == 1 for lim in inside for n in lim)
    assert _blas_threads() == original


def test_squared_distances_exact():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((37, 9))
    A[5] = A[3] + 1e-9  # nearby rows: the difference is formed before squaring
    B = np.asfortranarray(rng.integers(-3, 4, size=(11, 9)))  # another layout and dtype
    d = fc_kernels.squared_distances(A, None)
    want = np.array([[sum((A[i, k] - A[j, k]) ** 2 for k in range(9)) for j in range(37)] for i in range(37)])
    np.testing.assert_allclose(d, want, rtol=1e-15, atol=0.0)
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0.0)
    assert d[3, 5] == pytest.approx(9e-18, rel=1e-6)
    dr = fc_kernels.squared_distances(A, B)
    np.testing.assert_allclose(dr, ((A[:, None, :] - B[None, :, :].astype(float)) ** 2).sum(-1), rtol=1e-14)


def test_one_thread_outside_the_two_thread_range(monkeypatch):
    """Below TWO_THREAD_SPECTRA_M and from TWO_THREAD_SPECTRA_M_MAX inputs every summary runs in the caller's
    thread; inside the range the NNGP's runs in another."""
    real = ntk._summarize
    where = []

    def spy(*args, **kw):
        where.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kw)

    monkeypatch.setattr(ntk, "_summarize", spy)
    for m, top, threaded in ((M, M + 1, True), (M, M, False), (ntk.TWO_THREAD_SPECTRA_M - 1, 10**9, False)):
        monkeypatch.setattr(ntk, "TWO_THREAD_SPECTRA_M_MAX", top)
        where.clear()
        ntk.ntk_spectra("erf", _rows(m, 5, 2), 1.5, 0.05, [1])
        assert where.count(True) == (1 if threaded else 2) and len(where) == 2, (m, top, where)
