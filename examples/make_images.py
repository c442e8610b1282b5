"""Regenerate the example images (our own procedural scene, CC0): ``python examples/make_images.py``.

Writes ``examples/images/scene.png`` (512x384, clean) and a four-shot "burst"
of it in ``examples/images/burst/``: one sharp frame and three with camera-like
defects (shake blur, high-ISO noise, heavy JPEG), so the examples have a known
best shot.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent / "images"


def _fractal(h: int, w: int, rng: np.random.Generator, octaves: int = 6) -> np.ndarray:
    out = np.zeros((h, w))
    for o in range(octaves):
        s = 2 ** (o + 2)
        small = rng.standard_normal((s * h // w + 2, s + 2))
        out += ndimage.zoom(small, (h / small.shape[0], w / small.shape[1]), order=3)[:h, :w] / 1.8**o
    return (out - out.min()) / (np.ptp(out) + 1e-9)


def scene(h: int = 384, w: int = 512, seed: int = 2017) -> np.ndarray:
    """A landscape: sky with clouds, sun, two ridges of hills, a textured meadow, a tree line."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    sky = np.stack([0.35 + 0.3 * y, 0.55 + 0.25 * y, 0.95 - 0.1 * y], -1)
    clouds = np.clip(_fractal(h, w, rng) * 1.6 - 0.75, 0, 1)[..., None]
    img = sky * (1 - clouds) + clouds * 0.97
    sun = np.exp(-(((x - 0.78) * w) ** 2 + ((y - 0.2) * h) ** 2) / (2 * 18**2))[..., None]
    img = img * (1 - sun) + np.array([1.0, 0.95, 0.8]) * sun
    for k, (base, amp, col) in enumerate([(0.52, 0.10, (0.35, 0.45, 0.55)), (0.62, 0.08, (0.2, 0.42, 0.2))]):
        ridge = base + amp * (_fractal(1, w, rng, 5)[0] - 0.5) * 2
        mask = (y > ridge[None, :]).astype(float)[..., None]
        shade = 0.85 + 0.3 * _fractal(h, w, rng)[..., None]
        img = img * (1 - mask) + np.array(col) * shade * mask
    meadow = (y > 0.75)[..., None].astype(float)
    grass = 0.6 + 0.5 * _fractal(h, w, rng, 7)[..., None] + 0.15 * rng.standard_normal((h, w, 1))
    img = img * (1 - meadow) + np.array([0.32, 0.55, 0.18]) * grass * meadow
    for cx in rng.uniform(0.05, 0.95, 9):  # trees: dark cones on the ridge
        tree = ((np.abs(x - cx) * w) < (y - 0.6) * h * 0.35) & (y > 0.6) & (y < 0.78)
        img[tree] = np.array([0.08, 0.22, 0.1]) * (0.8 + 0.4 * rng.random())
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def burst(image: np.ndarray) -> dict[str, np.ndarray]:
    """Four frames of the same shot; 'sharp' is the best."""
    rng = np.random.default_rng(1)
    shake = ndimage.convolve1d(image.astype(np.float32), np.ones(9) / 9, axis=1, mode="reflect")
    noisy = image / 255.0 + rng.normal(0, 0.08, image.shape)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=6)
    return {
        "frame1_shake.png": np.clip(shake + 0.5, 0, 255).astype(np.uint8),
        "frame2_sharp.png": image,
        "frame3_noise.png": (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8),
        "frame4_jpeg.png": np.asarray(Image.open(buf).convert("RGB")),
    }


def main() -> None:
    HERE.mkdir(exist_ok=True)
    img = scene()
    Image.fromarray(img).save(HERE / "scene.png", optimize=True)
    (HERE / "burst").mkdir(exist_ok=True)
    for name, frame in burst(img).items():
        Image.fromarray(frame).save(HERE / "burst" / name, optimize=True)


if __name__ == "__main__":
    main()
