"""The scoring pipeline: decode and crop ahead in threads, batch crops across images, stream.

``prepared_views`` decodes and crops the next few inputs in a small thread pool
while the caller runs the network on the current batch: Pillow and the crop
indexing release the GIL, so on a 2-core CPU decoding hides behind the
forward pass. Threads, not DataLoader worker processes: inputs may be
in-memory images (no pickling), there is no per-call process start-up, and
``bench/inference.py`` measures the two side by side. At most ``lookahead``
decoded images exist at once, so memory does not grow with the number of
inputs, and results come back in input order.

``ScoreAccumulator`` gathers the crops of consecutive images into forward
passes of ``batch_size`` crops (for ``full``, same-sized whole images are
stacked up to the same number of pixels) and pools each image's crop scores
with their weights.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import torch

from rankiqa.defaults import DEFAULT_WORKERS
from rankiqa.errors import ImageLoadError
from rankiqa.io import describe_input, load_image
from rankiqa.protocols import PAPER_CROPS, PAPER_SEED, Crops, make_crops

__all__ = ["prepared_views", "ScoreAccumulator", "DEFAULT_WORKERS"]



def _prepare(x: Any, index: int, protocol: str, crop_size: int, num_crops: int,
             pooling: str) -> Crops | ImageLoadError:
    try:
        # Pixel-interleaved, as the CPU network reads it (no transposing copies on the way).
        image = load_image(x, describe_input(x, index), channels_last=True)
    except ImageLoadError as exc:
        return exc
    return make_crops(image, protocol, crop_size, num_crops, PAPER_SEED, pooling)


def prepared_views(items: Iterable[Any], protocol: str, crop_size: int, workers: int = DEFAULT_WORKERS,
                   lookahead: int | None = None, num_crops: int = PAPER_CROPS, pooling: str = "mean"
                   ) -> Iterator[tuple[int, Crops | ImageLoadError]]:
    """``(index, crops or the input's error)`` for each input, in input order.

    ``workers=0`` decodes in the calling thread (the old, sequential path).
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if workers == 0:
        for i, x in enumerate(items):
            yield i, _prepare(x, i, protocol, crop_size, num_crops, pooling)
        return
    ahead = lookahead or 2 * workers
    queue: deque[tuple[int, Future]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rankiqa-decode") as pool:
        try:
            for i, x in enumerate(items):
                queue.append((i, pool.submit(_prepare, x, i, protocol, crop_size, num_crops, pooling)))
                if len(queue) > ahead:
                    j, fut = queue.popleft()
                    yield j, fut.result()
            while queue:
                j, fut = queue.popleft()
                yield j, fut.result()
        finally:  # an abandoned generator must not leave decodes running
            for _, fut in queue:
                fut.cancel()


class ScoreAccumulator:
    """Crop scores pooled per image; crops of consecutive images share forward passes.

    ``forward`` maps a list of crops to their scores; with ``weighs=True`` it returns ``(scores, weights)`` and
    its weights replace the views' own (activity measured on the batch, see ``Scorer``).
    """

    def __init__(self, forward: Callable[[list[torch.Tensor]], Any], batch_size: int, crop_size: int,
                 weighs: bool = False):
        self.forward = forward
        self.weighs = weighs
        self.pixel_budget = batch_size * crop_size * crop_size
        self.sums: dict[int, float] = {}
        self.weights: dict[int, float] = {}
        self._pending: dict[tuple[int, ...], list[tuple[int, float, torch.Tensor]]] = {}
        self._pixels = 0

    def add(self, index: int, views: Crops) -> None:
        """Queue the views of image ``index``; runs the network whenever a batch is full."""
        self.sums.setdefault(index, 0.0)
        self.weights.setdefault(index, 0.0)
        for crop, w in zip(views.tensors, views.weights):
            key = tuple(crop.shape)
            group = self._pending.setdefault(key, [])
            group.append((index, w, crop))
            self._pixels += crop.shape[-2] * crop.shape[-1]
            if len(group) * crop.shape[-2] * crop.shape[-1] >= self.pixel_budget:  # batch_size crops, or fewer larger
                self._flush(key)
        if self._pixels >= self.pixel_budget:  # many sizes, none full: keep memory bounded
            self.flush()

    def _flush(self, key: tuple[int, ...]) -> None:
        group = self._pending.pop(key)
        out = self.forward([c for _, _, c in group])
        scores, weights = out if self.weighs else (out, [w for _, w, _ in group])
        for (i, _, crop), s, w in zip(group, scores, weights):
            self.sums[i] += w * s
            self.weights[i] += w
            self._pixels -= crop.shape[-2] * crop.shape[-1]

    def flush(self) -> None:
        """Score everything still queued."""
        for key in list(self._pending):
            self._flush(key)

    def pop(self, index: int) -> float:
        """The pooled score of image ``index`` once flushed (and forget it); NaN if it had no views."""
        s, w = self.sums.pop(index, 0.0), self.weights.pop(index, 0.0)
        return s / w if w > 0 else math.nan
