"""Evaluation: correlation with human scores, and held-out ranking accuracy (with the paper's Fig. 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from rankiqa.train.datasets import Dataset
from rankiqa.train.metrics import fit_logistic5, krcc, logistic5, plcc, rmse, srocc
from rankiqa.train.plots import level_histogram
from rankiqa.train.ranking_data import RankedGroups, list_images
from rankiqa.api import select_device
from rankiqa.train.trainer import evaluate_ranking
from rankiqa.weights.checkpoint import network_from_checkpoint

__all__ = ["ranking_report", "correlation_metrics", "evaluate_dataset", "metrics_table", "score_dataset",
           "scored_with"]

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


def correlation_metrics(pred, target) -> dict[str, float]:
    """SROCC, KRCC, PLCC raw and after the 5-parameter logistic, and RMSE after the mapping."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mapped = logistic5(pred, *fit_logistic5(pred, target))
    return {"srocc": srocc(pred, target), "krcc": krcc(pred, target), "plcc": plcc(pred, target),
            "plcc_logistic": plcc(mapped, target), "rmse_logistic": rmse(mapped, target), "n": int(pred.size)}


def evaluate_dataset(scores: Sequence[float], dataset: Dataset) -> dict[str, Any]:
    """Metrics per distortion type and over all, with the sign set so that higher = better agreement.

    Scores are higher = better; DMOS-like targets are negated first, so a good
    model has positive correlations whatever the dataset's direction.
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.array([x.score for x in dataset.samples], dtype=np.float64)
    if not dataset.higher_is_better:
        t = -t
    types = np.array([x.dist_type for x in dataset.samples])
    refs = np.array([x.ref for x in dataset.samples])
    ok = np.isfinite(s)
    out: dict[str, Any] = {"dataset": dataset.name, "target": dataset.score_name, "per_type": {}}
    for ty in sorted(set(types.tolist())):
        m = ok & (types == ty)
        if m.sum() >= 3:
            out["per_type"][ty] = {**correlation_metrics(s[m], t[m]), "srocc_within_ref": _within_ref(s, t, refs, m)}
    out["all"] = {**correlation_metrics(s[ok], t[ok]), "srocc_within_ref": _within_ref(s, t, refs, ok)}
    out["failed"] = int((~ok).sum())
    return out


def _within_ref(s: np.ndarray, t: np.ndarray, refs: np.ndarray, mask: np.ndarray) -> float:
    """Median SROCC among the samples of one reference photo (those with >= 3 differing targets), NaN if none.

    Beside the SROCC over all photos it tells the two failures apart: versions of
    one photo put in the wrong order (low here too), or photos put on different
    scales (high here, low over all).
    """
    values = []
    for ref in np.unique(refs[mask]):
        m = mask & (refs == ref)
        if m.sum() >= 3 and np.ptp(t[m]) > 0 and np.ptp(s[m]) > 0:
            values.append(srocc(s[m], t[m]))
    return float(np.median(values)) if values else float("nan")


def metrics_table(report: dict[str, Any]) -> str:
    """A markdown table of :func:`evaluate_dataset`'s report."""
    cols = ("srocc", "srocc_within_ref", "krcc", "plcc", "plcc_logistic", "rmse_logistic", "n")
    lines = ["| type | SROCC | SROCC within one photo (median) | KRCC | PLCC | PLCC (logistic) | RMSE (logistic) | n |",
             "|---|---|---|---|---|---|---|---|"]
    rows = list(report["per_type"].items()) + [("**all**", report["all"])]
    for name, m in rows:
        cells = [str(m[c]) if c == "n" else f"{m.get(c, float('nan')):.4f}" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def score_dataset(model: str | Path, dataset: Dataset, protocol: str | None = None, device: str | None = None,
                  progress: bool = True, pooling: str | None = None) -> list[float]:
    """Scores (higher = better) of every sample with a checkpoint, NaN for unreadable files."""
    return scored_with(model, dataset, protocol, device, progress, pooling)[0]


def scored_with(model: str | Path, dataset: Dataset, protocol: str | None = None, device: str | None = None,
                progress: bool = True, pooling: str | None = None, num_crops: int | None = None
                ) -> tuple[list[float], str]:
    """:func:`score_dataset`'s scores and the protocol they were scored with, e.g.
    ``"paper, 15 crops, activity pooling"``; ``protocol``, ``pooling`` and ``num_crops`` default to the
    checkpoint's."""
    from rankiqa.api import load_model

    scorer = load_model(model, device=device, protocol=protocol, pooling=pooling, num_crops=num_crops)
    scores, _ = scorer.score_with_errors([x.path for x in dataset.samples], progress=progress)
    return scores, scorer.views_label()
