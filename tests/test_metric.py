"""rankiqa.QualityMetric: an nn.Module with gradients to the input, equal to rankiqa.score."""

from __future__ import annotations

import pytest
import torch

import rankiqa
from conftest import smooth_photo


def _batch(n: int = 3, h: int = 48, w: int = 64) -> torch.Tensor:
    return torch.stack([torch.from_numpy(smooth_photo(h, w, seed=i)).permute(2, 0, 1).float() / 255
                        for i in range(n)])


@pytest.mark.parametrize("protocol", ["paper", "grid", "full"])
def test_metric_equals_score(tiny_ckpt, protocol):
    x = _batch()
    metric = rankiqa.QualityMetric(tiny_ckpt, protocol=protocol)
    got = metric(x)
    assert got.shape == (3,)
    want = rankiqa.load_model(tiny_ckpt, precision="float32").score(x, protocol=protocol)
    assert torch.allclose(got.detach(), torch.tensor(want), atol=1e-5)


def test_gradients_flow_to_the_input_not_the_weights(tiny_ckpt):
    metric = rankiqa.QualityMetric(tiny_ckpt)
    x = _batch().requires_grad_(True)
    metric(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in metric.parameters())


def test_eval_mode_kept_and_batch_independent(tiny_ckpt):
    metric = rankiqa.QualityMetric(tiny_ckpt).train()
    assert not metric.net.training
    x = _batch()
    assert torch.allclose(metric(x)[:1], metric(x[:1]), atol=1e-6)  # no batch statistics


def test_flipped_checkpoint_and_bad_input(tmp_path):
    from conftest import make_checkpoint

    dmos = make_checkpoint(tmp_path / "dmos.safetensors", higher_is_better=False)
    x = _batch(1)
    expected = torch.tensor(rankiqa.score(x[0], model=dmos, precision="float32"))
    assert torch.allclose(rankiqa.QualityMetric(dmos)(x), expected, atol=1e-5)
    metric = rankiqa.QualityMetric(dmos)
    with pytest.raises(ValueError, match="Bx3xHxW"):
        metric(x[0])
    with pytest.raises(ValueError, match="float"):
        metric((x * 255).to(torch.uint8))
