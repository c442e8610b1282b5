"""Inference rewrites: batch-norm folding and the chunked first block compute the same function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rankiqa.api import load_model
from rankiqa.models import build_model
from rankiqa.models.fusion import _Chunked, _PairMaxPool, chunk_first_block, fold_batch_norm, pair_max_pool
from rankiqa.weights.checkpoint import save_checkpoint


def _trained_like(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model("vgg16_slim", width=0.1, hidden=8)
    for m in model.modules():  # running statistics and affine parameters far from the defaults
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.2, 3.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


def test_folded_network_computes_the_same():
    model = _trained_like()
    folded = fold_batch_norm(model)
    x = torch.rand(4, 3, 64, 80)
    with torch.inference_mode():
        assert torch.allclose(model(x), folded(x), atol=1e-5, rtol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 13  # the original is kept


def test_scorer_uses_the_folded_network(tmp_path):
    model = _trained_like(1)
    card = {"arch": "vgg16_slim", "arch_kwargs": {"width": 0.1, "hidden": 8}, "protocol": "full", "crop_size": 32,
            "higher_is_better": True, "score_range": None, "training": {"stage": "test fixture"}}
    path = tmp_path / "bn.safetensors"
    save_checkpoint(path, model.state_dict(), card)
    scorer = load_model(path, device="cpu", precision="float32")  # folding alone: exact
    assert not any(isinstance(m, nn.BatchNorm2d) for m in scorer.model.modules())
    x = torch.rand(3, 48, 40)
    with torch.inference_mode():
        expected = float(model(x.unsqueeze(0))[0])
    assert scorer.score(x, raw=True) == pytest.approx(expected, abs=1e-5)


def test_chunked_first_block_computes_the_same_in_slices(monkeypatch):
    model = fold_batch_norm(_trained_like(2))
    x = torch.rand(7, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = model(x)
    sizes: list[int] = []
    per_item = 32 * 32 * max(m.out_channels for m in list(model.features)[:6] if isinstance(m, nn.Conv2d)) * 4
    chunked = chunk_first_block(model, max_bytes=3 * per_item)  # slices of 3, 3, 1
    first = chunked.features[0]
    assert isinstance(first, _Chunked) and isinstance(first.inner[-1], nn.MaxPool2d)
    first.inner.register_forward_hook(lambda mod, args, out: sizes.append(args[0].shape[0]))
    with torch.inference_mode():
        got = chunked(x)
        single = chunked(x[:2])  # a batch within one slice passes whole
    assert sizes == [3, 3, 1, 2]
    assert torch.equal(got, expected)
    assert torch.equal(single, expected[:2])


def test_chunked_first_block_is_differentiable_and_leaves_other_models_alone():
    model = chunk_first_block(fold_batch_norm(_trained_like(3)), max_bytes=1)  # one item a slice
    x = torch.rand(3, 3, 32, 32, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    flat = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert chunk_first_block(flat) is flat and isinstance(flat[0], nn.Conv2d)
    with pytest.raises(ValueError, match="max_bytes"):
        chunk_first_block(flat, max_bytes=0)


def test_scorer_chunks_the_first_block():
    scorer = load_model("default", device="cpu", precision="float32")
    assert isinstance(scorer.model.features[0], _Chunked)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(3, 8, 16, 20), (2, 5, 7, 9), (1, 64, 2, 2)])
def test_pair_max_pool_equals_max_pool2d(dtype, shape):
    x = torch.randn(shape, dtype=dtype)
    x[0, 0, 0, 0] = float("nan")  # propagated like max_pool2d
    x[-1, -1, 1, 1] = float("-inf")
    mp, pp = nn.MaxPool2d(2, 2), _PairMaxPool(2, 2)
    for layout in (torch.channels_last, torch.contiguous_format):  # the view, and the fallback
        y = x.contiguous(memory_format=layout)
        got = pp(y)
        torch.testing.assert_close(got, mp(y), rtol=0, atol=0, equal_nan=True)
        assert got.is_contiguous(memory_format=layout) or min(shape[2:]) < 4


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_pair_max_pool_with_relu_equals_relu_then_max_pool2d(dtype):
    x = torch.randn(2, 8, 6, 10, dtype=dtype)
    x[0, 0, 0, 0] = float("nan")
    x[1, 2, 2:4, 4:6] = -1.0  # a window with nothing above zero
    want = nn.MaxPool2d(2, 2)(torch.relu(x))
    for layout in (torch.channels_last, torch.contiguous_format):
        got = _PairMaxPool(2, 2, relu=True)(x.contiguous(memory_format=layout))
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)


def test_pair_max_pool_rewrite_keeps_the_scores_and_other_poolings():
    model = fold_batch_norm(_trained_like(4)).to(memory_format=torch.channels_last)
    x = torch.rand(5, 3, 64, 48).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = model(x)
    relus = sum(type(m) is nn.ReLU for m in model.modules())
    pair_max_pool(model)
    assert sum(isinstance(m, _PairMaxPool) and m.relu for m in model.modules()) == 5
    assert sum(type(m) is nn.ReLU for m in model.modules()) == relus - 5  # each pool's ReLU moved after it
    with torch.inference_mode():
        assert torch.equal(model(x), expected)
    odd = nn.Sequential(nn.MaxPool2d(3, 2), nn.MaxPool2d(2, 2, ceil_mode=True), nn.MaxPool2d(2, 1))
    assert not any(isinstance(m, _PairMaxPool) for m in pair_max_pool(odd).modules())
    scorer = load_model("default", device="cpu", precision="float32")
    assert sum(isinstance(m, _PairMaxPool) for m in scorer.model.modules()) == 5
