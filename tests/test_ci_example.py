"""The "Use in CI" example, exactly as documented, run end to end: read from README.md, so the doc
and the test cannot drift."""

import csv
import io
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELLS = [s for s in ("sh", "bash") if shutil.which(s)]

TRAIN_STUB = """import json, sys
json.dump(sys.argv[1:], open("train_args.json", "w"))
"""


def ci_example() -> str:
    """The first sh/bash code block after the heading 'Use in CI' of README.md."""
    for path in (ROOT / "README.md",):
        text = path.read_text()
        heading = re.search(r"^#+ Use in CI\s*$", text, re.M)
        if heading is None:
            continue
        block = re.search(r"```(?:sh|bash)\n(.*?)```", text[heading.end():], re.S)
        assert block is not None, f"no sh code block after 'Use in CI' in {path}"
        return block.group(1)
    raise AssertionError("no 'Use in CI' section in README.md")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ci")
    np.savetxt(d / "inputs.csv", np.random.default_rng(0).standard_normal((32, 8)), delimiter=",")
    (d / "train.py").write_text(TRAIN_STUB)
    return d


def run_step(shell, cwd, **env):
    for name in ("train_args.json", "gate.csv"):
        (cwd / name).unlink(missing_ok=True)
    bin_dir = os.path.dirname(sys.executable)  # phasecli and this python first, as in an activated venv
    full_env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **env)
    for name in ("ACT", "DEPTH", "LR"):
        if name not in env:
            full_env.pop(name, None)
    return subprocess.run([shell, "-c", ci_example()], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)


def test_the_example_uses_init_check_and_the_training_script():
    text = ci_example()
    assert "phasecli init" in text and "--format shell" in text and "phasecli check" in text
    assert "train.py" in text and "set -eu" in text


@pytest.mark.parametrize("shell", SHELLS)
def test_ci_example_passes_and_hands_the_values_to_training(shell, workdir):
    import json

    r = run_step(shell, workdir)
    assert r.returncode == 0, r.stderr
    (gate,) = list(csv.DictReader(io.StringIO((workdir / "gate.csv").read_text())))
    assert gate["verdict"] == "pass" and gate["activation"] == "tanh" and gate["depth"] == "100"
    args = json.loads((workdir / "train_args.json").read_text())
    opts = dict(zip(args[::2], args[1::2]))
    assert opts["--activation"] == "tanh" and opts["--depth"] == "100" and opts["--lr"] == "0.1"
    sw2, sb2 = float(gate["sw2"]), float(gate["sb2"])
    assert abs(float(gate["chi_1"]) - 1.0) < 1e-12  # the picked sw2 is critical
    assert float(opts["--w-std"]) == math.sqrt(sw2) and float(opts["--b-std"]) == math.sqrt(sb2)
    assert 0.1 <= float(gate["eta_max"])


def test_ci_example_stops_before_training_on_a_rejected_learning_rate(workdir):
    r = run_step(SHELLS[0], workdir, LR="5")
    assert r.returncode == 1
    assert "learning rate too large: eta 5 >" in r.stderr
    assert not (workdir / "train_args.json").exists()
    (gate,) = list(csv.DictReader(io.StringIO((workdir / "gate.csv").read_text())))
    assert gate["verdict"] == "fail" and gate["failed"] == "learning_rate"
