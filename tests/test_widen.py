"""Widening: the wider network computes what the narrow one did, and its new units can learn."""

from __future__ import annotations

import pytest
import torch

from rankiqa.models import build_model
from rankiqa.train.widen import widen

NARROW = [8] * 13
WIDE = [8, 10, 8, 12, 8, 8, 16, 8, 8, 9, 16, 16, 20]


def _pair(hidden: int = 8, wide_hidden: int = 12, seed: int = 0):
    torch.manual_seed(seed)
    narrow = build_model("vgg16_slim", channels=NARROW, hidden=hidden)
    # trained-looking batch-norm statistics, so that copying them is tested too
    with torch.no_grad():
        for m in narrow.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return narrow, build_model("vgg16_slim", channels=WIDE, hidden=wide_hidden)


@pytest.mark.parametrize("hidden", [8, 0])
def test_widening_preserves_the_function_in_both_modes(hidden):
    narrow, wide = _pair(hidden=hidden, wide_hidden=hidden and 12)
    widen(narrow, wide, seed=3)
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for mode in (False, True):  # eval: running statistics; train: batch statistics
            narrow.train(mode), wide.train(mode)
            torch.testing.assert_close(wide(x), narrow(x), atol=1e-5, rtol=1e-5)
    convs = [m for m in wide.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == WIDE


def test_new_units_are_random_and_silent_until_trained():
    narrow, wide = _pair()
    widen(narrow, wide, seed=3)
    old = [m for m in narrow.features if isinstance(m, torch.nn.Conv2d)]
    new = [m for m in wide.features if isinstance(m, torch.nn.Conv2d)]
    for o, n in zip(old, new):
        k, c = o.out_channels, o.in_channels
        assert torch.equal(n.weight[:k, :c], o.weight)
        assert not n.weight[:k, c:].any()  # old units ignore the new inputs
        fresh = n.weight[k:].flatten(1)
        if len(fresh) > 1:  # every new unit its own: no two alike, none a copy of an old one
            assert torch.cdist(fresh, fresh).add(torch.eye(len(fresh)) * 1e9).min() > 0
    assert not wide.head[-1].weight[:, 8:].any()
    # one SGD step gives the new units' outgoing weights a gradient, so they can grow
    wide.train()
    wide(torch.rand(4, 3, 32, 32)).sum().backward()
    assert wide.head[-1].weight.grad[:, 8:].abs().sum() > 0


def test_same_seed_same_widening_and_bad_targets_refused():
    narrow, wide = _pair()
    other = build_model("vgg16_slim", channels=WIDE, hidden=12)
    widen(narrow, wide, seed=5)
    widen(narrow, other, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(wide.state_dict().values(), other.state_dict().values()))
    with pytest.raises(ValueError, match="convolution 12 would shrink from 8x8 to 7x8"):
        widen(narrow, build_model("vgg16_slim", channels=NARROW[:-1] + [7], hidden=8))
    with pytest.raises(ValueError, match="head's first layer would shrink"):
        widen(narrow, build_model("vgg16_slim", channels=WIDE, hidden=4))
    with pytest.raises(ValueError, match="different number of layers"):
        widen(narrow, build_model("vgg16_slim", channels=WIDE, hidden=8, batch_norm=False))


def test_channels_argument_is_checked():
    with pytest.raises(ValueError, match="13 positive integers"):
        build_model("vgg16_slim", channels=[8] * 12)
    with pytest.raises(ValueError, match="13 positive integers"):
        build_model("vgg16_slim", channels=[8] * 12 + [0])
    with pytest.raises(ValueError, match="hidden"):
        build_model("vgg16_slim", hidden=-1)
    # width alone still builds the classic layout
    convs = [m for m in build_model("vgg16_slim", width=0.125).features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64]
