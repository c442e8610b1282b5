"""Does one score mean one quality across distortion types? Agreement with the teachers per photo.

Within-family pair accuracy says nothing about whether a blurred and a noisy
version of a photo get scores in the right order. :func:`cross_type_agreement`
cuts one crop per held-out photo, distorts it with every family at every
level, and correlates the network's scores with the full-reference teachers'
(mean of their scores in :data:`~rankiqa.train.teacher.UNITS`) over all those
versions, photo by photo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from rankiqa.train.metrics import srocc
from rankiqa.train.ranking_data import RankedGroups
from rankiqa.train.teacher import UNITS, resolve_teachers

__all__ = ["cross_type_agreement"]


@torch.inference_mode()
def cross_type_agreement(model: torch.nn.Module, refs: Sequence[str | Path], families: str | Sequence[str],
                         teachers: str | Sequence[str] = "ms_gmsd,haarpsi", crop_size: int = 128,
                         max_photos: int | None = None, device: torch.device | str = "cpu",
                         seed: int = 99) -> dict[str, Any]:
    """Per-photo SROCC between ``model`` scores and the teachers over all families x levels.

    Returns ``{"srocc_mean", "srocc_median", "photos", "per_photo"}``.
    """
    names = resolve_teachers(teachers)
    if not names:
        raise ValueError("need at least one teacher")
    refs = list(refs)[:max_photos] if max_photos else list(refs)
    data = RankedGroups(refs, families, crop_size, seed=seed, teachers=names)
    units = torch.tensor([UNITS[n] for n in names])
    was_training = model.training
    model.eval()
    per_photo = []
    n_fam = len(data.families)
    for i in range(len(refs)):
        scores, teacher = [], []
        for f in range(n_fam):
            # One draw index per photo: every family sees the same crop of it.
            images, _, t = data[(i * n_fam + f, i)]
            keep = slice(0, None) if f == 0 else slice(1, None)  # the clean crop once
            scores.append(model(images[keep].to(device).float().div_(255.0)).float().cpu())
            teacher.append((t[keep] / units).mean(dim=1))
        per_photo.append(srocc(torch.cat(scores).numpy(), torch.cat(teacher).numpy()))
    model.train(was_training)
    arr = np.array(per_photo)
    return {"srocc_mean": float(arr.mean()), "srocc_median": float(np.median(arr)), "photos": len(arr),
            "per_photo": per_photo}
