"""Evaluation: held-out ranking accuracy (and the paper's Fig. 2 histogram)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from rankiqa.train.plots import level_histogram
from rankiqa.train.ranking_data import RankedGroups, list_images
from rankiqa.train.trainer import evaluate_ranking, select_device
from rankiqa.weights.checkpoint import network_from_checkpoint

__all__ = ["ranking_report"]

def ranking_report(model_path: str | Path, refs: Sequence[str], families: str = "live", groups: int = 128,
                   crop_size: int | None = None, device: str | None = None, plot: str | None = None,
                   seed: int = 99) -> dict[str, Any]:
    """Pair accuracy and Spearman(score, level) on ranked groups of ``refs``; optional histogram PNG."""
    model, card = network_from_checkpoint(model_path)
    dev = select_device(device)
    model.to(dev)
    photos = [p for r in refs for p in list_images(r)]
    if not photos:
        raise ValueError(f"no images found in {list(refs)}")
    ds = RankedGroups(photos, families, crop_size or int(card.get("crop_size", 224)), seed=seed)
    ev = evaluate_ranking(model, ds, groups, dev, seed=seed)
    lines = ["| family | pair accuracy |", "|---|---|"]
    lines += [f"| {f} | {a:.4f} |" for f, a in ev["per_family_accuracy"].items()]
    lines.append(f"| **all** | **{ev['pair_accuracy']:.4f}** |")
    lines.append(f"\nmean Spearman(score, -level) per group: {ev['srocc_level']:.4f} over {groups} groups")
    if plot:
        fam_list = list(ds.families)
        panels = [level_histogram(ev["scores"][ev["families"] == f], ev["levels"][ev["families"] == f], f)
                  for f in fam_list if np.any(ev["families"] == f)]
        sheet = Image.new("RGB", (panels[0].width, panels[0].height * len(panels)), "white")
        for i, p in enumerate(panels):
            sheet.paste(p, (0, i * p.height))
        sheet.save(plot)
    return {"model": str(model_path), "groups": groups, "pair_accuracy": ev["pair_accuracy"],
            "srocc_level": ev["srocc_level"], "per_family_accuracy": ev["per_family_accuracy"],
            "table": "\n".join(lines)}
