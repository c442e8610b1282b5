"""The noise estimate behind bench/siamese.py's "larger than its noise": seeds and groups, in quadrature."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from siamese import difference_noise  # noqa: E402


def test_a_constant_shift_has_no_noise():
    b = np.random.default_rng(0).uniform(0.5, 1.0, size=(3, 200))
    d, se = difference_noise(b + 0.05, b)
    assert d == pytest.approx(0.05)
    assert se == pytest.approx(0.0, abs=1e-12)


def test_one_seed_gives_the_standard_error_of_the_group_mean():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 0.1, size=(1, 2000))
    d, se = difference_noise(a, np.zeros_like(a))
    assert se == pytest.approx(0.1 / np.sqrt(2000), rel=0.1)
    assert abs(d) < 4 * se


def test_seed_to_seed_spread_adds_to_the_noise():
    rng = np.random.default_rng(2)
    groups = rng.normal(0.0, 0.05, size=(1, 500))
    same = np.repeat(groups, 4, axis=0)
    offsets = np.array([[0.03], [-0.02], [0.04], [-0.05]])
    _, se_groups = difference_noise(same, np.zeros_like(same))
    _, se_both = difference_noise(same + offsets, np.zeros_like(same))
    seeds_only = offsets.std(ddof=1) / np.sqrt(4)
    assert se_both == pytest.approx(np.hypot(seeds_only, se_groups), rel=0.05)
    assert se_both > 3 * se_groups


def test_paired_groups_cancel_what_both_methods_share():
    """Both methods score the same groups: a hard group is hard for both and must not count as noise."""
    rng = np.random.default_rng(3)
    shared = rng.uniform(0.3, 1.0, size=(3, 400))
    a = shared + 0.01 + rng.normal(0.0, 0.001, size=shared.shape)
    d, se = difference_noise(a, shared)
    assert d == pytest.approx(0.01, abs=1e-3)
    assert se < 0.001
