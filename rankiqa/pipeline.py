"""The scoring pipeline: decode and crop ahead in threads, batch crops across images, lanes, stream.

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

``pooled_scores`` runs the whole path in one or more *lanes*: threads that each
take the next input, decode it and run the network on their own batches, with
torch's intra-op threads set to one meanwhile. A small network's forward pass
on a batch of 32 crops splits poorly over cores (the slim network's first
layers have 3 and 8 channels); whole batches side by side keep every core on
arithmetic (``bench/inference.py``: 2 lanes score about a quarter more images/s
than one lane with 2 threads on a 2-core CPU).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import torch

from rankiqa.defaults import DEFAULT_WORKERS
from rankiqa.errors import ImageLoadError
from rankiqa.io import describe_input, load_image
from rankiqa.protocols import PAPER_CROPS, PAPER_SEED, Crops, make_crops

__all__ = ["prepared_views", "pooled_scores", "ScoreAccumulator", "DEFAULT_WORKERS"]


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
    return _views(enumerate(items), protocol, crop_size, workers, lookahead, num_crops, pooling)


def _views(pairs: Iterable[tuple[int, Any]], protocol: str, crop_size: int, workers: int, lookahead: int | None,
           num_crops: int, pooling: str) -> Iterator[tuple[int, Crops | ImageLoadError]]:
    """:func:`prepared_views` of ``(index, input)`` pairs."""
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if workers == 0:
        for i, x in pairs:
            yield i, _prepare(x, i, protocol, crop_size, num_crops, pooling)
        return
    ahead = lookahead or 2 * workers
    queue: deque[tuple[int, Future]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rankiqa-decode") as pool:
        try:
            for i, x in pairs:
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


class _Shared:
    """``(index, input)`` pairs of one iterable handed to several threads, until ``stop`` is set.

    A class because a generator cannot be advanced from two threads at once.
    """

    def __init__(self, items: Iterable[Any], stop: threading.Event):
        self._pairs = enumerate(items)
        self._lock = threading.Lock()
        self._stop = stop

    def __iter__(self) -> "_Shared":
        return self

    def __next__(self) -> tuple[int, Any]:
        with self._lock:
            if self._stop.is_set():
                raise StopIteration
            return next(self._pairs)


_THREADS_LOCK = threading.Lock()
_THREADS = {"lanes_running": 0, "before": 1}  # shared by concurrent calls: the last one out restores the count


@contextmanager
def _one_intra_op_thread() -> Iterator[None]:
    with _THREADS_LOCK:
        if _THREADS["lanes_running"] == 0:
            _THREADS["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS["lanes_running"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS["lanes_running"] -= 1
            if _THREADS["lanes_running"] == 0:
                torch.set_num_threads(_THREADS["before"])


def pooled_scores(items: Iterable[Any], forward: Callable[[list[torch.Tensor]], Any], *, protocol: str,
                  crop_size: int, num_crops: int, pooling: str, batch_size: int, weighs: bool = False,
                  workers: int = DEFAULT_WORKERS, lanes: int = 1, tick: Callable[[], Any] = lambda: None
                  ) -> tuple[list[float], dict[int, ImageLoadError]]:
    """Each input's pooled raw score in input order (NaN where it failed) and its errors by index.

    ``lanes`` threads each take the next input, decode it (with ``workers``
    decoding threads ahead of it) and run ``forward`` on their own batches; for
    more than one lane torch's intra-op threads are set to one until they
    finish (a process-wide setting, restored after). ``tick`` is called once
    per input, from the lane that took it.
    """
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise ValueError(f"lanes must be an integer >= 1, got {lanes!r}")

    tick_lock = threading.Lock()
    stop = threading.Event()

    def lane(pairs: Iterable[tuple[int, Any]]) -> tuple[dict[int, float], dict[int, ImageLoadError]]:
        acc = ScoreAccumulator(forward, batch_size, crop_size, weighs)
        errors: dict[int, ImageLoadError] = {}
        taken = []
        for i, views in _views(pairs, protocol, crop_size, workers, None, num_crops, pooling):
            if stop.is_set():  # another lane failed: drop what was decoded ahead
                break
            if isinstance(views, ImageLoadError):
                errors[i] = views
            else:
                acc.add(i, views)
                taken.append(i)
            with tick_lock:
                tick()
        if not stop.is_set():
            acc.flush()
        return {i: acc.pop(i) for i in taken}, errors

    if lanes == 1:
        parts = [lane(enumerate(items))]
    else:
        shared = _Shared(items, stop)
        with _one_intra_op_thread(), ThreadPoolExecutor(lanes, thread_name_prefix="rankiqa-lane") as pool:
            try:
                futures = [pool.submit(lane, shared) for _ in range(lanes)]
                wait(futures, return_when=FIRST_EXCEPTION)  # all done, or one failed
            finally:  # a failing lane, or an interrupt, stops the others after their current input
                stop.set()
            parts = [f.result() for f in futures]
    scores = {i: s for done, _ in parts for i, s in done.items()}
    errors = dict(sorted(((i, e) for _, failed in parts for i, e in failed.items()), key=lambda p: p[0]))
    n = max(scores.keys() | errors.keys(), default=-1) + 1
    return [scores.get(i, math.nan) for i in range(n)], errors


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
