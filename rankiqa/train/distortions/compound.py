"""Compound degradations: MLIVE's blur + JPEG / noise, and a camera-like chain (Real-ESRGAN style).

Comparable pairs: an MLIVE family ranks its 3x3 versions by combined
severity (see :func:`rankiqa.train.distortions.rank_level`). The camera
chain draws its stage order and per-stage strengths once per group (a shared
draw) and every stage grows with the level, so any two of its levels are
comparable: the higher level is worse in every stage at once.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from rankiqa.train.distortions._common import add_noise, to_float, to_uint8
from rankiqa.train.distortions.blur import gaussian_blur
from rankiqa.train.distortions.compression import jpeg_compress
from rankiqa.train.distortions.noise import _sensor_noise

__all__ = ["LEVELS", "FAMILIES", "STOCHASTIC", "SHARED_DRAW", "camera_chain"]


def _mlive_gblur_jpeg(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """MLIVE blur (sigma 1.2, 2.5, 6.5) then JPEG (quality 43, 12, 7): 9 versions."""
    sigma, quality = LEVELS["mlive_gblur_jpeg"][level - 1]
    return jpeg_compress(gaussian_blur(image, sigma), quality)


def _mlive_gblur_wn(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """MLIVE blur (sigma 1.2, 2.5, 6.5) then white noise (variance .001, .006, .022): 9 versions."""
    sigma, var = LEVELS["mlive_gblur_wn"][level - 1]
    return to_uint8(add_noise(to_float(gaussian_blur(image, sigma)), np.sqrt(var), rng))


def _stage(image: np.ndarray, stage: str, s: float, rng: np.random.Generator) -> np.ndarray:
    """One degradation of the chain at strength ``s`` in [0, 1]."""
    if stage == "blur":
        return gaussian_blur(image, 0.3 + 2.7 * s)
    if stage == "resize":
        h, w = image.shape[:2]
        f = 1.0 / (1.0 + 3.0 * s)
        small = Image.fromarray(image).resize((max(1, round(w * f)), max(1, round(h * f))),
                                              Image.Resampling.BICUBIC)
        return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR))
    if stage == "noise":
        return _sensor_noise(image, 0.02 * s, rng)
    return jpeg_compress(image, int(round(95 - 80 * s)))


_STAGES = ("blur", "resize", "noise", "jpeg")


def camera_chain(image: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Blur, resize, sensor noise and JPEG in random order, then all four again at half strength.

    Each stage's strength is ``severity`` times a weight drawn uniformly from
    [0.3, 1]; the order and the weights are drawn first, the same for every
    severity given the same ``rng`` state.
    """
    plan = [(rng.permutation(len(_STAGES)), rng.uniform(0.3, 1.0, len(_STAGES))) for _ in range(2)]
    out = image
    for (order, weights), scale in zip(plan, (1.0, 0.5)):
        for i in order:
            out = _stage(out, _STAGES[i], severity * scale * weights[i], rng)
    return out


def _camera_chain(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Camera-like chain (Real-ESRGAN's second-order model): severity 0.2 .. 1 by level."""
    return camera_chain(image, LEVELS["camera_chain"][level - 1], rng)


LEVELS: dict[str, tuple] = {
    # MLIVE: 3 blur levels x 3 second-stage levels; level k = 3*(b-1) + s
    "mlive_gblur_jpeg": tuple((b, q) for b in (1.2, 2.5, 6.5) for q in (43, 12, 7)),
    "mlive_gblur_wn": tuple((b, v) for b in (1.2, 2.5, 6.5) for v in (0.001, 0.006, 0.022)),
    "camera_chain": (0.2, 0.4, 0.6, 0.8, 1.0),  # severity of every stage
}

FAMILIES = {
    "mlive_gblur_jpeg": _mlive_gblur_jpeg,
    "mlive_gblur_wn": _mlive_gblur_wn,
    "camera_chain": _camera_chain,
}

STOCHASTIC = frozenset({"mlive_gblur_wn", "camera_chain"})
SHARED_DRAW = frozenset({"camera_chain"})
