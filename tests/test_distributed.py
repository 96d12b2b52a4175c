"""Dask-distributed sweeps on a real local cluster (two worker processes on 127.0.0.1).

The oracle is the local run: with ``--scheduler`` every command must print exactly the
same bytes as without it (same numbers to the last bit), and the cluster's own task
records must show that its workers computed the tasks.  Skipped when the [dask] extra
is not installed.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from distributed.diagnostics.plugin import SchedulerPlugin  # noqa: E402

from phasecli.runtime import distributed as pdist  # noqa: E402
from phasecli import meanfield  # noqa: E402
from phasecli.errors import InputError, RuntimeFailure  # noqa: E402


class Recorder(SchedulerPlugin):
    """Every task that reached memory on the scheduler: key -> the worker that computed it."""

    def __init__(self):
        self.done = {}
        self.lock = threading.Lock()

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory" and isinstance(key, str) and key.startswith("phasecli_"):
            with self.lock:
                self.done[key] = kwargs.get("worker")

    def runs(self, prefix):
        """{run token: {key: worker}} of the tasks whose key starts with ``prefix``."""
        with self.lock:
            items = list(self.done.items())
        out = {}
        for key, worker in items:
            if key.startswith(prefix + "-"):
                token = key[len(prefix) + 1:].rsplit("-", 1)[0]
                out.setdefault(token, {})[key] = worker
        return out


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=50) as lc:
        recorder = Recorder()
        lc.scheduler.add_plugin(recorder, name="phasecli-test-recorder")
        with distributed.Client(lc) as client:
            client.wait_for_workers(2, timeout=60)
            yield lc, client, recorder


def _new_run(recorder, prefix, before):
    """The task records of the one run of ``prefix`` that appeared since ``before``."""
    runs = {t: keys for t, keys in recorder.runs(prefix).items() if t not in before}
    assert len(runs) == 1, f"expected one new run of {prefix}, got {len(runs)}"
    return next(iter(runs.values()))


def _same_rows(cli, cluster, args, prefix, n_tasks, env_address=False):
    lc, client, recorder = cluster
    local = cli(*args)
    assert local.stdout and "error" not in local.stderr, local.stderr
    before = set(recorder.runs(prefix))
    if env_address:
        remote = cli(*args, env={"DASK_SCHEDULER_ADDRESS": lc.scheduler_address})
    else:
        remote = cli(*args, "--scheduler", lc.scheduler_address)
    assert remote.stdout == local.stdout  # every number to the last bit
    assert (remote.returncode, remote.stderr) == (local.returncode, local.stderr)
    assert remote.stdout.count("\n") > n_tasks
    done = _new_run(recorder, prefix, before)
    assert len(done) == n_tasks
    workers = set(done.values())
    assert workers <= set(client.scheduler_info()["workers"])
    return workers


def test_phase_grid_identical_and_run_by_both_workers(cli, cluster):
    # 60 x 60 cells: row_blocks makes one task per sw2 row
    workers = _same_rows(cli, cluster, ("phase", "--sw2", "0.5:4:60", "--sb2", "0:1:60", "-f", "csv"),
                         "phasecli_solve_phase", 60)
    assert len(workers) == 2


@pytest.mark.slow  # a fresh process or a full warmup: tens of seconds
def test_generalize_identical(cli, cluster):
    args = ("generalize", "--train", "digits", "--test", "digits", "--examples", "300", "--test-examples", "300",
            "-a", "erf", "--sw2", "1,2,3,4", "--sb2", "0.1",
            "--depth", "1,10,30", "-f", "csv")
    workers = _same_rows(cli, cluster, args, "phasecli_ntk_generalization", 4)
    assert len(workers) >= 1


@pytest.mark.parametrize("args, prefix, n_tasks", [
    (("kappa", "-a", "erf", "--sw2", "1,1.5,2", "--sb2", "0.05,0.1", "--depth", "1,10,50", "-f", "json"),
     "phasecli_ntk_spectra", 6),
    (("lr", "-a", "relu", "--sw2", "1.5,2.5", "--sb2", "0.1", "--loss", "mean", "--depth", "5,20", "-f", "tsv"),
     "phasecli_ntk_spectra", 2),  # sw2 = 2.5: q* infinite, the same warning and exit status 1
    (("depth-scale", "-a", "tanh", "--sw2", "0.5:4:80", "--sb2", "0,0.05", "-f", "jsonl"),
     "phasecli_solve_phase", 40),
])
def test_other_sweeps_identical(cli, cluster, args, prefix, n_tasks):
    _same_rows(cli, cluster, args, prefix, n_tasks)


def test_verify_identical_and_run_on_the_workers(cli, cluster):
    # one task per (sw2, sb2, width) at this size: 2 x 2 = 4 tasks of 50 networks
    args = ("verify", "-a", "tanh", "--sw2", "1.5,3", "--sb2", "0.05", "--width", "16,32", "--depth", "1,5",
            "--samples", "50", "-f", "csv")
    _same_rows(cli, cluster, args, "phasecli_sample_chunk", 4)


def test_train_identical_and_run_on_the_workers(cli, cluster):
    # one task per lr_factor; 2.5 diverges (inf / nan columns must match too)
    args = ("train", "-a", "erf", "--m", "10", "--dim", "5", "--width", "64", "--samples", "3", "--steps", "50",
            "--lr-factor", "0.5,1.5,2.5", "-f", "csv")
    _same_rows(cli, cluster, args, "phasecli_train_at", 3)


def test_verify_chunks_give_the_same_networks_wherever_they_run(cluster, monkeypatch):
    """Each (sw2, sb2, width) cut into several tasks (networks first .. first + count - 1): on the cluster,
    locally, and locally in one piece, every per-network value and every row is the same to the last bit
    (each network's random stream depends on (seed, index) only)."""
    from phasecli.finite import verify as core

    lc, client, recorder = cluster
    kwargs = dict(samples=30, seed=3, q0=1.0, c0=0.5, slope=0.01)
    whole = list(core.run("tanh", [1.5, 3.0], [0.05], "8,24", "1,4,9", **kwargs))
    monkeypatch.setattr(core, "TASK_WORK", 1)  # MIN_TASK = 4 networks per task: 8 tasks per group
    tasks, _, groups = core.plan("tanh", [1.5, 3.0], [0.05], "8,24", "1,4,9", **kwargs)
    assert len(tasks) == 32 and [n for _, n in groups] == [8, 8, 8, 8]
    local = list(core.run("tanh", [1.5, 3.0], [0.05], "8,24", "1,4,9", **kwargs))
    before = set(recorder.runs("phasecli_sample_chunk"))
    remote = list(core.run("tanh", [1.5, 3.0], [0.05], "8,24", "1,4,9", scheduler=lc.scheduler_address, **kwargs))
    done = _new_run(recorder, "phasecli_sample_chunk", before)
    assert len(done) == 32 and len(set(done.values())) == 2
    for w, a, b in zip(whole, local, remote):
        for name in ("q_mean", "q_se", "c_mean", "c_se", "ntk_mean", "ntk_se", "ratio", "ratio_se", "max_share",
                     "q_theory", "c_theory", "ntk_theory"):
            np.testing.assert_array_equal(getattr(a, name), getattr(w, name), err_msg=name)
            np.testing.assert_array_equal(getattr(b, name), getattr(w, name), err_msg=name)
        assert list(a.trust) == list(b.trust) == list(w.trust)


def test_scheduler_from_environment(cli, cluster):
    _same_rows(cli, cluster, ("phase", "-a", "erf", "--sw2", "1,2,3", "--sb2", "0.1", "-f", "csv"),
               "phasecli_solve_phase", 3, env_address=True)


def test_shared_data_scattered_once_and_window_bounded(cluster):
    """The data set is one key for the whole run, held by the workers, each task depends on it (the data is
    not inside the tasks), no more than ``window`` tasks are on the cluster at any time, and the results are
    the local ones, bit for bit."""
    lc, client, recorder = cluster
    sw2 = np.linspace(0.5, 4.0, 14)
    sb2 = np.linspace(0.0, 1.0, 7)
    tasks = [{"sw2": sw2[k:k + 1]} for k in range(sw2.size)]
    shared = {"activation": "tanh", "sb2": sb2, "q0": 1.0, "slope": 0.01}

    def state(dask_scheduler):
        keys = [k for k in dask_scheduler.tasks if isinstance(k, str) and k.startswith("phasecli_")]
        return {k: (sorted(w.address for w in dask_scheduler.tasks[k].who_has or ()),
                    sorted(d.key for d in dask_scheduler.tasks[k].dependencies)) for k in keys}

    seen = []
    results = []
    for grid in pdist.run(meanfield.solve_phase, tasks, shared=shared, scheduler=lc.scheduler_address, window=3):
        results.append(grid)
        seen.append(client.run_on_scheduler(state))
    assert len(results) == len(tasks)
    shared_keys = {k for snapshot in seen for k in snapshot if k.startswith("phasecli_shared-")}
    assert len(shared_keys) == 1  # scattered once for the whole run
    for snapshot in seen:
        task_keys = [k for k in snapshot if k.startswith("phasecli_solve_phase-")]
        # held by the workers (the scheduler's memory manager may drop spare replicas: peers refetch)
        assert snapshot[next(iter(shared_keys))][0]
        assert len(task_keys) <= 3
        assert all(snapshot[k][1] == sorted(shared_keys) for k in task_keys)  # the data is not in the tasks
    local = meanfield.solve_phase("tanh", sw2, sb2)
    for name in ("q_star", "c_star", "chi_1", "chi_c", "xi_c", "xi_1", "xi_star"):
        np.testing.assert_array_equal(np.vstack([getattr(g, name) for g in results]), getattr(local, name))
    assert np.array_equal(np.vstack([g.phase for g in results]), local.phase)


def test_task_error_keeps_type_and_parameter(cluster):
    lc = cluster[0]
    tasks = [{"sw2": [1.0]}, {"sw2": [-1.0]}]
    with pytest.raises(InputError) as info:
        list(pdist.run(meanfield.solve_phase, tasks, shared={"activation": "tanh", "sb2": [0.1]},
                       scheduler=lc.scheduler_address))
    assert info.value.param == "sw2"


def test_worker_version_mismatch_is_one_runtime_failure(cluster, monkeypatch):
    import phasecli

    real = phasecli.__version__
    monkeypatch.setattr(phasecli, "__version__", "0.0.0-other")
    with pytest.raises(RuntimeFailure, match=f"runs phasecli {real}, this machine 0.0.0-other"):
        list(pdist.run(meanfield.solve_phase, [{"sw2": [1.0]}], shared={"activation": "tanh", "sb2": [0.1]},
                       scheduler=cluster[0].scheduler_address))


def test_scheduler_without_workers(monkeypatch):
    monkeypatch.setattr(pdist, "WORKER_TIMEOUT", 1.0)
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=50) as empty:
        with pytest.raises(RuntimeFailure, match="has no workers"):
            list(pdist.run(meanfield.solve_phase, [{"sw2": [1.0]}], shared={"activation": "tanh", "sb2": [0.1]},
                           scheduler=empty.scheduler_address))


def test_ctrl_c_cancels_the_tasks_in_flight(cluster):
    lc, client, recorder = cluster
    before = set(recorder.runs("phasecli_solve_phase"))
    proc = subprocess.Popen([sys.executable, "-m", "phasecli", "phase", "--sw2", "0.5:4:1200", "--sb2", "0:1:1000",
                             "-f", "csv", "--scheduler", lc.scheduler_address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("activation,sw2,")
        assert proc.stdout.readline()  # the first block arrived
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["phasecli phase: interrupted"]

    def ours(dask_scheduler):
        return [k for k in dask_scheduler.tasks if isinstance(k, str) and k.startswith("phasecli_")]

    deadline = time.monotonic() + 20
    while client.run_on_scheduler(ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.run_on_scheduler(ours) == []
    done = _new_run(recorder, "phasecli_solve_phase", before)
    assert len(done) < 60  # 1.2M cells in 60 blocks of 20,000: most were never computed


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_fails_in_bounded_time(cli):
    t0 = time.monotonic()
    r = cli("phase", "--sw2", "1,2", "--sb2", "0.1", "-f", "csv", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}")
    elapsed = time.monotonic() - t0
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], r.stderr
    assert elapsed < pdist.CONNECT_TIMEOUT + 25  # bounded: the connect timeout plus start-up


@pytest.mark.parametrize("address, words", [("nonsense", "not a Dask scheduler address"),
                                            ("foo://host:1", "unknown address scheme"),
                                            ("", "give a Dask scheduler address"),
                                            ("tcp://127.0.0.1:70000", "not in 1..65535")])
def test_bad_address_is_a_usage_error(cli, address, words):
    r = cli("kappa", "--sw2", "1.5", "--depth", "3", "-f", "csv", "--scheduler", address)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--scheduler" in lines[0] and words in lines[0], r.stderr


HIDE_DASK = ("import sys\n"
             "sys.modules['dask'] = None\n"
             "sys.modules['distributed'] = None\n"
             "from phasecli.cli import main\n"
             "main(sys.argv[1:])\n")


def test_without_dask_installed_scheduler_is_one_line_exit_2():
    r = subprocess.run([sys.executable, "-c", HIDE_DASK, "phase", "--sw2", "1,2", "--sb2", "0.1",
                        "--scheduler", "tcp://127.0.0.1:8786"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "--scheduler" in lines[0] and "pip install 'phasecli[dask]'" in lines[0]
    ok = subprocess.run([sys.executable, "-c", HIDE_DASK, "phase", "--sw2", "1,2", "--sb2", "0.1", "-f", "csv"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stderr == "" and ok.stdout.count("\n") == 3


def test_local_run_imports_no_dask():
    code = ("import sys\n"
            "from phasecli.cli import main\n"
            "try:\n"
            "    main(['phase', '--sw2', '1,2', '--sb2', '0.1', '-f', 'csv'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "sys.stderr.write(','.join(m for m in ('dask', 'distributed') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "DASK_SCHEDULER_ADDRESS": ""})
    assert r.returncode == 0 and r.stdout.count("\n") == 3
    assert r.stderr == ""
