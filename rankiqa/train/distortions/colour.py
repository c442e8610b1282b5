"""Colour: saturation, quantisation, aberration (TID2013), diffusion, shift, over-saturation (KADID)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from rankiqa.train.distortions._common import (lab_to_rgb, leveled, rgb_to_lab, rgb_to_ycc, shift, to_float,
                                               to_uint8, ycc_to_rgb)
from rankiqa.train.distortions.blur import gaussian_blur

__all__ = ["LEVELS", "FAMILIES", "STOCHASTIC", "SHARED_DRAW"]


def _chroma_scale(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Chroma (Cb, Cr) scaled by ``factor``: below 1 desaturates, below 0 inverts the hues."""
    ycc = rgb_to_ycc(to_float(image))
    ycc[..., 1:] *= np.float32(factor)
    return to_uint8(ycc_to_rgb(ycc))


def _palette(image: np.ndarray, colors: int, dither: bool) -> np.ndarray:
    pal = Image.fromarray(image).quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                          dither=Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE)
    return np.asarray(pal.convert("RGB"))


def _palette_dithered(image: np.ndarray, colors: int, rng: np.random.Generator) -> np.ndarray:
    return _palette(image, colors, dither=True)


def _palette_plain(image: np.ndarray, colors: int, rng: np.random.Generator) -> np.ndarray:
    return _palette(image, colors, dither=False)


def _chromatic_aberration(image: np.ndarray, shifts: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    r_shift, b_shift = shifts
    out = np.stack([shift(image[..., 0], r_shift), image[..., 1], shift(image[..., 2], -b_shift)], axis=-1)
    return gaussian_blur(out, 0.5)


def _diffuse_ab(image: np.ndarray, sigma: float, gain: float) -> np.ndarray:
    lab = rgb_to_lab(to_float(image))
    lab[..., 1:] = ndimage.gaussian_filter(lab[..., 1:], (sigma, sigma, 0), mode="reflect") * np.float32(gain)
    return to_uint8(lab_to_rgb(lab))


def _color_diffusion(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The a and b channels of CIELAB blurred: colours bleed across edges."""
    return _diffuse_ab(image, sigma, 1.0)


def _color_diffusion_gain(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """KADID's generator: a and b blurred with sigma ``1.5 amount + 2``, then multiplied by ``amount``.

    The gain is what makes KADID's people call this type severe (its levels 2-5
    triple to twelve-fold the chroma); :func:`_color_diffusion` is the blur alone.
    """
    return _diffuse_ab(image, 1.5 * amount + 2, amount)


def _color_shift(image: np.ndarray, amount: int, rng: np.random.Generator) -> np.ndarray:
    """The green channel displaced by ``amount`` pixels in a random direction (misregistration)."""
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = int(round(amount * np.cos(angle))), int(round(amount * np.sin(angle)))
    if dx == 0 and dy == 0:
        dx = amount
    out = image.copy()
    out[..., 1] = shift(image[..., 1], dx, dy)
    return out


def _desaturate_hsv(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """HSV saturation scaled by ``factor`` at constant hue and value."""
    x = to_float(image)
    v = x.max(axis=-1, keepdims=True)
    return to_uint8(v - (v - x) * np.float32(factor))


def _oversaturate_lab(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """CIELAB chroma (a, b) scaled up by ``factor``, clipped to the sRGB gamut."""
    lab = rgb_to_lab(to_float(image))
    lab[..., 1:] *= np.float32(factor)
    return to_uint8(lab_to_rgb(lab))


LEVELS: dict[str, tuple] = {
    "tid_saturation": (0.4, 0.0, -0.4, -0.8),  # #18 chroma factor
    "tid_color_quantization": (64, 32, 16, 8),  # #22 palette size, with dither
    "tid_chromatic_aberration": ((2, 1), (6, 3), (10, 5), (14, 7)),  # #23 (R, B) shift
    "kadid_color_diffusion": (1, 2, 4, 7, 12),  # #04 sigma of the a/b blur
    "kadid_color_diffusion_gain": (1, 3, 6, 8, 12),  # #04 as KADID's generator: blur 1.5a+2, chroma x a
    "kadid_color_shift": (1, 2, 4, 7, 12),  # #05 green displacement, pixels
    "kadid_color_quantization": (64, 48, 32, 16, 8),  # #06 palette size, no dither
    "kadid_saturation_down": (0.7, 0.5, 0.3, 0.15, 0.0),  # #07 HSV saturation factor
    "kadid_saturation_up": (1.25, 1.6, 2.2, 3.2, 5.0),  # #08 CIELAB chroma factor
}

FAMILIES = {
    "tid_saturation": leveled(LEVELS, "tid_saturation", _chroma_scale,
                              "#18 colour saturation change: chroma (Cb, Cr) scaled by 0.4, 0, -0.4, -0.8."),
    "tid_color_quantization": leveled(LEVELS, "tid_color_quantization", _palette_dithered,
                                      "#22 colour quantisation to 64 .. 8 colours, Floyd-Steinberg dither."),
    "tid_chromatic_aberration": leveled(LEVELS, "tid_chromatic_aberration", _chromatic_aberration,
                                        "#23 chromatic aberration: R and B shifted apart, then a slight blur."),
    "kadid_color_diffusion": leveled(LEVELS, "kadid_color_diffusion", _color_diffusion,
                                     "KADID #04 colour diffusion in kind: CIELAB a/b blurred, sigma 1 .. 12."),
    "kadid_color_diffusion_gain": leveled(LEVELS, "kadid_color_diffusion_gain", _color_diffusion_gain,
                                          "KADID #04 as its generator: a/b blurred (sigma 3.5-20), chroma x1-12."),
    "kadid_color_shift": leveled(LEVELS, "kadid_color_shift", _color_shift,
                                 "KADID #05 colour shift: green channel moved 1 .. 12 pixels, random direction."),
    "kadid_color_quantization": leveled(LEVELS, "kadid_color_quantization", _palette_plain,
                                        "KADID #06 colour quantisation to 64 .. 8 colours, no dither."),
    "kadid_saturation_down": leveled(LEVELS, "kadid_saturation_down", _desaturate_hsv,
                                     "KADID #07 colour saturation 1: HSV saturation x0.7 .. x0 (grey)."),
    "kadid_saturation_up": leveled(LEVELS, "kadid_saturation_up", _oversaturate_lab,
                                   "KADID #08 colour saturation 2: CIELAB chroma x1.25 .. x5 (over-saturated)."),
}

STOCHASTIC = frozenset({"kadid_color_shift"})
SHARED_DRAW = frozenset({"kadid_color_shift"})
