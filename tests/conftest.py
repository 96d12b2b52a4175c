import os
import subprocess
import sys

import pytest


def run_cli(*args, input=None, env=None):
    """Run `python -m phasecli ARGS` as a user would; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "phasecli", *args], capture_output=True, text=True,
                          input=input, env=full_env, timeout=300)


@pytest.fixture
def cli():
    return run_cli
