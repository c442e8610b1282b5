"""Test-time protocols: which crops of an image the network sees.

- ``paper``: random crops of the checkpoint's crop size, averaged, as the RankIQA
  paper (30 of 224x224 there; a checkpoint's manifest entry may ask for fewer,
  ``num_crops``, where ``bench/protocols.py`` measured no loss). The crop
  positions come from a fixed seed, so an image always gets the same score.
- ``grid``: deterministic crops on a uniform grid that covers the whole image
  (``ceil(H/224) x ceil(W/224)`` crops, evenly spaced, overlapping as needed).
- ``full``: the whole image in one pass (the pooling head accepts any size).
  Images above ``FULL_MAX_PIXELS`` are split into a grid of near-equal tiles of
  at most ``FULL_TILE`` pixels a side, and the tile scores are averaged with
  area weights; tiling, not downscaling, keeps artefacts at their true scale.

Crop scores are pooled into one image score by a weighted mean. ``pooling="mean"``
weighs every crop alike (the paper). ``pooling="activity"`` weighs each crop by
its luminance activity (mean absolute difference between neighbouring pixels,
measured on the image being scored): people judge a photo by its detailed,
in-focus parts, and a crop of clear sky or an out-of-focus background looks
to the network much like a blurred crop. The weights are relative within one
image, so a distortion that changes every crop alike leaves them alike (like the
learned patch weights of WaDIQaM, Bosse et al. 2018, without training any).
``full`` views keep their area weights under either pooling.

Images smaller than the crop in either dimension are mirror-padded
(symmetric, any amount) to the crop size; nothing is resampled, because
resampling changes blur and noise, the very things being measured.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from rankiqa._names import unknown_name_message
from rankiqa.defaults import POOLINGS, PROTOCOLS

__all__ = ["PROTOCOLS", "POOLINGS", "Crops", "make_crops", "activity_weights", "batch_activity_weights",
           "symmetric_pad", "pad_to_min_size", "check_protocol", "check_pooling"]

PAPER_CROPS = 30
PAPER_SEED = 0
FULL_MAX_PIXELS = 1024 * 1024
FULL_TILE = 1024
#: Added to every activity weight, so a perfectly flat image still pools (to a plain mean).
ACTIVITY_FLOOR = 1e-3
#: Luminance weights of R, G, B (ITU-R BT.601) for the activity measure.
LUMA = (0.299, 0.587, 0.114)


class Crops(NamedTuple):
    """Views of one image to score: ``tensors`` with their pooling ``weights``."""

    tensors: list[torch.Tensor]
    weights: list[float]


def check_protocol(protocol: str) -> str:
    """Return ``protocol`` if known, else raise ValueError with a hint."""
    if protocol not in PROTOCOLS:
        raise ValueError(unknown_name_message("protocol", protocol, PROTOCOLS))
    return protocol


def check_pooling(pooling: str) -> str:
    """Return ``pooling`` if known, else raise ValueError with a hint."""
    if pooling not in POOLINGS:
        raise ValueError(unknown_name_message("pooling", pooling, POOLINGS))
    return pooling


@torch.no_grad()
def activity_weights(crops: list[torch.Tensor]) -> list[float]:
    """Pooling weight of each 3xHxW crop in [0, 1]: the mean absolute difference between
    horizontally and vertically neighbouring luminance samples, plus :data:`ACTIVITY_FLOOR`."""
    out = []
    for crop in crops:
        c = crop.detach().float()
        y = LUMA[0] * c[0] + LUMA[1] * c[1] + LUMA[2] * c[2]
        act = (y[:, 1:] - y[:, :-1]).abs().mean() + (y[1:] - y[:-1]).abs().mean()
        out.append(float(act) + ACTIVITY_FLOOR)
    return out


@torch.no_grad()
def batch_activity_weights(batch: torch.Tensor) -> list[float]:
    """:func:`activity_weights` of every crop of a Bx3xHxW batch in a few batched operations (one pass over
    the pixels where the batch is channels_last, as the scoring pipeline builds it)."""
    y = batch.detach().float().permute(0, 2, 3, 1) @ torch.tensor(LUMA, device=batch.device)
    act = (y[:, :, 1:] - y[:, :, :-1]).abs_().mean((1, 2)) + (y[:, 1:] - y[:, :-1]).abs_().mean((1, 2))
    return [a + ACTIVITY_FLOOR for a in act.cpu().tolist()]


def symmetric_indices(n: int, before: int, after: int) -> np.ndarray:
    """Indices into a length-``n`` axis that mirror it (edge repeated) by any amount."""
    idx = np.arange(-before, n + after) % (2 * n)
    return np.where(idx >= n, 2 * n - 1 - idx, idx)


def symmetric_pad(x: np.ndarray | torch.Tensor, top: int, bottom: int, left: int, right: int,
                  channels_last: bool) -> np.ndarray | torch.Tensor:
    """Mirror-pad the two spatial axes of an HxWxC (``channels_last``) or CxHxW array."""
    h_ax, w_ax = (0, 1) if channels_last else (-2, -1)
    rows = symmetric_indices(x.shape[h_ax], top, bottom)
    cols = symmetric_indices(x.shape[w_ax], left, right)
    if isinstance(x, torch.Tensor):
        rows_t, cols_t = torch.from_numpy(rows), torch.from_numpy(cols)
        return x.index_select(h_ax, rows_t).index_select(w_ax, cols_t)
    return np.take(np.take(x, rows, axis=h_ax), cols, axis=w_ax)


def pad_to_min_size(x: np.ndarray | torch.Tensor, size: int, channels_last: bool = False):
    """Mirror-pad so both spatial sides are at least ``size`` (centred); no-op if already."""
    h_ax, w_ax = (0, 1) if channels_last else (-2, -1)
    h, w = x.shape[h_ax], x.shape[w_ax]
    dh, dw = max(0, size - h), max(0, size - w)
    if dh == 0 and dw == 0:
        return x
    return symmetric_pad(x, dh // 2, dh - dh // 2, dw // 2, dw - dw // 2, channels_last)


def _grid_starts(length: int, crop: int) -> list[int]:
    n = math.ceil(length / crop)
    if n <= 1:
        return [0]
    return [round(i * (length - crop) / (n - 1)) for i in range(n)]


def make_crops(image: torch.Tensor, protocol: str, crop_size: int = 224,
               num_crops: int = PAPER_CROPS, seed: int = PAPER_SEED, pooling: str = "mean") -> Crops:
    """Cut a 3xHxW image into the views a protocol scores, with their pooling weights
    (see module docstring)."""
    check_protocol(protocol)
    check_pooling(pooling)
    if protocol == "full":
        return _full_views(pad_to_min_size(image, crop_size))
    image = pad_to_min_size(image, crop_size)
    h, w = image.shape[-2:]
    if protocol == "paper":
        rng = np.random.default_rng(seed)
        ys = rng.integers(0, h - crop_size + 1, size=num_crops)
        xs = rng.integers(0, w - crop_size + 1, size=num_crops)
        positions = list(zip(ys.tolist(), xs.tolist()))
    else:
        positions = [(y, x) for y in _grid_starts(h, crop_size) for x in _grid_starts(w, crop_size)]
    tensors = [image[:, y:y + crop_size, x:x + crop_size] for y, x in positions]
    return Crops(tensors, activity_weights(tensors) if pooling == "activity" else [1.0] * len(tensors))


def _full_views(image: torch.Tensor) -> Crops:
    h, w = image.shape[-2:]
    if h * w <= FULL_MAX_PIXELS:
        return Crops([image], [1.0])
    ny, nx = math.ceil(h / FULL_TILE), math.ceil(w / FULL_TILE)
    ys = [round(i * h / ny) for i in range(ny + 1)]
    xs = [round(j * w / nx) for j in range(nx + 1)]
    tensors, weights = [], []
    for i in range(ny):
        for j in range(nx):
            tile = image[:, ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
            tensors.append(tile)
            weights.append(float(tile.shape[-2] * tile.shape[-1]))
    return Crops(tensors, weights)
