"""--activation EXPR at the command line and in the registry: hostile expressions (one line, exit 2, nothing
executed), the expression slot (tables, cache folder), and the one-expression-per-process rule.

A valid expression is never installed in this (the test) process: its kernels would then be compiled for it.
Valid ones run in subprocesses; the slot's tables are checked in a subprocess that imports no kernel.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import run_cli

HOSTILE = [
    # (expression, a piece the one-line error must contain)
    ("__import__('os').system('echo pwned')", "__import__"),
    ("x.__class__", "__class__"),
    ("(lambda: 1)()", "lambda"),
    ("exec('1')", "exec"),
    ("eval('x')", "eval"),
    ("open('/etc/passwd')", "open"),
    ("x ** 1000", "1000"),
    ("x ** x", "**"),
    ("1/0 + x", "division by zero"),
    ("x + 1e400", "finite"),
    ("x + nan", "nan"),
    ("x + inf", "inf"),
    ("gamma(x)", "gamma"),
    ("np.tanh(x)", "np"),
    ("tanh(x, 2)", "tanh"),
    ("tanh(x=1)", "keyword"),
    ("y + 1", "y"),
    ("x[0]", "subscript"),
    ("'x'", "string"),
    ("x if x > 0 else 0", "if"),
    ("x > 0", "comparison"),
    ("[x]", "list"),
    ("x; import os", "syntax"),
    ("x +", "syntax"),
    ("x" + " + x" * 3000, "too long"),
]
# refused by the analysis (parsed fine): in a process that has not loaded its kernels yet, as a command is (in a
# process with kernels loaded, "one expression per process" comes first)
HOSTILE_ANALYSIS = [
    ("log(x)", "x = "),
    ("1/x", "x = 0"),
    ("sqrt(x)", "x = "),
    ("x * tanh(x) \u00e9", "not allowed"),
    ("", "empty"),
    ("abs(sin(x))", "kinks"),
    ("2*x", "linear"),
    ("max(x, 0)", "homogeneous"),
    ("where(x < 0, 0, 1) + x", "jumps"),
    ("exp(x**2)", "x = "),
]


def _one_line_usage_error(r, piece):
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phasecli critical: error:"), r.stderr
    assert piece.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_thirty_hostile_expressions():
    assert len(HOSTILE) + len(HOSTILE_ANALYSIS) >= 30


@pytest.mark.parametrize("expr, piece", HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_expression_is_a_one_line_usage_error(expr, piece):
    _one_line_usage_error(run_cli("critical", "-a", expr, "--sb2", "0.05"), piece)


ANALYSIS_PROBE = r"""
import json, sys
sys.path.insert(0, {tests!r})
from conftest import run_cli
out = []
for expr in json.loads(sys.argv[1]):
    r = run_cli("critical", "-a", expr, "--sb2", "0.05")
    out.append([r.returncode, r.stdout, r.stderr])
print(json.dumps(out))
"""


def test_hostile_expressions_refused_by_the_analysis():
    """In a fresh process (no kernels loaded), as a command runs: the analysis names what is wrong."""
    import os

    tests = os.path.dirname(os.path.abspath(__file__))
    exprs = [e for e, _ in HOSTILE_ANALYSIS]
    r = subprocess.run([sys.executable, "-c", ANALYSIS_PROBE.format(tests=tests), json.dumps(exprs)],
                       capture_output=True, text=True, timeout=300, cwd=tests)
    assert r.returncode == 0, r.stderr
    for (expr, piece), (status, out, err) in zip(HOSTILE_ANALYSIS, json.loads(r.stdout.splitlines()[-1])):
        _one_line_usage_error(subprocess.CompletedProcess([], status, out, err), piece)


def test_hostile_expression_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    for expr in (f"__import__('os').system('touch {marker}')", f"open('{marker}', 'w')",
                 f"[c for c in ().__class__.__base__.__subclasses__()]"):
        r = run_cli("phase", "-a", expr, "--sw2", "1", "--sb2", "0.05")
        assert r.returncode == 2 and not marker.exists(), r.stderr


def test_unknown_bare_word_names_the_choices():
    r = run_cli("critical", "-a", "mish")
    assert r.returncode == 2 and "unknown activation 'mish'" in r.stderr and "tanh" in r.stderr


def test_every_command_with_activation_takes_expressions():
    """Every command's --activation has the expression type (a kinked-free hostile value is refused by it)."""
    from phasecli.cli import cli
    from phasecli.cli.options import ActivationType

    taking = [name for name, cmd in cli.commands.items()
              if any(getattr(p, "name", None) == "activation" for p in cmd.params)]
    assert len(taking) >= 12
    for name in taking:
        param = next(p for p in cli.commands[name].params if p.name == "activation")
        assert isinstance(param.type, ActivationType), name


def test_activations_lists_registered_names_and_the_grammar():
    r = run_cli("activations", "-f", "csv", "--columns", "name")
    assert r.returncode == 0 and r.stdout.split() == ["name", "tanh", "erf", "relu", "leaky_relu", "elu", "selu",
                                                        "gelu", "silu", "softplus", "sigmoid", "sin", "linear",
                                                        "hard_tanh", "abs"]
    r = run_cli("activations", "--grammar")
    assert r.returncode == 0 and "where(l OP r, a, b)" in r.stdout and "softplus" in r.stdout


def test_second_expression_in_a_process_with_kernels_is_refused():
    """This process has loaded its kernels (without an expression): an expression needs a new process."""
    import phasecli.activations.functions  # noqa: F401  (the kernels' functions, compiled with the tables)
    from phasecli import validate
    from phasecli.errors import InputError

    with pytest.raises(InputError, match="one expression per process"):
        validate.activation("sin(2*x)/2")
    r = run_cli("critical", "-a", "sin(2*x)/2", "--sb2", "0.05")
    assert r.returncode == 2 and "one expression per process" in r.stderr


SLOT_PROBE = r"""
import json, sys
import phasecli.activations as A
from phasecli.runtime import cache
before = cache.cache_subdir(A.__file__)
e = A.install_expression("x * tanh( softplus(x) )")
again = A.install_expression("x*tanh(softplus(x))")
c = A.EXPRESSION_CODE
out = dict(name=e.name, same=again is e, code=c, kind=A.KIND_CODE[c], bounded=A.BOUNDED[c],
           homogeneous=A.HOMOGENEOUS[c], active=A.ACTIVE_SCALE[c], d2=A.D2PHI_AT_ZERO[c], kinks=A.KINK_COUNT[c],
           range=list(e.phi_prime_sq_range), names=list(A.NAMES), registered=A.ACTIVATIONS[e.name] is e,
           alias=A.ACTIVATIONS["x * tanh( softplus(x) )"] is e, before=before, after=cache.cache_subdir(A.__file__),
           digest=A.expression_digest(), numba="numba" in sys.modules,
           kernels=[m for m in sys.modules if m.startswith("phasecli") and m.endswith(("kernels", "functions"))])
try:
    A.install_expression("sin(2*x)/2")  # no kernel loaded yet: replaces the slot
    out["replaced"] = A.installed_expression().canonical
    import phasecli.activations.functions
    A.install_expression("tanh(x)")
except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def test_expression_slot_tables_and_cache_folder():
    r = subprocess.run([sys.executable, "-c", SLOT_PROBE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["name"] == "x * tanh(softplus(x))" and got["same"] and got["registered"] and got["alias"]
    assert got["code"] == 14 and "x * tanh(softplus(x))" not in got["names"] and len(got["names"]) == 14
    assert got["kind"] == 2 and got["bounded"] is False and got["homogeneous"] is False and got["kinks"] == 0
    # Mish: phi''(0) = 2 sech^2(log 2) sigmoid(0) = 2 (16/25) / 2 = 0.64; phi'(0)^2 = tanh(log 2)^2 = 0.36 in range
    assert got["d2"] == pytest.approx(0.64, rel=1e-14)
    lo, hi = got["range"]
    assert lo == 0.0 and 1.0 < hi < 1.3
    assert 10.0 < got["active"] < 60.0
    assert got["after"].split("/")[0] == got["before"].split("/")[0] + "-x" + got["digest"][:16]
    assert not got["numba"] and not got["kernels"], "install_expression must not load numba or kernels"
    assert got["replaced"] == "sin(2 * x) / 2"
    assert "one expression per process" in got["error"]


API_TWO_EXPRESSIONS = r"""
import phasecli
a = phasecli.critical(activation="tanh(x)", sb2=0.05)["sw2_critical"][0]
b = phasecli.critical(activation="tanh", sb2=0.05)["sw2_critical"][0]  # a registered one: any process
c = phasecli.critical(activation="tanh( x )", sb2=0.05)["sw2_critical"][0]  # the same expression, respelled
assert a == b == c, (a, b, c)
try:
    phasecli.critical(activation="sin(2*x)/2", sb2=0.05)
except phasecli.InputError as exc:
    print(exc)
"""


@pytest.mark.slow
def test_api_second_expression_in_one_process_is_refused():
    r = subprocess.run([sys.executable, "-c", API_TWO_EXPRESSIONS], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    assert "one expression per process" in r.stdout and "tanh(x)" in r.stdout and "sin(2 * x) / 2" in r.stdout


@pytest.mark.slow
def test_expression_on_dask_workers_equals_the_local_registered_run():
    """The expression travels with each task; each worker process installs it before loading kernels."""
    distributed = pytest.importorskip("distributed")
    args = ["phase", "--sw2", "1,1.5,2,2.5", "--sb2", "0,0.05", "-f", "csv", "--columns", "sw2,sb2,q_star,c_star,chi_1"]
    local = run_cli(*args[:1], "-a", "tanh", *args[1:])
    assert local.returncode == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=50) as lc:
        r = subprocess.run([sys.executable, "-m", "phasecli", args[0], "-a", "tanh(x)", *args[1:], "--scheduler",
                            lc.scheduler_address], capture_output=True, text=True, timeout=1200)
        with distributed.Client(lc) as client:
            loaded = client.run(_worker_expression)
    assert r.returncode == 0, r.stderr
    assert r.stdout == local.stdout
    assert "tanh(x)" in set(loaded.values()), loaded  # a worker that ran a task installed the expression


def _worker_expression():
    from phasecli.activations import installed_expression

    expr = installed_expression()
    return None if expr is None else expr.canonical
