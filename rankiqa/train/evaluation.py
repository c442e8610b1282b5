"""Evaluation: held-out ranking accuracy (and the paper's Fig. 2 histogram)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from rankiqa.train.ranking_data import RankedGroups, list_images
from rankiqa.train.trainer import evaluate_ranking, select_device
from rankiqa.weights.checkpoint import network_from_checkpoint

__all__ = ["ranking_report", "level_histogram"]

_COLOURS = [(44, 160, 44), (31, 119, 180), (255, 127, 14), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def level_histogram(scores: np.ndarray, levels: np.ndarray, title: str, bins: int = 40,
                    size: tuple[int, int] = (720, 360)) -> Image.Image:
    """Overlaid histograms of network outputs, one colour per distortion level (paper Fig. 2)."""
    w, h = size
    left, bottom, top = 50, 40, 30
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    lo, hi = float(np.min(scores)), float(np.max(scores))
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    hists = {int(lv): np.histogram(scores[levels == lv], edges)[0] for lv in np.unique(levels)}
    peak = max(int(hh.max()) for hh in hists.values()) or 1
    bw = (w - left - 10) / bins
    for k, (lv, counts) in enumerate(sorted(hists.items())):
        colour = _COLOURS[k % len(_COLOURS)]
        pts = [(left + (i + 0.5) * bw, h - bottom - c / peak * (h - bottom - top)) for i, c in enumerate(counts)]
        d.line(pts, fill=colour, width=2)
        d.text((w - 90, top + 12 * k), f"level {lv}", fill=colour, font=font)
    d.line([(left, h - bottom), (w - 10, h - bottom)], fill="black")
    d.text((left, h - bottom + 6), f"{lo:.2f}", fill="black", font=font)
    d.text((w - 60, h - bottom + 6), f"{hi:.2f}", fill="black", font=font)
    d.text(((w - 100) // 2, h - bottom + 18), "network output", fill="black", font=font)
    d.text((left, 8), title, fill="black", font=font)
    return img


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
