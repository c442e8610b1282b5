"""Fit a checkpoint's 0-100 output scale to human scores (``python -m rankiqa.train calibrate``).

The map is ``100 / (1 + exp(-(raw - center) / scale))`` (see
:mod:`rankiqa.calibration`), fitted by least squares to the dataset's human
scores turned into a 0-100 quality: ``100 - DMOS`` clipped to [0, 100] for
DMOS-like scales (LIVE: 0 = no visible distortion), and min-max scaled MOS for
scales where higher is better. A score of 50 is where the fitted curve
crosses the middle of that human scale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file
from scipy import optimize

from rankiqa.calibration import check_calibration
from rankiqa.train.datasets import Dataset, load_dataset
from rankiqa.train.evaluation import score_dataset
from rankiqa.train.publish import PACKAGE_WEIGHTS
from rankiqa.weights.checkpoint import read_card, save_checkpoint
from rankiqa.weights.manifest import MANIFEST_NAME

__all__ = ["human_quality", "fit_calibration", "calibrate_checkpoint", "record_calibration"]


def human_quality(dataset: Dataset) -> np.ndarray:
    """The dataset's human scores as a 0-100 quality, higher = better."""
    s = np.array([x.score for x in dataset.samples], dtype=np.float64)
    if not dataset.higher_is_better:
        return np.clip(100.0 - s, 0.0, 100.0)
    return 100.0 * (s - s.min()) / max(s.max() - s.min(), 1e-12)


def fit_calibration(raw: np.ndarray, quality: np.ndarray) -> dict[str, Any]:
    """Least-squares logistic from raw scores (higher = better) to a 0-100 quality."""
    ok = np.isfinite(raw)
    r, q = raw[ok], quality[ok]
    if r.size < 4 or np.ptp(r) == 0:
        raise ValueError("need at least 4 distinct finite scores to fit a calibration")

    def curve(x, center, log_scale):  # log scale: the fitted scale stays positive
        return 100.0 / (1.0 + np.exp(-np.clip((x - center) / np.exp(log_scale), -60, 60)))

    p0 = [float(np.median(r)), float(np.log(np.std(r) + 1e-12))]
    (center, log_scale), _ = optimize.curve_fit(curve, r, q, p0=p0, maxfev=20000)
    fitted = curve(r, center, log_scale)
    return {"kind": "logistic", "center": float(center), "scale": float(np.exp(log_scale)),
            "rmse": float(np.sqrt(np.mean((fitted - q) ** 2))), "n": int(r.size)}


def calibrate_checkpoint(model: str | Path, dataset_spec: str, protocol: str | None = None,
                         progress: bool = True, pooling: str | None = None) -> dict[str, Any]:
    """Score ``dataset_spec`` (``NAME:PATH``) with ``model`` and fit its calibration."""
    dataset = load_dataset(dataset_spec)
    raw = np.array(score_dataset(model, dataset, protocol=protocol, progress=progress, pooling=pooling),
                   dtype=np.float64)
    cal = fit_calibration(raw, human_quality(dataset))
    target = "100 - DMOS, clipped to [0, 100]" if not dataset.higher_is_better else "MOS scaled to 0-100"
    cal.update(fitted_on=f"{dataset.name} ({dataset.score_name}: {target})",
               command=f"python -m rankiqa.train calibrate --model {model} --dataset {dataset_spec}"
                       + (f" --pooling {pooling}" if pooling else ""))
    return check_calibration(cal)


def record_calibration(checkpoint: str | Path, calibration: dict[str, Any], manifest: str | Path | None = None) -> None:
    """Store ``calibration`` in the manifest entry ``checkpoint`` (an id), or in the card of ``checkpoint``
    where that is a ``.safetensors`` file; its score range becomes 0-100."""
    calibration = check_calibration(calibration)
    if str(checkpoint).endswith(".safetensors"):
        card = read_card(checkpoint)  # tensors as stored (a half-precision file stays half)
        save_checkpoint(checkpoint, load_file(str(checkpoint)),
                        {**card, "calibration": calibration, "score_range": [0.0, 100.0]})
        return
    path = Path(manifest) if manifest else PACKAGE_WEIGHTS / MANIFEST_NAME
    data = json.loads(path.read_text())
    for entry in data["checkpoints"]:
        if entry["id"] == checkpoint:
            entry["calibration"] = calibration
            entry["score_range"] = [0.0, 100.0]
            break
    else:
        raise ValueError(f"no manifest entry {checkpoint!r} in {path}")
    path.write_text(json.dumps(data, indent=2) + "\n")
