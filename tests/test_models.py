"""The network registry's shared pieces: input standardisation."""

from __future__ import annotations

import torch

from rankiqa.models import IMAGENET_MEAN, IMAGENET_STD, build_model


def test_normalize_is_imagenet_standardisation_in_any_layout():
    model = build_model("vgg16_slim", width=0.05, hidden=8)
    x = torch.rand(2, 3, 16, 16)
    want = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(model.normalize(x), want, rtol=0, atol=1e-6)
    cl = model.normalize(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(cl, want, rtol=0, atol=1e-6)
    # the buffers follow the model and stay out of its checkpoints
    assert not {"scale", "shift", "mean", "std"} & set(model.state_dict())
    assert model.double().normalize(x.double()).dtype == torch.float64


def test_normalize_on_channels_last_rows_matches_the_broadcast_and_keeps_gradients():
    model = build_model("vgg16_slim", width=0.05, hidden=8)
    x = torch.rand(3, 3, 9, 14).contiguous(memory_format=torch.channels_last).requires_grad_()
    out = model.normalize(x)
    want = torch.addcmul(model.shift, x.detach(), model.scale)  # the plain broadcast, element by element
    assert torch.equal(out.detach(), want)
    assert out.is_contiguous(memory_format=torch.channels_last)
    out.sum().backward()
    torch.testing.assert_close(x.grad, model.scale.expand_as(x), rtol=0, atol=0)
