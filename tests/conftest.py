"""Running the command line from the tests.

``run_cli(*args, input=None, env=None)`` runs ``phasecli ARGS`` in this process: the same
``phasecli.cli:main`` the console script calls, with stdin, stdout and stderr replaced by
in-memory pipes (not terminals, as in a pipe or CI), ``env`` applied to ``os.environ`` for the
call, and the exit status taken from ``SystemExit``.  No interpreter start, no imports and no
kernel-cache load per test.  It returns a ``subprocess.CompletedProcess`` (``returncode``,
``stdout``, ``stderr``, text), as ``run_cli_process`` does.

``run_cli_process`` runs ``python -m phasecli ARGS`` in a fresh interpreter: for what only a
real process shows (signals, pipes, closed descriptors, environment read at start-up such as
``NUMBA_NUM_THREADS`` or the cache directory, the console script).

Nothing leaks from one in-process call into the next test: ``os.environ``, the working
directory, ``sys.std*``, file descriptors 0-2, ``sys.argv`` and the warning filters are put
back as they were.
"""

import io
import os
import subprocess
import sys
import warnings

import pytest
from hypothesis import settings

# CI (CI=true, as .ci/run is run): property tests draw the same examples every run, so a red CI is
# reproducible; elsewhere they explore new examples each run
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


class _Pipe(io.TextIOWrapper):
    """A text stream over bytes, like a pipe's: ``.buffer`` for binary writers, never a terminal."""

    def __init__(self, data: bytes = b"", name: str = "<pipe>"):
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="backslashreplace", newline=None,
                         write_through=True)
        self._pipe_name = name

    @property
    def name(self):
        return self._pipe_name

    def isatty(self):
        return False

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", errors="backslashreplace").replace("\r\n", "\n")


def run_cli(*args, input=None, env=None):
    """Run ``phasecli ARGS`` in this process; returns CompletedProcess(args, returncode, stdout, stderr)."""
    from phasecli.cli import main

    argv = [str(a) for a in args]
    stdin = _Pipe((input or "").encode("utf-8"), "<stdin>")
    stdout, stderr = _Pipe(name="<stdout>"), _Pipe(name="<stderr>")
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_environ = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv = list(sys.argv)
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]  # a failed write points fd 1 at /dev/null: undo it
    status = 0
    try:
        if env:
            for key, value in env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = str(value)
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        sys.argv = ["phasecli", *argv]
        with warnings.catch_warnings():  # main() silences warnings for users; keep that out of the tests
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code
                if code is None:
                    status = 0
                elif isinstance(code, int):
                    status = code
                else:
                    stderr.write(f"{code}\n")
                    status = 1
    finally:
        out_text, err_text = stdout.text(), stderr.text()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        for fd, saved in zip((0, 1, 2), saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
    return subprocess.CompletedProcess(["phasecli", *argv], status, out_text, err_text)


def run_cli_process(*args, input=None, env=None, timeout=300):
    """Run ``python -m phasecli ARGS`` as a user would, in a new interpreter; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "phasecli", *args], capture_output=True, text=True,
                          input=input, env=full_env, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_process():
    return run_cli_process


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Every kernel compiled and cached before the first test: ``phasecli warmup`` once, under a lock the
    xdist workers share (one compiles, the others then load the cache), skipped when the cache is warm.
    So no test sees the first-run compile notice and no kernel is compiled twice."""
    import fcntl

    from phasecli.runtime import cache as _cachedir

    if _cachedir.is_warm("warmup"):
        return
    os.makedirs(_cachedir.cache_dir(), exist_ok=True)
    with open(os.path.join(_cachedir.cache_dir(), ".warmup.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _cachedir.is_warm("warmup"):
                r = run_cli("warmup")
                assert r.returncode == 0, r.stderr
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# slowest first (update_slow_ids.py writes them by decreasing time, the fixture-bound ones last)
SLOW_ORDER = [line.strip() for line in open(os.path.join(os.path.dirname(__file__), "slow_ids.txt"))
              if line.strip() and not line.startswith("#")]
SLOW_IDS = set(SLOW_ORDER)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The tests listed in slow_ids.txt (each >= 2 s in a measured full run) are ``slow``: the quick
    tier (-m "not slow") leaves them to the full suite, which runs everything.

    The run order is longest first, file by file: the files in the order of their slowest test, and in
    each file its slow tests (slowest first) before the others, which keep their order.  With
    ``--dist worksteal`` (pyproject.toml) the long tests start first and the two workers end together on
    short ones; a file's tests stay together, so its module fixtures are built once per worker at most."""
    rank = {nodeid: i for i, nodeid in enumerate(SLOW_ORDER)}
    never = len(SLOW_ORDER)
    file_rank, position = {}, {}
    for i, item in enumerate(items):
        nodeid = item.nodeid.strip()
        if nodeid in SLOW_IDS:
            item.add_marker(pytest.mark.slow)
        name = nodeid.split("::", 1)[0]
        file_rank[name] = min(file_rank.get(name, never), rank.get(nodeid, never))
        position.setdefault(name, i)
    items.sort(key=lambda item: (file_rank[item.nodeid.split("::", 1)[0]], position[item.nodeid.split("::", 1)[0]],
                                 rank.get(item.nodeid.strip(), never)))
