"""Rewrite tests/slow_ids.txt from a full run's ``--durations=0`` output: every test whose call and
setup took >= THRESHOLD seconds goes to the full suite only (conftest.py marks it ``slow``).

    python -m pytest -n 2 -q --durations=0 > durations.txt
    python tests/update_slow_ids.py durations.txt
"""

import collections
import pathlib
import re
import sys

THRESHOLD = 2.0
# tests whose module-scoped fixtures (a Monte Carlo ensemble, a trained set of networks) cost seconds:
# whichever of them runs first pays for the fixture, so they go together
ALWAYS = ["tests/test_montecarlo.py::test_q_star[chaotic]", "tests/test_montecarlo.py::test_c_star[ordered]",
          "tests/test_montecarlo.py::test_chi_1[ordered]", "tests/test_montecarlo.py::test_chi_1[chaotic]",
          "tests/test_train.py::test_same_networks_give_the_same_runs_as_the_independent_trainer[relu-3]",
          "tests/test_train.py::test_initial_kernel_in_every_row_diverged_or_not[erf-1]",
          "tests/test_train.py::test_initial_kernel_in_every_row_diverged_or_not[relu-3]",
          "tests/test_train.py::test_regimes_as_independently_drawn_networks_classify_them[erf-1]",
          "tests/test_train.py::test_regimes_as_independently_drawn_networks_classify_them[relu-3]"]
HEADER = """# Tests the quick tier (-m 'not slow') leaves to the full suite: each took >= 2 s (call + setup)
# in a full run on 2 cores (python -m pytest -n 2 --durations=0). Regenerate with
#   python -m pytest -n 2 -q --durations=0 > durations.txt; python tests/update_slow_ids.py durations.txt
"""


def main(path):
    seconds = collections.defaultdict(float)
    for line in pathlib.Path(path).read_text().splitlines():
        m = re.match(r"\s*([\d.]+)s (call|setup|teardown)\s+(\S.*)$", line)
        if m:
            seconds[m.group(3).strip()] += float(m.group(1))
    slow = sorted((n for n, s in seconds.items() if s >= THRESHOLD), key=lambda n: -seconds[n])
    slow += [n for n in ALWAYS if n not in slow]
    out = pathlib.Path(__file__).with_name("slow_ids.txt")
    out.write_text(HEADER + "".join(n + "\n" for n in slow))
    print(f"{len(slow)} tests ({len(ALWAYS)} by their fixtures, the rest >= {THRESHOLD:g} s) -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
