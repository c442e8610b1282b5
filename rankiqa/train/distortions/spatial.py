"""Spatial: patches and blocks (TID2013, KADID), jitter, pixelation, quantisation, sharpening, resampling."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from rankiqa.train.distortions._common import area_count, leveled, to_float, to_uint8

__all__ = ["LEVELS", "FAMILIES", "STOCHASTIC", "SHARED_DRAW"]


def _patches(image: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Non-eccentricity pattern noise: ``count`` 15x15 patches (per 512x384) copied from nearby places."""
    out = image.copy()
    h, w = image.shape[:2]
    p = 15
    if h <= p or w <= p:
        return out
    for _ in range(area_count(count, image)):
        y, x = int(rng.integers(0, h - p)), int(rng.integers(0, w - p))
        dy, dx = rng.integers(-2 * p, 2 * p + 1, size=2)
        sy, sx = int(np.clip(y + dy, 0, h - p)), int(np.clip(x + dx, 0, w - p))
        out[y:y + p, x:x + p] = image[sy:sy + p, sx:sx + p]
    return out


def _blocks(image: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` 32x32 blocks (per 512x384) replaced by one random colour each."""
    out = image.copy()
    h, w = image.shape[:2]
    b = min(32, h, w)
    for _ in range(area_count(count, image)):
        y, x = int(rng.integers(0, h - b + 1)), int(rng.integers(0, w - b + 1))
        out[y:y + b, x:x + b] = rng.integers(0, 256, size=3, dtype=np.uint8)
    return out


def _jitter(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Each pixel taken from a random nearby place (Gaussian offsets of ``std`` pixels)."""
    h, w = image.shape[:2]
    off = rng.standard_normal((2, h, w), dtype=np.float32) * np.float32(std)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = [yy + off[0], xx + off[1]]
    return np.stack([ndimage.map_coordinates(image[..., c], coords, order=0, mode="reflect") for c in range(3)],
                    axis=-1)


def _pixelate(image: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """Mosaic of ``block`` x ``block`` pixel cells (box average, nearest-neighbour back up)."""
    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((max(1, round(w / block)), max(1, round(h / block))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.NEAREST))


def _quantize_adaptive(image: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Values quantised to ``levels`` bins at the image's own quantiles, each bin shown as its mean."""
    flat = image.reshape(-1).astype(np.float32)
    edges = np.quantile(flat, np.linspace(0, 1, levels + 1)[1:-1])
    idx = np.searchsorted(edges, flat, side="right")
    sums = np.bincount(idx, weights=flat, minlength=levels)
    counts = np.maximum(np.bincount(idx, minlength=levels), 1)
    return np.clip(sums / counts + 0.5, 0, 255).astype(np.uint8)[idx].reshape(image.shape)


def _unsharp(image: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    x = to_float(image)
    return to_uint8(x + np.float32(amount) * (x - ndimage.gaussian_filter(x, (sigma, sigma, 0), mode="reflect")))


def _high_sharpen(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    return _unsharp(image, amount, 1.0)


def _halo_sharpen(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    return _unsharp(image, amount, 3.0)


_DOWN = (Image.Resampling.BOX, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)
_UP = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def _resample(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Down-scaled by ``factor`` and back up, with randomly chosen interpolation filters."""
    h, w = image.shape[:2]
    down, up = _DOWN[int(rng.integers(len(_DOWN)))], _UP[int(rng.integers(len(_UP)))]
    small = Image.fromarray(image).resize((max(1, round(w * factor)), max(1, round(h * factor))), down)
    return np.asarray(small.resize((w, h), up))


LEVELS: dict[str, tuple] = {
    "tid_pattern_noise": (30, 70, 150, 300),  # #14 moved 15x15 patches per 512x384
    "tid_block": (2, 4, 8, 16),  # #15 32x32 colour blocks per 512x384
    "kadid_jitter": (0.5, 1.0, 1.5, 2.5, 4.0),  # #19 offset std, pixels
    "kadid_patch": (20, 40, 80, 140, 220),  # #20 moved 15x15 patches per 512x384
    "kadid_pixelate": (2, 3, 4, 6, 9),  # #21 cell side, pixels
    "kadid_quantization": (20, 14, 10, 7, 4),  # #22 number of levels
    "kadid_color_block": (2, 4, 6, 9, 13),  # #23 32x32 blocks per 512x384
    "kadid_high_sharpen": (1.0, 2.0, 3.0, 5.0, 8.0),  # #24 unsharp amount, sigma 1
    "oversharpen": (0.5, 1.0, 1.6, 2.5, 4.0),  # unsharp amount, sigma 3 (halos)
    "resample": (1 / 2, 1 / 3, 1 / 4, 1 / 6, 1 / 8),  # scale factor, down then back up
}

FAMILIES = {
    "tid_pattern_noise": leveled(LEVELS, "tid_pattern_noise", _patches,
                                 "#14 non-eccentricity pattern noise: 15x15 patches copied from nearby places."),
    "tid_block": leveled(LEVELS, "tid_block", _blocks,
                         "#15 local block-wise distortion: 32x32 blocks replaced by one random colour."),
    "kadid_jitter": leveled(LEVELS, "kadid_jitter", _jitter,
                            "KADID #19 jitter: pixels taken from random nearby places, offset std 0.5 .. 4."),
    "kadid_patch": leveled(LEVELS, "kadid_patch", _patches,
                           "KADID #20 non-eccentricity patch: 20 .. 220 15x15 patches moved (per 512x384)."),
    "kadid_pixelate": leveled(LEVELS, "kadid_pixelate", _pixelate, "KADID #21 pixelate: cells of 2 .. 9 pixels."),
    "kadid_quantization": leveled(LEVELS, "kadid_quantization", _quantize_adaptive,
                                  "KADID #22 quantisation to 20 .. 4 levels at the image's own quantiles."),
    "kadid_color_block": leveled(LEVELS, "kadid_color_block", _blocks,
                                 "KADID #23 colour blocks: 2 .. 13 32x32 blocks of one random colour."),
    "kadid_high_sharpen": leveled(LEVELS, "kadid_high_sharpen", _high_sharpen,
                                  "KADID #24 high sharpen: unsharp mask, amount 1 .. 8, sigma 1."),
    "oversharpen": leveled(LEVELS, "oversharpen", _halo_sharpen,
                           "Over-sharpening halos: unsharp mask with a wide radius (sigma 3), amount 0.5 .. 4."),
    "resample": leveled(LEVELS, "resample", _resample,
                        "Down-then-up resampling by 1/2 .. 1/8, random interpolation filters."),
}

STOCHASTIC = frozenset({"tid_pattern_noise", "tid_block", "kadid_jitter", "kadid_patch", "kadid_color_block",
                        "resample"})
SHARED_DRAW = frozenset({"kadid_jitter", "kadid_patch", "kadid_color_block", "resample"})
