"""The readable output scale: a monotone map from a network's raw value onto 0-100, higher = better.

A checkpoint's card may hold ``calibration = {"kind": "logistic", "center": c,
"scale": s, ...}``: ``score = 100 / (1 + exp(-(raw - c) / s))`` with ``s > 0``,
fitted to human scores (``python -m rankiqa.train calibrate``). The map is
strictly increasing, so it never changes which of two images is better.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["calibrate", "check_calibration"]


def check_calibration(cal: dict[str, Any] | None) -> dict[str, Any] | None:
    """``cal`` if it is a valid calibration record (or None); else ValueError."""
    if cal is None:
        return None
    if cal.get("kind") != "logistic":
        raise ValueError(f"unknown calibration kind {cal.get('kind')!r} (known: 'logistic')")
    c, s = cal.get("center"), cal.get("scale")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (c, s)) or s <= 0:
        raise ValueError(f"calibration needs a finite center and a positive scale, got {c!r}, {s!r}")
    return cal


def calibrate(raw: float, cal: dict[str, Any]) -> float:
    """The 0-100 score of a raw (higher = better) value; NaN stays NaN."""
    if math.isnan(raw):
        return raw
    z = (raw - cal["center"]) / cal["scale"]
    return 100.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
