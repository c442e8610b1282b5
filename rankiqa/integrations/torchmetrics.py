"""A ``torchmetrics.Metric`` for Lightning users (``pip install 'rankiqa[torchmetrics]'``).

:class:`MeanQuality` accumulates the mean rankiqa score of every image passed
to ``update`` (across batches, and across processes under DDP: the sum and
count are synced by torchmetrics), and returns it from ``compute``.

>>> metric = MeanQuality()                    # doctest: +SKIP
>>> for batch in loader: metric.update(generator(batch))   # Bx3xHxW in [0, 1]
>>> metric.compute()                          # tensor(71.3)
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torchmetrics import Metric

from rankiqa.metric import QualityMetric

__all__ = ["MeanQuality"]


class MeanQuality(Metric):
    """Mean rankiqa score (higher = better) over all images seen since the last ``reset``."""

    is_differentiable = True
    higher_is_better = True
    full_state_update = False

    def __init__(self, model: str | os.PathLike[str] = "default", protocol: str | None = None, raw: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.quality = QualityMetric(model, protocol=protocol, raw=raw)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, images: torch.Tensor) -> None:
        scores = self.quality(images)
        self.total += scores.detach().double().sum()
        self.count += scores.numel()

    def compute(self) -> torch.Tensor:
        if int(self.count) == 0:
            raise ValueError("MeanQuality.compute() called before any update()")
        return (self.total / self.count).float()
