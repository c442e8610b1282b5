"""Record a trained checkpoint in ``weights_manifest.json`` (and embed it in the package).

The entry is built from the checkpoint's own card and the evaluation reports,
so nothing in the manifest is typed by hand: sha256 and size are measured,
training data and recipe come from the training run, quality from reports.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

from rankiqa.api import _check_positive_int
from rankiqa.protocols import PAPER_CROPS, check_pooling
from rankiqa.weights.checkpoint import read_card, sha256_file
from rankiqa.weights.manifest import MANIFEST_NAME, CheckpointRecord

__all__ = ["publish", "PACKAGE_WEIGHTS"]

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def _summary(quality: dict[str, Any]) -> str:
    parts = []
    for key, rep in quality.items():
        if isinstance(rep, dict) and "all" in rep:
            parts.append(f"{key} SROCC {rep['all']['srocc']:.3f}")
        elif isinstance(rep, dict) and "pair_accuracy" in rep:
            parts.append(f"{key} pair acc {rep['pair_accuracy']:.3f}")
    return "; ".join(parts)


def _data_text(refs: Sequence[str]) -> str:
    """Where a ranking run's photos came from, for its model card."""
    text = ("clean photos of ../shared/data/refs: BSDS500, Urban100, Sun-Hays 80, McMaster18 (research "
            "benchmarks)")
    if any(Path(r).name == "refs_extra" for r in refs):
        text += (" and ../shared/data/refs_extra: 24 Unsplash photos (Unsplash License), 9 KDE Plasma wallpapers "
                 "(LGPL-3), 10 Set5/Set14 photos, 5 scikit-image samples (CC0)")
    return text + "; no human scores"


def publish(model: str | Path, checkpoint_id: str, *, embed: bool, make_default: bool = False,
            repo_id: str | None = None, revision: str | None = None, quality_files: Sequence[str] = (),
            command: str = "", license: str = "", description: str = "", num_crops: int = PAPER_CROPS,
            pooling: str = "mean", manifest: str | Path | None = None) -> dict[str, Any]:
    """Add or replace the manifest entry ``checkpoint_id`` for the checkpoint file ``model``.

    ``num_crops``: random crops of the ``paper`` protocol (fewer than the paper's 30 where
    ``bench/protocols.py`` measured no loss); ``pooling``: how crop scores pool (:mod:`rankiqa.protocols`).
    """
    model = Path(model)
    card = read_card(model)
    arch = card["arch"]
    if not re.fullmatch(rf"{re.escape(arch)}\.[a-z0-9_.-]+", checkpoint_id):
        raise ValueError(f"id must be '{arch}.<tag>' (lower case), got {checkpoint_id!r}")
    _check_positive_int(num_crops, "num_crops")  # the same checks the Scorer applies when it reads the entry
    check_pooling(pooling)
    if make_default and not embed:
        raise ValueError("the default checkpoint must be embedded (scoring must work offline)")
    if not embed and not (repo_id and revision and re.fullmatch(r"[0-9a-f]{40}", revision)):
        raise ValueError("a hub checkpoint needs --repo-id and a pinned 40-hex --revision")
    manifest_path = Path(manifest) if manifest else PACKAGE_WEIGHTS / MANIFEST_NAME
    data = json.loads(manifest_path.read_text())
    filename = f"{checkpoint_id}.safetensors"
    if embed:
        target = manifest_path.parent / "embedded" / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        if model.resolve() != target.resolve():
            shutil.copyfile(model, target)
    quality: dict[str, Any] = dict(card.get("quality", {}))
    for qf in quality_files:
        rep = json.loads(Path(qf).read_text())
        key = rep.get("dataset") or Path(qf).stem
        quality[key] = {k: v for k, v in rep.items() if k not in ("table", "model")}
    quality["summary"] = _summary(quality)
    training = dict(card.get("training", {}))
    training["command"] = command
    training["data"] = training.get("data") or _data_text(training.get("config", {}).get("refs", []))
    record = CheckpointRecord(
        id=checkpoint_id, arch=arch, arch_kwargs=card.get("arch_kwargs", {}), filename=filename,
        sha256=sha256_file(model), size=model.stat().st_size, embedded=embed, repo_id=repo_id, revision=revision,
        protocol=card.get("protocol", "paper"), crop_size=int(card.get("crop_size", 224)), num_crops=num_crops,
        pooling=pooling, higher_is_better=bool(card.get("higher_is_better", True)), score_range=card.get("score_range"),
        description=description or card.get("score_meaning", ""), license=license, training=training,
        quality=quality,
    ).to_dict()
    data["checkpoints"] = [c for c in data.get("checkpoints", []) if c["id"] != checkpoint_id] + [record]
    if make_default:
        data["default"] = checkpoint_id
    manifest_path.write_text(json.dumps(data, indent=2) + "\n")
    return record
