"""Where a first run's compile time goes, and what a literal activation code would save (not a timed test).

    python bench/bench_compile.py [--out FILE] [--top N]

For each job (``phase -f csv`` with relu, with tanh, then relu again on the cache tanh left) it
starts a new interpreter with an EMPTY numba cache (a fresh ``NUMBA_CACHE_DIR``) that runs the
command in-process and records, through numba's compile events, the compile time of every function
(its own time: the compiles it triggers are subtracted), then a second interpreter on the same cache
that must compile nothing (cache misses counted).  Each job runs twice:

- ``int``: phasecli as it is, the activation code a run-time integer (every kernel compiled once,
  with the branches of all activations);
- ``literal``: the same kernels with the activation code typed as a literal (``IntegerLiteral``)
  through an ``int`` subclass registered with numba's ``typeof`` (the "literal dispatch" of
  RESULTS_first_minute.md), applied here by the child itself, so the package is not changed:
  every kernel is compiled per activation, with the code a compile-time constant.

CPU time (user + sys of the child) is the number to read on a shared machine; the load average is
printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

PY = sys.executable

CHILD = r"""
import collections, json, sys, time
literal = sys.argv[1] == "literal"
if literal:  # the literal dispatch, applied from outside the package
    import functools
    from numba.core import types
    from numba.extending import typeof_impl
    from phasecli import activations as A

    class ActivationCode(int):
        __slots__ = ()

    lit = functools.lru_cache(maxsize=None)(types.IntegerLiteral)
    typeof_impl.register(ActivationCode)(lambda value, c: lit(int(value)))
    for a in A.ACTIVATIONS.values():
        object.__setattr__(a, "code", ActivationCode(a.code))
from numba.core import event
from numba.core.registry import CPUDispatcher

stack, own, count = [], collections.Counter(), collections.Counter()


class Listener(event.Listener):
    def on_start(self, e):
        f = e.data["dispatcher"].py_func
        stack.append([f"{f.__module__}.{f.__qualname__}", time.process_time(), 0.0])

    def on_end(self, e):
        name, t0, inner = stack.pop()
        dt = time.process_time() - t0
        own[name] += dt - inner
        count[name] += 1
        if stack:
            stack[-1][2] += dt


event.register("numba:compile", Listener())
from phasecli.cli import main
try:
    main(sys.argv[2:])
except SystemExit as exc:
    assert not exc.code, exc.code
import gc
misses = sorted({o.py_func.__qualname__ for o in gc.get_objects()
                 if isinstance(o, CPUDispatcher) and sum(o.stats.cache_misses.values())})
print(json.dumps({"own": own.most_common(), "count": sum(count.values()), "misses": misses}))
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def child(mode: str, args: list[str], cache: str):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", CHILD, mode, *args], capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} {' '.join(args)} failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


JOBS = (  # (label, command, whether it reuses the previous job's cache)
    ("phase, relu", ["phase", "-a", "relu", "-f", "csv"], False),
    ("phase, tanh", ["phase", "-f", "csv"], False),
    ("phase, relu after tanh", ["phase", "-a", "relu", "-f", "csv"], True),  # on the cache tanh left
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="append the markdown tables to this file")
    parser.add_argument("--top", type=int, default=12, help="functions listed per run")
    opts = parser.parse_args()
    lines = [f"`python bench/bench_compile.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"load average before: {load()}", "",
             "| job | dispatch | CPU s cold | compile s (own, summed) | functions compiled | CPU s warm | "
             "misses warm |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    tops = []
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        for mode in ("int", "literal"):
            cache = None
            for label, args, reuse in JOBS:
                if not reuse:
                    cache = tempfile.mkdtemp(dir=tmp)
                cold = child(mode, args, cache)
                warm = child(mode, args, cache)
                compiled = sum(v for _, v in cold["own"])
                lines.append(f"| {label} | {mode} | {cold['cpu']:.1f} | {compiled:.1f} | {cold['count']} | "
                             f"{warm['cpu']:.1f} | {len(warm['misses'])} |")
                print(lines[-1], file=sys.stderr, flush=True)
                if not reuse:
                    tops.append((label, mode, cold["own"][:opts.top]))
    lines += ["", f"load average after: {load()}", ""]
    for label, mode, top in tops:
        lines += [f"Own compile CPU s of the largest functions, {label}, {mode}: "
                  + "; ".join(f"`{name.split('.')[-1]}` {t:.1f}" for name, t in top), ""]
    text = "\n".join(lines)
    print(text)
    if opts.out:
        with open(opts.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
