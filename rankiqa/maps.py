"""Quality maps: the checkpoint's score of every crop-sized window of an image.

A map value is the score the network gives one window of ``crop_size`` pixels
(the crop it was trained on and scores with), on a grid of ``stride`` pixels.
Two ways to compute it (``method``):

- ``"features"`` (default): the convolutional features of the whole image in
  one pass, average-pooled over each window, then the head: exactly how the
  network pools a crop, without recomputing the overlapping convolutions
  (about ``(crop / stride)**2`` times less work than cutting the crops). A
  window's features also see the few pixels of context around it that a cut
  crop would replace by zero padding. ``stride`` must be a multiple of the
  network's feature stride (32 for the VGG and MobileNet models).
- ``"crops"``: the windows cut out and scored one by one, as the ``grid``
  protocol scores them; any stride, much slower.

The per-window output of the head is not used directly on the un-pooled
feature map because the head (an MLP after global pooling) never saw a single
feature cell: its input is always the mean over a crop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from rankiqa.protocols import pad_to_min_size

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.api import Scorer

__all__ = ["QualityMap", "compute_quality_map", "METHODS"]

METHODS = ("features", "crops")
# Rows of the image pushed through the features at once: bounds memory on
# 24-megapixel photos while keeping each strip large enough to be efficient.
_STRIP_PIXELS = 2 * 1024 * 1024


class QualityMap(NamedTuple):
    """Scores of the windows at ``(row * stride, col * stride)``, each ``window`` pixels a side,
    on the checkpoint's output scale (higher = better)."""

    scores: np.ndarray  # [rows, cols] float64
    stride: int
    window: int
    image_size: tuple[int, int]  # (height, width) of the scored image (after padding small ones)

    def per_pixel(self) -> np.ndarray:
        """The map interpolated (bilinear between window centres) to ``image_size``."""
        h, w = self.image_size
        return _interp_axis(_interp_axis(self.scores, h, self.stride, self.window, 0),
                            w, self.stride, self.window, 1)


def _interp_axis(values: np.ndarray, length: int, stride: int, window: int, axis: int) -> np.ndarray:
    n = values.shape[axis]
    pos = np.clip((np.arange(length) + 0.5 - window / 2) / stride, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    t = pos - lo
    shape = [1, 1]
    shape[axis] = length
    t = t.reshape(shape)
    return np.take(values, lo, axis=axis) * (1 - t) + np.take(values, hi, axis=axis) * t


def feature_stride(model: torch.nn.Module, crop: int) -> int | None:
    """Pixels per feature cell of an IQANet-like model, or None if it has no ``features``/``head``."""
    if not all(hasattr(model, a) for a in ("features", "head", "normalize")):
        return None
    param = next(model.parameters())
    with torch.inference_mode():
        out = model.features(torch.zeros(1, 3, crop, crop, device=param.device, dtype=param.dtype))
    cells = out.shape[-1]
    return crop // cells if cells and crop % cells == 0 else None


def _check_stride(stride: Any, window: int) -> int:
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if stride > window:
        raise ValueError(f"stride {stride} is larger than the window ({window} px): parts of the image "
                         "would not be scored")
    return stride


@torch.inference_mode()
def _features_map(model: torch.nn.Module, image: torch.Tensor, window: int, stride: int, fs: int) -> torch.Tensor:
    k, s = window // fs, stride // fs
    h = image.shape[-2]
    rows_total = (h - window) // stride + 1
    # Strips of whole window rows keep memory bounded on very large photos.
    rows_per_strip = max(1, (_STRIP_PIXELS // max(1, image.shape[-1]) - window) // stride + 1)
    param = next(model.parameters())
    halo = 2 * fs  # context above and below a strip, so its border windows see what the whole image shows
    out = []
    for r0 in range(0, rows_total, rows_per_strip):
        n = min(rows_per_strip, rows_total - r0)
        y0 = r0 * stride
        top, bottom = max(0, y0 - halo), min(h, y0 + window + (n - 1) * stride + halo)
        strip = image[:, top:bottom].unsqueeze(0).to(param.device, param.dtype)
        feats = model.features(model.normalize(strip))
        first = (y0 - top) // fs
        feats = feats[:, :, first:first + k + (n - 1) * s]
        pooled = F.avg_pool2d(feats, kernel_size=k, stride=s)  # [1, C, n, cols]
        c, rows, cols = pooled.shape[1:]
        vals = model.head(pooled[0].permute(1, 2, 0).reshape(rows * cols, c, 1, 1)).reshape(rows, cols)
        out.append(vals.float().cpu())
    return torch.cat(out)


def _crops_map(scorer: Scorer, image: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    ys = range(0, h - window + 1, stride)
    xs = range(0, w - window + 1, stride)
    crops = [image[:, y:y + window, x:x + window] for y in ys for x in xs]
    vals: list[float] = []
    for i in range(0, len(crops), scorer.batch_size):
        vals.extend(scorer._forward(crops[i:i + scorer.batch_size]))
    return torch.tensor(vals).reshape(len(ys), len(xs))


def compute_quality_map(scorer: Scorer, image: torch.Tensor, stride: int | None = None,
                        method: str = "features", raw: bool = False) -> QualityMap:
    """Quality map of a 3xHxW image in [0, 1] (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    window = scorer.crop_size
    fs = feature_stride(scorer.model, window) if method == "features" else None
    if method == "features" and fs is None:
        raise ValueError(f"{scorer.name}: the network has no pooled feature map to read; use method='crops'")
    if stride is None:
        stride = fs if fs is not None else max(1, window // 4)
    stride = _check_stride(stride, window)
    if fs is not None and stride % fs:
        raise ValueError(f"stride must be a multiple of the network's feature stride ({fs} px) for "
                         f"method='features', got {stride}; use method='crops' for any stride")
    image = pad_to_min_size(image, window)
    if method == "features":
        values = _features_map(scorer.model, image, window, stride, fs)
    else:
        values = _crops_map(scorer, image, window, stride)
    sign = 1.0 if scorer.higher_is_better else -1.0
    flat = scorer.output_scores([sign * float(v) for v in values.flatten().tolist()], raw)
    scores = np.asarray(flat, dtype=np.float64).reshape(values.shape)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{scorer.name}: the network gave non-finite local scores")
    return QualityMap(scores, stride, window, (int(image.shape[-2]), int(image.shape[-1])))
