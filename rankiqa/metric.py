"""A differentiable no-reference quality metric for training loops (like piq's and pyiqa's).

:class:`QualityMetric` is a ``torch.nn.Module`` over the same network, crops
and pooling as :func:`rankiqa.score` (activity pooling weights are constants
of each image, not differentiated): it takes a ``Bx3xHxW`` float tensor in
[0, 1] on any device and returns ``B`` scores, higher = better, with gradients
flowing to the input. The weights are frozen and the network stays in eval
mode (batch norm uses its running statistics), so the score of an image does
not depend on the rest of the batch; crops come from the protocol's fixed seed.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from rankiqa.protocols import PAPER_SEED, check_protocol, make_crops

__all__ = ["QualityMetric"]


class QualityMetric(torch.nn.Module):
    """``QualityMetric(model="default", protocol=None, device=None)(x) -> scores [B]``.

    ``protocol``: ``paper`` (the checkpoint's seeded crops), ``grid`` or ``full``; default:
    the checkpoint's. Scores are on the checkpoint's 0-100 scale where it has
    one (a logistic, differentiable too); ``raw=True`` gives the network's value.
    Use ``-metric(x).mean()`` as a loss to make images look better.
    """

    def __init__(self, model: str | os.PathLike[str] = "default", protocol: str | None = None,
                 device: str | torch.device | None = None, raw: bool = False, **load_kwargs: Any):
        super().__init__()
        from rankiqa.api import load_model

        # A loss wants float32 gradients; bfloat16 only when asked for (precision=...).
        load_kwargs.setdefault("precision", "float32")
        scorer = load_model(model, device=device, protocol=protocol, **load_kwargs)
        self.net = scorer.model
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.net.eval()
        self.name = scorer.name
        self.crop_size = scorer.crop_size
        self.num_crops = scorer.num_crops
        self.pooling = scorer.pooling
        self.protocol = check_protocol(protocol or scorer.protocol)
        self.sign = 1.0 if scorer.higher_is_better else -1.0
        self.calibration = None if raw else scorer.calibration

    def train(self, mode: bool = True) -> QualityMetric:
        # A metric never trains: keep batch norm on its running statistics.
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"QualityMetric expects a Bx3xHxW tensor in [0, 1], got {shape}")
        if not x.is_floating_point():
            raise ValueError(f"QualityMetric expects a float tensor in [0, 1], got dtype {x.dtype}")
        device = next(self.net.parameters()).device
        scores = []
        for image in x.to(device):
            views = make_crops(image, self.protocol, self.crop_size, self.num_crops, PAPER_SEED, self.pooling)
            weights = torch.tensor(views.weights, device=device, dtype=x.dtype)
            if len({tuple(t.shape) for t in views.tensors}) == 1:
                out = self.net(torch.stack(views.tensors)).to(x.dtype)
            else:  # tiles of unequal size (the full protocol on large images)
                out = torch.cat([self.net(t.unsqueeze(0)) for t in views.tensors]).to(x.dtype)
            scores.append(self.sign * (out * weights).sum() / weights.sum())
        raw = torch.stack(scores)
        if self.calibration is None:
            return raw
        return 100.0 * torch.sigmoid((raw - self.calibration["center"]) / self.calibration["scale"])

    def extra_repr(self) -> str:
        return f"model={self.name!r}, protocol={self.protocol!r}, crop_size={self.crop_size}"
