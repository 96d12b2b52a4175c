"""Sweeps on a Dask cluster: ``sweep.run``'s tasks computed by the workers, results in task order.

``run(fn, tasks, shared=..., scheduler=ADDRESS)`` is what ``sweep.run`` calls when a
scheduler address is given (``--scheduler`` / ``$DASK_SCHEDULER_ADDRESS``):

- connects within ``CONNECT_TIMEOUT`` seconds (an unreachable scheduler is a
  ``RuntimeFailure``: one line, exit 1) and waits at most ``WORKER_TIMEOUT`` seconds for a
  worker; checks that the workers run the same phasecli, numpy, scipy and numba;
- scatters ``shared`` (the data set) once, to every worker (broadcast), as one key
  ``phasecli_shared-<token>``; each task refers to it instead of carrying it;
- keeps a sliding window of ``window`` tasks in flight (default ``WINDOW_PER_THREAD``
  per worker thread, at least ``MIN_WINDOW``), so a grid of any size holds a bounded
  number of results on the cluster, and yields the results in task order as they
  arrive (rows stream as in a local run);
- on Ctrl-C, a closed generator (``| head``) or an error, cancels every task in flight.

Results are those of a local run to the last bit on workers of the same kind of CPU: the
same function on the same inputs, with BLAS/LAPACK held at the client's thread count
(LAPACK's blocked factorizations round differently with another thread count) and one
phasecli task at a time per worker process (thread counts are process-wide).  numba's
thread count does not change phasecli's results (each ``prange`` item is computed by
one thread), so a worker's tasks use as many numba threads as the worker has threads.

Without the ``[dask]`` extra, asking for a scheduler is an ``InputError`` on
``scheduler`` (exit 2).  The local path never imports this module's dependencies:
dask is imported here, inside ``run``, only.  Nothing here prints.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from contextlib import contextmanager

from phasecli.errors import InputError, RuntimeFailure

CONNECT_TIMEOUT = 5.0  # seconds to reach the scheduler
WORKER_TIMEOUT = 15.0  # seconds to wait for a first worker on a scheduler that has none
WINDOW_PER_THREAD = 4  # tasks in flight per worker thread
MIN_WINDOW = 8
EXTRA_HINT = "pip install 'phasecli[dask]'"

_TASK_LOCK = threading.Lock()  # one phasecli task at a time per worker process
_BLAS = None  # the worker's threadpoolctl controller, made once BLAS is loaded


# ----------------------------------------------------------------------------- client side
def run(fn, tasks, *, shared=None, scheduler, window=None):
    """Yield ``fn(**task, **shared)`` for every task, in order, computed on the Dask cluster at
    ``scheduler`` (a generator; see the module docstring)."""
    dask_distributed = _import_distributed()
    tasks = list(tasks)
    shared = dict(shared or {})
    quiet = _QuietLogging()
    client = None
    pending = deque()
    try:
        client = _connect(dask_distributed, scheduler)
        nthreads = _check_workers(client, scheduler)
        token = uuid.uuid4().hex
        shared_key = f"phasecli_shared-{token}"
        shared_future = client.scatter({shared_key: shared}, broadcast=True, hash=False)[shared_key]
        environment = worker_environment()
        blas_threads = client_blas_threads()
        window = int(window) if window else max(MIN_WINDOW, WINDOW_PER_THREAD * nthreads)
        prefix = f"phasecli_{getattr(fn, '__name__', 'task')}-{token}"
        # the function travels by name and the activation expression (if any) as its text: the worker installs
        # the expression before the function's module (which loads the kernels) is imported
        named = getattr(fn, "__module__", "").startswith("phasecli.") and "<" not in getattr(fn, "__qualname__", "<")
        target = (fn.__module__, fn.__qualname__) if named else fn
        expression = _installed_expression_text()
        submitted = done = 0

        def submit_next():
            nonlocal submitted
            task = tasks[submitted]
            pending.append(client.submit(_apply, target, task, shared_future, environment, blas_threads,
                                         expression, key=f"{prefix}-{submitted}", retries=0))
            submitted += 1

        while submitted < len(tasks) and len(pending) < window:
            submit_next()
        while pending:
            future = pending.popleft()
            result = _result(dask_distributed, future, scheduler, done, len(tasks))
            done += 1
            future.release()
            del future
            if submitted < len(tasks):
                submit_next()
            yield result
    finally:
        _shutdown(client, pending)
        quiet.restore()


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "dask"
        raise InputError(f"needs Dask (module {missing!r} not found): {EXTRA_HINT}", "scheduler") from None
    return distributed


def _connect(dask_distributed, scheduler):
    address = _address(scheduler)
    _probe(address)
    try:
        return dask_distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise RuntimeFailure(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT:g} s "
                             f"({_reason(exc)})") from None


def _probe(address: str) -> None:
    """Ask the scheduler who it is, within CONNECT_TIMEOUT seconds in all (connection, handshake and
    answer).  A peer that accepts the connection and then stays silent would otherwise hold
    ``Client`` far beyond its timeout and leave a traceback at exit."""
    import asyncio

    from distributed.comm import connect

    async def identity():
        comm = await connect(address, timeout=CONNECT_TIMEOUT)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = asyncio.run(asyncio.wait_for(identity(), CONNECT_TIMEOUT))
    except (asyncio.TimeoutError, TimeoutError):
        raise RuntimeFailure(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT:g} s "
                             "(no answer)") from None
    except (OSError, ValueError, EOFError) as exc:
        raise RuntimeFailure(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT:g} s "
                             f"({_reason(exc)})") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise RuntimeFailure(f"{address} answered, but not as a Dask scheduler")


def _address(scheduler) -> str:
    """The address, checked before any connection is tried (a Client made on a bad one cannot be closed)."""
    from distributed.comm.addressing import get_address_host_port

    address = str(scheduler).strip()
    if not address:
        raise InputError("give a Dask scheduler address (tcp://HOST:PORT)", "scheduler")
    try:
        _, port = get_address_host_port(address)
    except ValueError as exc:
        raise InputError(f"{address!r} is not a Dask scheduler address (tcp://HOST:PORT): {_reason(exc)}",
                         "scheduler") from None
    if not 0 < port < 65536:
        raise InputError(f"{address!r} has port {port}, not in 1..65535", "scheduler")
    return address


def _check_workers(client, scheduler) -> int:
    """The cluster's total worker threads, once it has a worker running the same packages as here."""
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except (TimeoutError, OSError):
        raise RuntimeFailure(f"the Dask scheduler at {scheduler} has no workers after {WORKER_TIMEOUT:g} s "
                             f"(start some: dask worker {scheduler})") from None
    here = worker_environment()
    try:
        theirs = client.run(worker_environment)
    except Exception as exc:  # noqa: BLE001 - a worker that cannot even load phasecli
        raise RuntimeFailure(f"the Dask workers at {scheduler} cannot run phasecli ({_reason(exc)}); install "
                             f"phasecli {here['phasecli']} in the workers' environment") from None
    for worker, env in sorted(theirs.items()):
        _compare_environment(here, env, f"worker {worker}")
    return max(1, sum(client.nthreads().values()))


def _result(dask_distributed, future, scheduler, done, total):
    """The task's result; a task's own exception is re-raised as it is (as in a local run)."""
    from concurrent.futures import CancelledError

    try:
        return future.result()
    except dask_distributed.KilledWorker as exc:
        raise RuntimeFailure(f"a task killed the Dask workers that ran it ({_reason(exc)}): out of memory? "
                             "(a task on m points holds several m x m matrices of doubles)") from None
    except Exception as exc:
        if future.status == "error":
            raise
        why = "its tasks were cancelled" if isinstance(exc, CancelledError) else _reason(exc)
        raise RuntimeFailure(f"lost the Dask scheduler at {scheduler} after {done} of {total} results "
                             f"({why})") from None


def _shutdown(client, pending) -> None:
    """Cancel what is still in flight and close the connection (never raises)."""
    if client is None:
        return
    try:
        if pending:
            client.cancel(list(pending), force=True)
    except Exception:  # noqa: BLE001 - the scheduler may already be gone
        pass
    pending.clear()
    try:
        client.close(timeout=CONNECT_TIMEOUT)
    except Exception:  # noqa: BLE001
        pass


class _QuietLogging:
    """distributed logs connection trouble to stderr; phasecli reports it as one line instead.

    Every logger under ``distributed`` and ``tornado`` (they carry levels of their own) is
    raised above CRITICAL for the run, then restored."""

    def __init__(self, prefixes=("distributed", "tornado")):
        names = {n for n in list(logging.Logger.manager.loggerDict) if n.split(".")[0] in prefixes} | set(prefixes)
        self.saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in sorted(names)]
        for logger, _ in self.saved:
            logger.setLevel(logging.CRITICAL + 1)

    def restore(self):
        for logger, level in self.saved:
            logger.setLevel(level)


def _reason(exc) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def client_blas_threads():
    """BLAS/LAPACK threads of a local run here (the most any loaded BLAS uses), or None."""
    import numpy  # noqa: F401  (loads numpy's BLAS)
    import scipy.linalg  # noqa: F401  (and scipy's)
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


# ----------------------------------------------------------------------------- both sides
def worker_environment() -> dict:
    """The package versions that decide a task's numbers."""
    import numba
    import numpy
    import scipy

    import phasecli

    return {"phasecli": phasecli.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__}


def _compare_environment(expected: dict, actual: dict, where: str) -> None:
    for name, version in expected.items():
        if actual.get(name) != version:
            raise RuntimeFailure(f"{where} runs {name} {actual.get(name)}, this machine {version}: install the "
                                 "same versions on the workers (results must match a local run)")


# ----------------------------------------------------------------------------- worker side
def _installed_expression_text():
    from phasecli.activations import installed_expression

    expr = installed_expression()
    return None if expr is None else expr.canonical


def _resolve(target, expression):
    """The task's function, imported by name after installing the client's activation expression (one per worker
    process: a worker that already loaded its kernels with another expression fails the task with that error)."""
    import importlib

    if expression is not None:
        from phasecli.activations import install_expression

        install_expression(expression)
    module, qualname = target
    fn = importlib.import_module(module)
    for part in qualname.split("."):
        fn = getattr(fn, part)
    return fn


def _apply(target, task, shared, environment, blas_threads, expression=None):
    """Run one task on a worker: same packages as the client, BLAS at the client's thread count; the client's
    activation expression installed before the task's kernels are loaded."""
    _compare_environment(environment, worker_environment(), "this Dask worker")
    fn = _resolve(target, expression) if isinstance(target, tuple) else target
    with _TASK_LOCK, _blas_limit(blas_threads), _numba_threads(_worker_threads()):
        return fn(**task, **shared)


@contextmanager
def _blas_limit(threads):
    global _BLAS
    if not threads:
        yield
        return
    import scipy.linalg  # noqa: F401  (both BLAS libraries loaded before they are counted)
    from threadpoolctl import ThreadpoolController

    if _BLAS is None:
        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=int(threads), user_api="blas"):
        yield


@contextmanager
def _numba_threads(threads):
    if not threads:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _worker_threads():
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None
