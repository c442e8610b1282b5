"""Blur: Gaussian (LIVE, TID2013, KADID), lens and motion (KADID), camera shake and defocus (capture)."""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from rankiqa.train.distortions._common import (convolve, disk_kernel, leveled, linear_to_srgb, srgb_to_linear,
                                               to_float, to_uint8)

__all__ = ["gaussian_blur", "motion_kernel", "shake_kernel", "LEVELS", "FAMILIES", "STOCHASTIC", "SHARED_DRAW"]


def gaussian_blur(image: np.ndarray, sigma: float, mode: str = "symmetric") -> np.ndarray:
    """Blur an HxWx3 uint8 image with a 2-D circular Gaussian of ``sigma`` pixels.

    ``mode`` is ``"symmetric"`` (mirror the border, as RankIQA's generator) or
    ``"zero"`` (zero padding, MATLAB ``imfilter``'s default, used by LIVE).
    Large kernels go through the FFT on a padded copy, which is exact up to the
    4-sigma truncation and some 30x faster than direct convolution at sigma 33.
    """
    x = image.astype(np.float32)
    if sigma < 3.0:
        nd_mode = "reflect" if mode == "symmetric" else "constant"
        out = ndimage.gaussian_filter(x, sigma=(sigma, sigma, 0), mode=nd_mode, truncate=4.0)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
    pad = int(np.ceil(4.0 * sigma))
    np_mode = "symmetric" if mode == "symmetric" else "constant"
    padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode=np_mode)
    spec = sfft.rfft2(padded, axes=(0, 1), workers=1)
    # fourier_gaussian needs the full-length size of the real transform's last axis.
    spec = ndimage.fourier_gaussian(spec, sigma=(sigma, sigma, 0), n=padded.shape[1], axis=1)
    out = sfft.irfft2(spec, s=padded.shape[:2], axes=(0, 1), workers=1)[pad:-pad, pad:-pad]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _splat(points: np.ndarray, size: int) -> np.ndarray:
    """Normalised kernel of side ``size`` from sub-pixel ``points`` (N x 2, y/x around 0), bilinear."""
    k = np.zeros((size, size), np.float64)
    p = points + (size - 1) / 2.0
    y0, x0 = np.floor(p[:, 0]).astype(int), np.floor(p[:, 1]).astype(int)
    fy, fx = p[:, 0] - y0, p[:, 1] - x0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
        np.add.at(k, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), w)
    return (k / k.sum()).astype(np.float32)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Straight motion-blur kernel: a segment of ``length`` pixels at ``angle`` radians."""
    t = np.linspace(-0.5, 0.5, max(2, int(np.ceil(length * 4))))[:, None] * (length - 1)
    points = t * np.array([[np.sin(angle), np.cos(angle)]])
    return _splat(points, int(np.ceil(length)) | 1)


def shake_kernel(extent: float, rng: np.random.Generator, steps: int = 256) -> np.ndarray:
    """Camera-shake kernel: a random, curved path of the camera, ``extent`` pixels across.

    The path is a random walk with inertia (velocity perturbed at each step and
    pulled back towards the start), as in Boracchi and Foi's trajectory model;
    time samples are spread evenly, so where the camera moved slowly the kernel
    is denser.
    """
    v = rng.standard_normal(2)
    v /= np.linalg.norm(v) + 1e-12
    pos = np.zeros(2)
    path = np.empty((steps, 2))
    for i in range(steps):
        v = 0.9 * v + 0.35 * rng.standard_normal(2) - 0.02 * pos
        pos = pos + 0.1 * v
        path[i] = pos
    path -= path.mean(axis=0)
    span = max(float(np.ptp(path, axis=0).max()), 1e-6)
    points = path * ((extent - 1) / span)
    return _splat(points, int(np.ceil(extent)) + 2 | 1)


def _kernel_blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return to_uint8(convolve(to_float(image), kernel))


def _lens_blur(image: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    return _kernel_blur(image, disk_kernel(radius))


def _motion_blur(image: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    return _kernel_blur(image, motion_kernel(length, rng.uniform(0, np.pi)))


def _camera_shake(image: np.ndarray, extent: float, rng: np.random.Generator) -> np.ndarray:
    return _kernel_blur(image, shake_kernel(extent, rng))


def _defocus(image: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    # Out-of-focus light spreads in linear light: highlights bloom into discs.
    lin = convolve(srgb_to_linear(to_float(image)), disk_kernel(radius))
    return to_uint8(linear_to_srgb(lin))


def _gblur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return gaussian_blur(image, sigma)


LEVELS: dict[str, tuple] = {
    "gblur": (1.2, 2.5, 6.5, 15.2, 33.2),  # Gaussian sigma, pixels (RankIQA's LIVE set)
    "gblur_wide": (0.5, 0.8, 1.2, 1.8, 2.5, 4.0, 6.5, 15.2),  # LIVE's own range, 8 levels
    "tid_gblur": (1.2, 2.5, 6.5, 15.2),  # #08 sigma
    "kadid_gblur": (0.5, 1.0, 2.0, 3.0, 5.0),  # #01 sigma
    "kadid_lens_blur": (1, 2, 4, 6, 8),  # #02 disk radius, pixels
    "kadid_motion_blur": (3, 5, 9, 13, 21),  # #03 segment length, pixels, random direction
    "camera_shake": (4, 7, 11, 16, 24),  # random curved path, extent in pixels
    "defocus": (1.5, 2.5, 4, 6, 9),  # disk radius in linear light, pixels
}

FAMILIES = {
    "gblur": leveled(LEVELS, "gblur", _gblur, "Gaussian blur, sigma 1.2 .. 33.2, mirrored border."),
    "gblur_wide": leveled(LEVELS, "gblur_wide", _gblur, "Gaussian blur, sigma 0.5 .. 15.2 (LIVE's range)."),
    "tid_gblur": leveled(LEVELS, "tid_gblur", _gblur, "#08 Gaussian blur, sigma 1.2 .. 15.2."),
    "kadid_gblur": leveled(LEVELS, "kadid_gblur", _gblur, "KADID #01 Gaussian blur, sigma 0.5 .. 5."),
    "kadid_lens_blur": leveled(LEVELS, "kadid_lens_blur", _lens_blur,
                               "KADID #02 lens blur: disk (pillbox) kernel of radius 1 .. 8 pixels."),
    "kadid_motion_blur": leveled(LEVELS, "kadid_motion_blur", _motion_blur,
                                 "KADID #03 motion blur: straight path of 3 .. 21 pixels, random direction."),
    "camera_shake": leveled(LEVELS, "camera_shake", _camera_shake,
                            "Camera shake: a random curved (non-linear) path kernel 4 .. 24 pixels across."),
    "defocus": leveled(LEVELS, "defocus", _defocus,
                       "Defocus: disk of radius 1.5 .. 9 pixels applied in linear light (highlights bloom)."),
}

STOCHASTIC = frozenset({"kadid_motion_blur", "camera_shake"})
#: Families whose random draw (the path's direction or shape) is one per group: see the package docstring.
SHARED_DRAW = frozenset({"kadid_motion_blur", "camera_shake"})
