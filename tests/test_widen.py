"""Net2Net widening: the wider network computes what the narrow one did, and then learns apart."""

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
def test_noise_free_widening_preserves_the_function_in_both_modes(hidden):
    narrow, wide = _pair(hidden=hidden, wide_hidden=hidden and 12)
    widen(narrow, wide, seed=3, noise=0.0)
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for mode in (False, True):  # eval: running statistics; train: batch statistics
            narrow.train(mode), wide.train(mode)
            torch.testing.assert_close(wide(x), narrow(x), atol=1e-5, rtol=1e-5)
    convs = [m for m in wide.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == WIDE


def test_noise_breaks_symmetry_and_stays_close():
    narrow, wide = _pair()
    widen(narrow, wide, seed=3, noise=0.01)
    last = [m for m in wide.features if isinstance(m, torch.nn.Conv2d)][-1]
    old = [m for m in narrow.features if isinstance(m, torch.nn.Conv2d)][-1]
    originals, copies = last.weight[:old.out_channels].flatten(1), last.weight[old.out_channels:].flatten(1)
    # every copy is near an original unit but equal to none
    dist = torch.cdist(copies, originals).min(dim=1).values
    assert (dist > 0).all() and (dist < 0.1 * originals.norm(dim=1).min()).all()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        narrow.eval(), wide.eval()
        a, b = narrow(x), wide(x)
    assert (a - b).abs().max() < 0.05 * a.abs().max() + 1e-3
    assert not torch.equal(a, b)


def test_same_seed_same_widening_and_bad_targets_refused():
    narrow, wide = _pair()
    other = build_model("vgg16_slim", channels=WIDE, hidden=12)
    widen(narrow, wide, seed=5)
    widen(narrow, other, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(wide.state_dict().values(), other.state_dict().values()))
    with pytest.raises(ValueError, match="convolution 12 would shrink from 8 to 7"):
        widen(narrow, build_model("vgg16_slim", channels=NARROW[:-1] + [7], hidden=8))
    with pytest.raises(ValueError, match="hidden layer would shrink"):
        widen(narrow, build_model("vgg16_slim", channels=WIDE, hidden=4))
    with pytest.raises(ValueError, match="different number of layers"):
        widen(narrow, build_model("vgg16_slim", channels=WIDE, hidden=8, batch_norm=False))
    with pytest.raises(ValueError, match="noise"):
        widen(narrow, wide, noise=-1)


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
