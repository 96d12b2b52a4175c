"""One test over every registry entry: each fact the registry states about an activation holds for
the activation itself (as defined independently in ``tests/naive.py``), and the numba kernels'
integer codes select that activation."""

import math

import numpy as np
import pytest

import naive
from phasecli.expectations import kernels as K
from phasecli.activations import ACTIVATIONS, CODE, HOMOGENEOUS, KIND_CODE, KINK_0, KINK_1, KINK_COUNT, NAMES

XS = np.concatenate([np.linspace(-6, 6, 97), [-0.3, 0.2, 1e-3, -2.5e-4]])
SLOPE = 0.13  # a leaky_relu slope other than the default, so a wrong slope shows


def test_registry_and_oracle_list_the_same_activations():
    assert set(NAMES) == set(naive.NAMES)
    assert sorted(CODE.values()) == list(range(len(NAMES)))


@pytest.mark.parametrize("name", NAMES)
def test_kernel_code_selects_this_activation(name):
    code = ACTIVATIONS[name].code
    for x in XS:
        assert K._phi(code, float(x), SLOPE) == pytest.approx(naive.phi(name, float(x), SLOPE), rel=1e-13, abs=1e-15)
        if not any(abs(x - k) < 1e-9 for k in ACTIVATIONS[name].kinks):
            assert K._dphi(code, float(x), SLOPE) == pytest.approx(naive.dphi(name, float(x), SLOPE), rel=1e-11,
                                                                   abs=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_symmetry_boundedness_and_homogeneity(name):
    act = ACTIVATIONS[name]
    phi = lambda x: naive.phi(name, x, SLOPE)  # noqa: E731
    odd = all(math.isclose(phi(-x), -phi(x), rel_tol=1e-14, abs_tol=1e-15) for x in XS)
    assert odd == act.odd
    far = max(abs(phi(x)) for x in (-1e6, -1e3, 1e3, 1e6))
    assert (far < 10.0) == act.bounded
    homog = all(math.isclose(phi(3.0 * x), 3.0 * phi(x), rel_tol=1e-12, abs_tol=1e-15) for x in XS)
    assert homog == act.homogeneous
    assert HOMOGENEOUS[act.code] == act.homogeneous and KIND_CODE[act.code] == act.kind_code


@pytest.mark.parametrize("name", NAMES)
def test_kinks_and_jumps_of_phi_prime(name):
    act = ACTIVATIONS[name]
    h = 1e-7
    jumps = []
    for k in act.kinks:
        jump = naive.dphi(name, k + h, SLOPE) - naive.dphi(name, k - h, SLOPE)
        second = ((naive.dphi(name, k + 2e-4, SLOPE) - naive.dphi(name, k + 1e-4, SLOPE))
                  - (naive.dphi(name, k - 1e-4, SLOPE) - naive.dphi(name, k - 2e-4, SLOPE))) / 1e-4
        assert abs(jump) > 1e-3 or abs(second) > 1e-3, f"{name}: nothing happens at the listed kink {k}"
        jumps.append(jump)
    assert act.phi_prime_jumps == any(abs(j) > 1e-3 for j in jumps)
    assert act.jump_sq(SLOPE) == pytest.approx(sum(j * j for j in jumps), rel=1e-6, abs=1e-12)
    # nowhere else: phi' continuous and phi'' bounded between the grid points
    grid = np.linspace(-5, 5, 2001) + 1e-3
    dp = np.array([naive.dphi(name, float(x), SLOPE) for x in grid])
    straddles = np.zeros(grid.size - 1, dtype=bool)
    for k in act.kinks:
        straddles |= (grid[:-1] < k) & (grid[1:] > k)
    assert np.max(np.abs(np.diff(dp))[~straddles]) < 0.05, f"{name}: phi' jumps where the registry lists no kink"
    kinks = [KINK_0[act.code], KINK_1[act.code]][:KINK_COUNT[act.code]]
    assert tuple(kinks) == act.kinks
