"""Drawing a :class:`~rankiqa.maps.QualityMap` as a heat map over its photo, with a colour bar."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from rankiqa.io import describe_input, load_image
from rankiqa.maps import QualityMap, compute_quality_map
from rankiqa.protocols import pad_to_min_size

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.api import Scorer

__all__ = ["render_map", "save_quality_map", "colormap"]

# Viridis at nine evenly spaced points: perceptually uniform and readable by
# colour-blind viewers; bright = better.
_VIRIDIS = np.array([(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
                     (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)], dtype=np.float64)
_BAR_PANEL, _HEADER, _PAD = 96, 22, 8


def colormap(t: np.ndarray) -> np.ndarray:
    """RGB uint8 colours (``[..., 3]``) of values ``t`` in [0, 1] (clipped)."""
    x = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, len(_VIRIDIS) - 1)
    f = (x - lo)[..., None]
    return np.round(_VIRIDIS[lo] * (1 - f) + _VIRIDIS[hi] * f).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _photo_array(photo: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(photo, torch.Tensor):
        arr = photo.detach().cpu().float().clamp(0, 1).permute(1, 2, 0).numpy()
        return np.round(arr * 255).astype(np.uint8)
    return np.asarray(photo, dtype=np.uint8)


def render_map(photo: torch.Tensor | np.ndarray, qmap: QualityMap, *, vmin: float | None = None,
               vmax: float | None = None, alpha: float = 0.6, max_side: int = 1600,
               title: str = "") -> Image.Image:
    """The photo in grey under the map's colours, a colour bar and a one-line title.

    ``photo``: 3xHxW float in [0, 1] or HxWx3 uint8, the image the map was
    computed on. The colours span ``[vmin, vmax]``, by default the map's own
    range (so small differences stay visible; the bar gives the numbers).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    rgb = _photo_array(photo)
    h, w = qmap.image_size
    if rgb.shape[:2] != (h, w):
        raise ValueError(f"photo is {rgb.shape[1]}x{rgb.shape[0]} but the map was computed on {w}x{h}")
    lo = float(qmap.scores.min()) if vmin is None else float(vmin)
    hi = float(qmap.scores.max()) if vmax is None else float(vmax)
    if not hi > lo:
        hi = lo + 1e-6
    heat = colormap((qmap.per_pixel() - lo) / (hi - lo)).astype(np.float64)
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    blend = np.round(grey[..., None] * (1 - alpha) + heat * alpha).astype(np.uint8)
    img = Image.fromarray(blend)
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:  # for display only: the map was computed at full resolution
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    iw, ih = img.size
    canvas = Image.new("RGB", (iw + _BAR_PANEL, max(ih, 160) + _HEADER), "white")
    canvas.paste(img, (0, _HEADER))
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    title = (title or f"quality map: {qmap.window} px windows every {qmap.stride} px")
    # File names in titles may carry undecodable bytes (surrogate escapes): draw U+FFFD for them.
    draw.text((4, 4), title.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), fill="black", font=font)
    bar_h = max(ih, 160) - 2 * _PAD - 52
    x0, y0 = iw + 14, _HEADER + _PAD + 24
    ramp = colormap(np.linspace(1, 0, bar_h))[:, None, :].repeat(18, axis=1)
    canvas.paste(Image.fromarray(ramp), (x0, y0))
    draw.rectangle((x0, y0, x0 + 17, y0 + bar_h - 1), outline="black")
    for frac in (0.0, 0.5, 1.0):
        y = y0 + round((1 - frac) * (bar_h - 1))
        draw.line((x0 + 18, y, x0 + 22, y), fill="black")
        draw.text((x0 + 25, y - 7), f"{lo + frac * (hi - lo):.3g}", fill="black", font=font)
    draw.text((x0 - 4, y0 - 24), "better", fill="black", font=font)
    draw.text((x0 - 4, y0 + bar_h + 9), "worse", fill="black", font=font)
    return canvas


def save_quality_map(scorer: Scorer, image: Any, out: str | os.PathLike[str], *, stride: int | None = None,
                     method: str = "features", raw: bool = False, vmin: float | None = None,
                     vmax: float | None = None, title: str = "", max_side: int = 1600) -> QualityMap:
    """Compute the quality map of one input, draw it with :func:`render_map` and save it (PNG by suffix)."""
    photo = pad_to_min_size(load_image(image, describe_input(image)), scorer.crop_size)
    qmap = compute_quality_map(scorer, photo, stride, method, raw)
    render_map(photo, qmap, vmin=vmin, vmax=vmax, title=title, max_side=max_side).save(out)
    return qmap
