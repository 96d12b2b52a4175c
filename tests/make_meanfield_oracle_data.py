"""Write tests/data/meanfield_oracle.json: the quadrature oracle's (tests/naive.py) 2-D expectations and
direct c* solves at the fixed points of tests/test_meanfield_oracle.py (nested scipy quad, about a minute
of CPU in all); imports nothing from phasecli.

    python tests/make_meanfield_oracle_data.py

Entries are keyed by their arguments (``key``): the test looks each call up and runs the oracle itself
on a miss, and ``test_stored_oracle_values_are_the_oracle`` reruns a sample of them.
"""

from __future__ import annotations

import json
import pathlib

import naive as nv

OUT = pathlib.Path(__file__).with_name("data") / "meanfield_oracle.json"
# (q, c) of test_correlation_expectations and of test_tiny_variance, for every activation
PAIR_POINTS = [(0.3, 0.999999), (2.5, -0.999999), (20.0, 0.999999), (1.0, -0.4), (0.7, 0.0), (2.5, 0.7),
               (1.0, 1.0), (300.0, 1.0), (1.3, -1.0)]
TINY_POINTS = [(q, c) for q in (1e-160, 1e-200) for c in (1.0, 0.5)]
# the oracle's own c* search at chaotic points (act: (sw2, sb2)) of test_chaotic_c_star_direct_solve
C_STAR_POINTS = {"tanh": (3.0, 0.05), "hard_tanh": (3.0, 0.1), "selu": (1.5, 0.05)}


def key(*args) -> str:
    return repr(args)


def pair_keys():
    return [(act, q, c) for act in nv.NAMES for q, c in PAIR_POINTS + TINY_POINTS]


def c_star_entry(act, sw2, sb2):
    """[q* from q0 = 1, the largest c* in [0, 1)] by the oracle."""
    q = nv.q_star(act, sw2, sb2)
    return [q, nv.c_star(act, sw2, sb2, q)]


def main():
    data = {"pair": {}, "c_star": {}}
    for act, q, c in pair_keys():
        data["pair"][key(act, q, c)] = list(nv.pair(act, q, c))
    for act, (sw2, sb2) in C_STAR_POINTS.items():
        data["c_star"][key(act, sw2, sb2)] = c_star_entry(act, sw2, sb2)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=0) + "\n")
    print(f"wrote {OUT}: {len(data['pair'])} pair expectations, {len(data['c_star'])} c* solves")


if __name__ == "__main__":
    main()
