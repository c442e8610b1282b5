"""Small PNG plots drawn with Pillow (keeps matplotlib out of the dependencies)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["COLOURS", "line_plot", "level_histogram"]

COLOURS = [(44, 160, 44), (31, 119, 180), (255, 127, 14), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
_LEFT, _BOTTOM, _TOP, _RIGHT = 60, 40, 30, 130


def _frame(size: tuple[int, int], title: str, xlabel: str, x_range: tuple[float, float],
           y_range: tuple[float, float]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.line([(_LEFT, h - _BOTTOM), (w - _RIGHT, h - _BOTTOM)], fill="black")
    d.line([(_LEFT, _TOP), (_LEFT, h - _BOTTOM)], fill="black")
    d.text((_LEFT, h - _BOTTOM + 6), f"{x_range[0]:.3g}", fill="black", font=font)
    d.text((w - _RIGHT - 40, h - _BOTTOM + 6), f"{x_range[1]:.3g}", fill="black", font=font)
    d.text((4, h - _BOTTOM - 10), f"{y_range[0]:.3g}", fill="black", font=font)
    d.text((4, _TOP), f"{y_range[1]:.3g}", fill="black", font=font)
    d.text(((w - _RIGHT + _LEFT) // 2 - 40, h - _BOTTOM + 18), xlabel, fill="black", font=font)
    d.text((_LEFT, 8), title, fill="black", font=font)
    return img, d


def _to_px(x: float, y: float, size: tuple[int, int], xr: tuple[float, float], yr: tuple[float, float]):
    w, h = size
    px = _LEFT + (x - xr[0]) / ((xr[1] - xr[0]) or 1) * (w - _LEFT - _RIGHT)
    py = h - _BOTTOM - (y - yr[0]) / ((yr[1] - yr[0]) or 1) * (h - _TOP - _BOTTOM)
    return px, py


def line_plot(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, xlabel: str,
              size: tuple[int, int] = (720, 400)) -> Image.Image:
    """One coloured line per named series of (xs, ys), with a legend."""
    xs = np.concatenate([np.asarray(v[0], float) for v in series.values()])
    ys = np.concatenate([np.asarray(v[1], float) for v in series.values()])
    xr, yr = (float(xs.min()), float(xs.max())), (float(ys.min()), float(ys.max()))
    img, d = _frame(size, title, xlabel, xr, yr)
    for k, (name, (sx, sy)) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        pts = [_to_px(a, b, size, xr, yr) for a, b in zip(sx, sy)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        d.text((size[0] - _RIGHT + 8, _TOP + 14 * k), name, fill=colour)
    return img


def level_histogram(scores: np.ndarray, levels: np.ndarray, title: str, bins: int = 40,
                    size: tuple[int, int] = (720, 360)) -> Image.Image:
    """Histograms of network outputs, one line per distortion level (paper Fig. 2)."""
    lo, hi = float(np.min(scores)), float(np.max(scores))
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    series = {f"level {int(lv)}": (centres, np.histogram(scores[levels == lv], edges)[0])
              for lv in np.unique(levels)}
    return line_plot(series, title, "network output", size)
