"""Brightness and contrast: mean shift, contrast (TID2013, KADID), brighten/darken (KADID), exposure (capture)."""

from __future__ import annotations

import numpy as np

from rankiqa.train.distortions._common import (lab_to_rgb, leveled, linear_to_srgb, rgb_to_lab, srgb_to_linear,
                                               to_float, to_uint8)

__all__ = ["LEVELS", "FAMILIES"]


def _mean_shift(image: np.ndarray, delta: int, rng: np.random.Generator) -> np.ndarray:
    """Every sample moved by ``delta`` grey levels (0..255), clipped."""
    return np.clip(image.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def _contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast scaled by ``factor`` around the channel means (TID2013 #17)."""
    x = image.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)
    return np.clip((x - mean) * factor + mean + 0.5, 0, 255).astype(np.uint8)


def _flatten(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast scaled by ``factor`` around mid-grey: a washed-out, hazy look."""
    return to_uint8(0.5 + (to_float(image) - 0.5) * np.float32(factor))


def _s_curve(image: np.ndarray, k: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast raised by a logistic tone curve of steepness ``k`` (fixing black and white)."""
    lo, hi = 1 / (1 + np.exp(k / 2)), 1 / (1 + np.exp(-k / 2))
    y = (1 / (1 + np.exp(-k * (to_float(image) - 0.5))) - lo) / (hi - lo)
    return to_uint8(y)


def _lightness_curve(image: np.ndarray, gamma: float, brighten: bool) -> np.ndarray:
    lab = rgb_to_lab(to_float(image))
    L = np.clip(lab[..., 0] / 100.0, 0.0, 1.0)
    lab[..., 0] = 100.0 * (1.0 - (1.0 - L) ** gamma if brighten else L**gamma)
    return to_uint8(lab_to_rgb(lab))


def _brighten(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """CIELAB lightness lifted by the curve ``1 - (1 - L)^(1 + amount)`` (shadows most)."""
    return _lightness_curve(image, 1.0 + amount, brighten=True)


def _darken(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """CIELAB lightness lowered by the curve ``L^(1 + amount)``."""
    return _lightness_curve(image, 1.0 + amount, brighten=False)


def _exposure(image: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """Exposure changed by ``stops`` EV in linear light; highlights clip, shadows sink into 8-bit steps."""
    return to_uint8(linear_to_srgb(srgb_to_linear(to_float(image)) * np.float32(2.0**stops)))


LEVELS: dict[str, tuple] = {
    "tid_mean_shift_down": (-15, -30, -45, -60),  # #16 shift (0..255)
    "tid_mean_shift_up": (15, 30, 45, 60),  # #16
    "tid_contrast_down": (0.85, 0.7, 0.55, 0.4),  # #17 contrast factor
    "tid_contrast_up": (1.2, 1.4, 1.6, 1.8),  # #17
    "kadid_brighten": (0.15, 0.3, 0.5, 0.8, 1.2),  # #16 lightness curve exponent - 1
    "kadid_darken": (0.15, 0.3, 0.5, 0.8, 1.2),  # #17
    "kadid_mean_shift_up": (10, 20, 32, 45, 60),  # #18 grey levels
    "kadid_mean_shift_down": (-10, -20, -32, -45, -60),  # #18
    "kadid_contrast_down": (0.8, 0.65, 0.5, 0.35, 0.2),  # #25 factor around mid-grey
    "kadid_contrast_up": (4, 6, 8, 11, 15),  # #25 logistic steepness
    "underexposure": (-0.7, -1.3, -2.0, -2.8, -3.6),  # EV stops in linear light
    "overexposure": (0.5, 1.0, 1.5, 2.2, 3.0),
}

FAMILIES = {
    "tid_mean_shift_down": leveled(LEVELS, "tid_mean_shift_down", _mean_shift,
                                   "#16 mean shift towards black by 15 .. 60 grey levels."),
    "tid_mean_shift_up": leveled(LEVELS, "tid_mean_shift_up", _mean_shift,
                                 "#16 mean shift towards white by 15 .. 60 grey levels."),
    "tid_contrast_down": leveled(LEVELS, "tid_contrast_down", _contrast,
                                 "#17 contrast reduction around the channel means, factor 0.85 .. 0.4."),
    "tid_contrast_up": leveled(LEVELS, "tid_contrast_up", _contrast,
                               "#17 contrast increase around the channel means, factor 1.2 .. 1.8 (clipped)."),
    "kadid_brighten": leveled(LEVELS, "kadid_brighten", _brighten,
                              "KADID #16 brighten: CIELAB lightness curve 1 - (1 - L)^1.15 .. ^2.2."),
    "kadid_darken": leveled(LEVELS, "kadid_darken", _darken, "KADID #17 darken: CIELAB lightness L^1.15 .. L^2.2."),
    "kadid_mean_shift_up": leveled(LEVELS, "kadid_mean_shift_up", _mean_shift,
                                   "KADID #18 mean shift up by 10 .. 60 grey levels, clipped."),
    "kadid_mean_shift_down": leveled(LEVELS, "kadid_mean_shift_down", _mean_shift,
                                     "KADID #18 mean shift down by 10 .. 60 grey levels, clipped."),
    "kadid_contrast_down": leveled(LEVELS, "kadid_contrast_down", _flatten,
                                   "KADID #25 contrast change, lower: x0.8 .. x0.2 around mid-grey."),
    "kadid_contrast_up": leveled(LEVELS, "kadid_contrast_up", _s_curve,
                                 "KADID #25 contrast change, higher: logistic tone curve, steepness 4 .. 15."),
    "underexposure": leveled(LEVELS, "underexposure", _exposure,
                             "Under-exposure by 0.7 .. 3.6 stops in linear light (shadows lost to 8 bits)."),
    "overexposure": leveled(LEVELS, "overexposure", _exposure,
                            "Over-exposure by 0.5 .. 3 stops in linear light, highlights clipped."),
}
