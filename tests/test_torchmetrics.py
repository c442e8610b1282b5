"""rankiqa.integrations.torchmetrics.MeanQuality: the mean of rankiqa scores over batches."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torchmetrics")

import rankiqa  # noqa: E402
from rankiqa.integrations.torchmetrics import MeanQuality  # noqa: E402
from conftest import smooth_photo  # noqa: E402


def test_mean_over_batches_equals_mean_score(tiny_ckpt):
    images = torch.stack([torch.from_numpy(smooth_photo(40, 48, seed=i)).permute(2, 0, 1).float() / 255
                          for i in range(5)])
    metric = MeanQuality(tiny_ckpt)
    metric.update(images[:2])
    metric.update(images[2:])
    want = sum(rankiqa.score(images, model=tiny_ckpt, precision="float32")) / 5
    assert float(metric.compute()) == pytest.approx(want, abs=1e-5)
    metric.reset()
    with pytest.raises(ValueError, match="before any update"):
        metric.compute()
