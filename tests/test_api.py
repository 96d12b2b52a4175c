"""The Python API: one function per command computing the command line's rows (compared byte for byte
with the CLI's CSV), options as keyword arguments, columns as numpy arrays, errors as exceptions."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import phasecli
from phasecli import api
from phasecli.api import InputError, PhasecliWarning, RuntimeFailure

# (function, keyword arguments, the same options on the command line)
CASES = [
    ("phase", dict(activation="erf", sw2="0.5:3:6", sb2=[0, 0.05]),
     ["-a", "erf", "--sw2", "0.5:3:6", "--sb2", "0,0.05"]),
    ("critical", dict(activation="tanh", sb2=[0.05, 0.1]), ["-a", "tanh", "--sb2", "0.05,0.1"]),
    ("depth_scale", dict(sw2="1:3:4", sb2=0.05), ["--sw2", "1:3:4", "--sb2", "0.05"]),
    ("activations", dict(), []),
    ("kappa", dict(activation="erf", sw2=2, sb2=0.1, depth=[1, 10], examples=8),
     ["-a", "erf", "--sw2", "2", "--sb2", "0.1", "--depth", "1,10", "--m", "8"]),
    ("lr", dict(activation="erf", sw2=2.0, sb2=0.1, depth="1:3", examples=8, loss="mean"),
     ["-a", "erf", "--sw2", "2", "--sb2", "0.1", "--depth", "1:3", "--m", "8", "--loss", "mean"]),
    ("generalize", dict(train="digits", test="digits", examples=30, test_examples=20, activation="erf", sw2=[1, 3],
                        sb2=0.1, depth=[1, 5]),
     ["--train", "digits", "--test", "digits", "--examples", "30", "--test-examples", "20", "-a", "erf",
      "--sw2", "1,3", "--sb2", "0.1", "--depth", "1,5"]),
    # plain on/off flags (--nngp, --balance) and a paired one (--no-normalize) as True / False
    ("generalize", dict(train="digits", test="digits", examples=30, test_examples=20, activation="erf", sw2=3,
                        sb2=0.1, depth=[1, 5], nngp=True, balance=True, normalize=False, strict=False),
     ["--train", "digits", "--test", "digits", "--examples", "30", "--test-examples", "20", "-a", "erf",
      "--sw2", "3", "--sb2", "0.1", "--depth", "1,5", "--nngp", "--balance", "--no-normalize"]),
    ("verify", dict(activation="tanh", sw2=1.5, sb2=0.05, width=16, depth="1:3", samples=20),
     ["-a", "tanh", "--sw2", "1.5", "--sb2", "0.05", "--width", "16", "--depth", "1:3", "--samples", "20"]),
    ("catapult", dict(lr_factor=[0.5, 1.5], steps=200), ["--lr-factor", "0.5,1.5", "--steps", "200"]),
    ("train", dict(activation="erf", examples=6, dim=3, width=16, samples=2, steps=10, lr_factor=[0.5, 1]),
     ["-a", "erf", "--m", "6", "--dim", "3", "--width", "16", "--samples", "2", "--steps", "10",
      "--lr-factor", "0.5,1"]),
    ("train", dict(activation="erf", train="digits", test="digits", examples=30, test_examples=20, width=8, samples=2,
                   steps=3, depth=[1, 2], lr_factor=[0.5, 4]),
     ["-a", "erf", "--train", "digits", "--test", "digits", "--examples", "30", "--test-examples", "20", "--width", "8",
      "--samples", "2", "--steps", "3", "--depth", "1,2", "--lr-factor", "0.5,4"]),
    ("jacobian", dict(activation="tanh", sb2=0.05, depth=[2, 4]), ["-a", "tanh", "--sb2", "0.05", "--depth", "2,4"]),
    ("check", dict(activation="tanh", sw2=1.76, sb2=0.05, depth=10),
     ["-a", "tanh", "--sw2", "1.76", "--sb2", "0.05", "--depth", "10"]),
    ("init", dict(activation="tanh", depth=50), ["-a", "tanh", "--depth", "50"]),
]


@pytest.mark.parametrize("name, kwargs, argv", CASES,
                         ids=[c[0] + ("-test" if "test" in c[1] and c[0] == "train" else "") for c in CASES])
def test_function_computes_the_cli_rows(cli, name, kwargs, argv):
    result = getattr(api, name)(**kwargs)
    if name != "activations":  # phasecli.activations is the registry module
        assert getattr(phasecli, name) is getattr(api, name)
    r = cli(name.replace("_", "-"), *argv, "-f", "csv")
    assert r.returncode == result.status
    assert result.to_csv() == r.stdout
    assert result.columns == tuple(r.stdout.splitlines()[0].split(","))
    assert len(result) == len(r.stdout.splitlines()) - 1 == len(result.rows())


def test_every_command_that_writes_rows_has_its_function():
    from phasecli.api import functions

    names = set(functions())
    assert {c[0] for c in CASES} <= names
    assert {"phase", "critical", "depth_scale", "kappa", "lr", "generalize", "verify", "catapult", "train",
            "jacobian", "check", "init"} <= set(dir(phasecli))


def test_columns_rows_and_types():
    r = phasecli.phase(activation="tanh", sw2=[1, 3], sb2=0.05)
    assert r["sw2"].dtype == np.float64 and list(r["sw2"]) == [1.0, 3.0]
    assert r["phase"].tolist() == ["ordered", "chaotic"] and r["converged"].dtype == bool
    first = r.rows()[0]
    assert first[0] == "tanh" and isinstance(first[3], float) and first[r.columns.index("converged")] is True
    assert repr(r).startswith("<phasecli phase: 2 rows")
    with pytest.raises(KeyError, match="not a column"):
        r["kappa"]


def test_grids_as_numbers_sequences_or_text_are_the_same():
    a = phasecli.depth_scale(sw2="0:1:21", sb2=0.05)
    b = phasecli.depth_scale(sw2=np.linspace(0, 1, 21).round(2), sb2=[0.05])
    assert a.to_csv() == b.to_csv() and a["sw2"][7] == 0.35


def test_to_pandas():
    pandas = pytest.importorskip("pandas")
    frame = phasecli.critical(activation="tanh", sb2=[0.05, 0.1]).to_pandas()
    assert isinstance(frame, pandas.DataFrame) and list(frame.columns) == ["activation", "sb2", "sw2_critical",
                                                                           "q_star", "status"]
    assert frame["sw2_critical"].iloc[0] == pytest.approx(1.7609546396, rel=1e-9)


def test_bad_input_raises_and_warnings_warn():
    with pytest.raises(InputError, match="not a number"):
        phasecli.kappa(sw2="x")
    with pytest.raises(InputError, match="unknown option 'bogus'"):
        phasecli.kappa(bogus=1)
    with pytest.raises(InputError, match="'yes' is not one of 'example', 'position'"):
        phasecli.kappa(normalize="yes")
    with pytest.warns(PhasecliWarning, match="1 of 2 points have no kernel"):
        r = phasecli.kappa(activation="relu", sw2=[1, 3], sb2=0.1, examples=5, depth=3)
    assert r.status == 0 and r["status"].tolist() == ["ok", "q_infinite"] and len(r.messages) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhasecliWarning)
        with pytest.raises(RuntimeFailure, match="no critical point"):
            phasecli.critical(activation="silu", sb2=0.05)


def test_import_phasecli_loads_nothing_heavy():
    code = ("import sys, phasecli; heavy = [m for m in ('click', 'numpy', 'numba', 'matplotlib', 'rich') "
            "if m in sys.modules]; print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr


def test_readme_python_example_runs_as_printed():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no Python example"
    for block in blocks:
        namespace = {}
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["grid"]["chi_1"].shape == (200,) and len(namespace["df"]) == 200
    assert namespace["spectra"]["depth"].tolist() == [1, 10, 100]
