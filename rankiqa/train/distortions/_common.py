"""Helpers shared by the distortion modules: value ranges, colour spaces, filtering."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy import signal

Distortion = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def to_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def add_noise(x: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    return x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(std)


_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                dtype=np.float32)
_YCC_INV = np.linalg.inv(_YCC).astype(np.float32)


def rgb_to_ycc(x: np.ndarray) -> np.ndarray:
    """Full-range YCbCr (JPEG's) of float RGB, chroma centred on 0."""
    return x @ _YCC.T


def ycc_to_rgb(y: np.ndarray) -> np.ndarray:
    return y @ _YCC_INV.T


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB transfer function inverted: float [0, 1] to linear light."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                 [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
_XYZ_INV = np.linalg.inv(_XYZ).astype(np.float32)
_WHITE = _XYZ.sum(axis=1)  # D65 white of sRGB


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)


def _lab_f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6 / 29, t**3, 3 * (6 / 29) ** 2 * (t - 4 / 29))


def rgb_to_lab(x: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of float sRGB in [0, 1]: L in [0, 100], a and b around 0."""
    f = _lab_f(srgb_to_linear(x) @ _XYZ.T / _WHITE)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
                    axis=-1).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Float sRGB (unclipped) of CIELAB, the inverse of :func:`rgb_to_lab`."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    return linear_to_srgb(_lab_f_inv(f) * _WHITE @ _XYZ_INV.T)


def luminance(x: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of float RGB (HxW)."""
    return x @ _YCC[0]


def shift(channel: np.ndarray, dx: int, dy: int = 0) -> np.ndarray:
    """Shift a 2-D channel by ``(dx, dy)`` pixels, repeating the edge rows and columns."""
    h, w = channel.shape
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return channel[ys[:, None], xs[None, :]]


def area_count(n: int, image: np.ndarray) -> int:
    # TID2013's and KADID's counts are for images of about 512x384: keep that
    # density on larger images, but never go below the table on smaller ones
    # (training crops), where scaling down would collapse all levels onto one count.
    h, w = image.shape[:2]
    return max(n, int(round(n * h * w / (512 * 384))))


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter an HxWxC float image with a 2-D kernel (mirrored border), by FFT."""
    kh, kw = kernel.shape
    py, px = kh // 2, kw // 2
    padded = np.pad(image, ((py, kh - 1 - py), (px, kw - 1 - px), (0, 0)), mode="symmetric")
    out = signal.fftconvolve(padded, kernel[:, :, None].astype(np.float32), mode="valid", axes=(0, 1))
    return out.astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised disk (pillbox) of ``radius`` pixels, edge pixels weighted by coverage."""
    r = int(np.ceil(radius))
    # 8x supersampling of each pixel gives its share inside the circle.
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    c = np.arange(-r, r + 1)
    yy = (c[:, None, None, None] + sub[None, None, :, None])
    xx = (c[None, :, None, None] + sub[None, None, None, :])
    k = ((yy**2 + xx**2) <= radius**2).mean(axis=(2, 3)).astype(np.float32)
    return k / k.sum()


def leveled(levels: dict[str, tuple], name: str, distort: Callable[[np.ndarray, Any, np.random.Generator], np.ndarray],
            doc: str) -> Distortion:
    """The family ``name``: ``distort`` at the parameter ``levels[name][level - 1]``."""
    def family(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
        return distort(image, levels[name][level - 1], rng)

    family.__name__ = family.__qualname__ = f"_{name}"
    family.__doc__ = doc
    return family
