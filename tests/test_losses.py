"""Ranking losses: the vectorised all-pairs loss equals a naive two-branch Siamese loop."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from rankiqa.train.losses import (all_pairs_ranking_loss, clean_tie_loss, comparable_pairs, hard_fraction,
                                  hard_negative_loss, random_pairs, random_pairs_loss)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 1)).double()


def _batch():
    torch.manual_seed(1)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])  # groups of different sizes
    levels = torch.tensor([0, 1, 2, 3, 0, 2, 4, 0, 1, 1, 2, 3])  # equal levels in group 2
    x = torch.rand(len(groups), 3, 8, 8, dtype=torch.float64)
    return x, groups, levels


def _naive(net: nn.Module, x, groups, levels, margin):
    """Standard Siamese: a separate forward pass of both branches for every pair."""
    total, n = 0.0, 0
    for i, j in itertools.product(range(len(x)), repeat=2):
        if groups[i] == groups[j] and levels[i] < levels[j]:
            s_better = net(x[i:i + 1]).squeeze()
            s_worse = net(x[j:j + 1]).squeeze()
            total = total + torch.clamp(s_worse - s_better + margin, min=0)
            n += 1
    return total / n, n


@pytest.mark.parametrize("margin", [0.0, 0.05, 10.0])
def test_all_pairs_equals_naive_loss_and_gradients(margin):
    x, groups, levels = _batch()
    net_a, net_b = _net(), _net()
    fast = all_pairs_ranking_loss(net_a(x).squeeze(1), groups, levels, margin)
    fast.loss.backward()
    slow, n = _naive(net_b, x, groups, levels, margin)
    slow.backward()
    assert fast.num_pairs == n == 6 + 3 + 9
    assert abs(fast.loss.item() - slow.item()) < 1e-10
    for pa, pb in zip(net_a.parameters(), net_b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-10, rtol=0)


def test_zero_when_ordered_with_margin():
    groups = torch.tensor([0, 0, 0, 1, 1])
    levels = torch.tensor([0, 1, 2, 0, 1])
    scores = torch.tensor([3.0, 2.0, 1.0, 5.0, 4.0], requires_grad=True)
    r = all_pairs_ranking_loss(scores, groups, levels, margin=1.0)
    assert r.loss.item() == 0.0 and r.violated == 0.0 and r.accuracy == 1.0
    r.loss.backward()
    assert torch.all(scores.grad == 0)
    r = all_pairs_ranking_loss(scores.detach(), groups, levels, margin=1.5)
    # Pairs differ by 1, 2, 1, 1: three miss the 1.5 margin by 0.5 each.
    assert r.violated == 0.75 and float(r.loss) == pytest.approx(1.5 / 4)


def test_ignores_non_comparable_pairs():
    # Across groups and within equal levels nothing is compared, whatever the scores.
    groups = torch.tensor([0, 0, 1, 1])
    levels = torch.tensor([0, 0, 1, 1])
    r = all_pairs_ranking_loss(torch.tensor([0.0, 9.0, -5.0, 7.0]), groups, levels)
    assert r.num_pairs == 0 and float(r.loss) == 0.0
    better, worse = comparable_pairs(torch.tensor([0, 0, 1]), torch.tensor([2, 0, 1]))
    assert better.tolist() == [1] and worse.tolist() == [0]


def test_gradient_is_p_matrix_count():
    # dL/ds_i = (#violated pairs where i is worse - #where i is better) / #pairs (paper Eq. 10-12).
    groups = torch.zeros(3, dtype=torch.long)
    levels = torch.tensor([0, 1, 2])
    scores = torch.tensor([0.0, 0.0, 0.0], requires_grad=True)
    all_pairs_ranking_loss(scores, groups, levels, margin=1.0).loss.backward()
    assert scores.grad.tolist() == pytest.approx([-2 / 3, 0.0, 2 / 3])


def test_random_pairs_each_image_once():
    groups = torch.repeat_interleave(torch.arange(4), 6)
    levels = torch.arange(6).repeat(4)
    better, worse = random_pairs(groups, levels, torch.Generator().manual_seed(0))
    used = torch.cat([better, worse])
    assert len(better) == 12 and len(set(used.tolist())) == 24
    assert torch.all(groups[better] == groups[worse]) and torch.all(levels[better] < levels[worse])


def test_hard_negative_mining():
    groups = torch.repeat_interleave(torch.arange(2), 6)
    levels = torch.arange(6).repeat(2)
    scores = torch.randn(12, generator=torch.Generator().manual_seed(0))
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert float(hard_negative_loss(scores, groups, levels, 0.0, 1.0, gen()).loss) == \
        float(random_pairs_loss(scores, groups, levels, 1.0, gen()).loss)
    hard = hard_negative_loss(scores, groups, levels, 1.0, 1.0, gen())
    rand = random_pairs_loss(scores, groups, levels, 1.0, gen())
    assert hard.num_pairs == rand.num_pairs == 6 and float(hard.loss) >= float(rand.loss)
    assert [hard_fraction(i, 5000) for i in (0, 4999, 5000, 12000, 10**6)] == [0.0, 0.0, 0.1, 0.2, 0.5]


def test_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        all_pairs_ranking_loss(torch.zeros(3), torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="1-D"):
        all_pairs_ranking_loss(torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, 1))


def test_cross_content_pairs_only_join_different_photos_far_apart():
    from rankiqa.train.losses import cross_content_loss, cross_content_pairs

    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    levels = torch.tensor([0, 1, 2, 0, 1, 2])
    better, worse = cross_content_pairs(groups, levels, 2)
    assert sorted(zip(better.tolist(), worse.tolist())) == [(0, 5), (3, 2)]
    better, worse = cross_content_pairs(groups, levels, 1)
    assert len(better) == 6 and bool((groups[better] != groups[worse]).all())
    assert bool((levels[worse] - levels[better] >= 1).all())
    # photo 1 scores far above photo 0 at every level: only the cross pair (3 better than 2) is met
    scores = torch.tensor([1.0, 0.5, 0.0, 10.0, 9.5, 9.0])
    result = cross_content_loss(scores, groups, levels, 2, margin=1.0)
    assert result.num_pairs == 2 and result.accuracy == 0.5
    assert float(result.loss) == pytest.approx((max(0.0, 9.0 - 1.0 + 1.0) + 0.0) / 2)
    with pytest.raises(ValueError, match="min_gap"):
        cross_content_pairs(groups, levels, 0)


def test_cross_content_pairs_with_blocks_stay_inside_each_block():
    from rankiqa.train.losses import cross_content_pairs

    groups = torch.repeat_interleave(torch.arange(4), 3)
    levels = torch.arange(3).repeat(4)
    blocks = groups // 2  # groups 0, 1 under one family, groups 2, 3 under another
    better, worse = cross_content_pairs(groups, levels, 2, blocks)
    assert sorted(zip(better.tolist(), worse.tolist())) == [(0, 5), (3, 2), (6, 11), (9, 8)]
    everywhere = cross_content_pairs(groups, levels, 2)[0]
    assert len(everywhere) == 12  # every ordered pair of the 4 groups has one (clean, level 2) pair
    with pytest.raises(ValueError, match="blocks must match"):
        cross_content_pairs(groups, levels, 2, blocks[:5])


def test_clean_tie_pulls_clean_items_together_beyond_the_tolerance():
    scores = torch.tensor([1.0, 0.0, 3.0, 2.0, 1.2], requires_grad=True)
    levels = torch.tensor([0, 1, 0, 2, 0])
    got = clean_tie_loss(scores, levels, tolerance=0.5)
    # clean items 0, 2, 4: |1-3| = 2, |1-1.2| = 0.2, |3-1.2| = 1.8 -> excess 1.5, 0, 1.3
    assert got.num_pairs == 3 and got.loss.item() == pytest.approx(2.8 / 3)
    assert got.violated == pytest.approx(2 / 3) and got.accuracy == pytest.approx(1 / 3)
    got.loss.backward()
    # the highest clean item goes down, the two low ones up; distorted items feel nothing
    assert scores.grad.tolist() == pytest.approx([-1 / 3, 0.0, 2 / 3, 0.0, -1 / 3])
    assert clean_tie_loss(scores.detach(), levels, tolerance=2.5).loss.item() == 0.0
    none = clean_tie_loss(scores, torch.tensor([0, 1, 1, 2, 3]), tolerance=0.5)
    assert none.num_pairs == 0 and none.loss.item() == 0.0
    with pytest.raises(ValueError, match="tolerance"):
        clean_tie_loss(scores, levels, tolerance=-1)
