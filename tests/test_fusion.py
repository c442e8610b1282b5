"""Batch-norm folding: same function, no norm layers left, original untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rankiqa.api import load_model
from rankiqa.models import build_model
from rankiqa.models.fusion import fold_batch_norm
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
