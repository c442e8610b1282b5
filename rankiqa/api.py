"""The scoring API: :func:`score`, :func:`rank`, :func:`load_model`, :func:`list_models`.

Scores are **higher = better** for every checkpoint (checkpoints trained on a
DMOS-like scale are flipped here). A rank-only checkpoint's scores have no
absolute meaning: compare them between images, do not threshold them.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

import torch
from tqdm import tqdm

from rankiqa.calibration import calibrate, check_calibration
from rankiqa.defaults import DEFAULT_BATCH_SIZE, DEFAULT_PRECISION, DEFAULT_WORKERS
from rankiqa.errors import BatchScoringError, ImageLoadError
from rankiqa.io import describe_input, expand_inputs, is_single_input, load_image
from rankiqa.models.fusion import chunk_first_block, fold_batch_norm, pair_max_pool
from rankiqa.pipeline import pooled_scores
from rankiqa.precision import apply_precision, resolve_precision
from rankiqa.protocols import PAPER_CROPS, activity_weights, batch_activity_weights, check_pooling, check_protocol
from rankiqa.weights.checkpoint import network_from_checkpoint
from rankiqa.weights.hub import resolve_checkpoint
from rankiqa.weights.manifest import CheckpointRecord, list_models as _manifest_models

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.maps import QualityMap

__all__ = ["Scorer", "RankedImage", "score", "rank", "load_model", "list_models", "DEFAULT_BATCH_SIZE",
           "select_device"]

ON_ERROR = ("raise", "nan")


class RankedImage(NamedTuple):
    """One entry of :func:`rank`: position in the input, the path if it was one, and the score."""

    index: int
    path: str | None
    score: float


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        try:
            return torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"unknown device {device!r}: {exc}") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Scorer:
    """A loaded checkpoint, ready to score many images without reloading.

    Create with :func:`load_model`. ``protocol`` and ``batch_size`` set this
    scorer's defaults; each call may override them. ``precision`` is the
    requested one (see :mod:`rankiqa.precision`); ``self.precision`` the one used.
    """

    def __init__(self, model: torch.nn.Module, card: dict[str, Any], name: str,
                 device: str | torch.device | None = None, protocol: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, num_crops: int | None = None,
                 precision: str = DEFAULT_PRECISION, pooling: str | None = None):
        self.name = name
        self.card = card
        self.device = select_device(device)
        self.precision = resolve_precision(precision, self.device)
        # Batch norm folded into the convolutions, the first block run in cache-sized slices,
        # pooling as element-wise maxima: same scores, fewer passes over memory.
        self.model = apply_precision(pair_max_pool(chunk_first_block(fold_batch_norm(model))), self.precision,
                                     self.device).to(self.device)
        # oneDNN's convolutions run faster on NHWC activations (bench/inference.py).
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.crop_size = int(card.get("crop_size", 224))
        self.higher_is_better = bool(card.get("higher_is_better", True))
        self.calibration = check_calibration(card.get("calibration"))
        self.protocol = check_protocol(protocol or card.get("protocol", "paper"))
        self.num_crops = _check_positive_int(num_crops if num_crops is not None else card.get("num_crops", PAPER_CROPS),
                                             "num_crops")
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.pooling = check_pooling(pooling or card.get("pooling", "mean"))

    def views_label(self, protocol: str | None = None) -> str:
        """How this scorer cuts and pools an image, e.g. ``"paper, 15 crops, activity pooling"`` or ``"full"``
        (``full`` views keep their area weights whatever the pooling)."""
        proto = check_protocol(self.protocol if protocol is None else protocol)
        label = f"paper, {self.num_crops} crops" if proto == "paper" else proto
        return label if proto == "full" or self.pooling == "mean" else f"{label}, {self.pooling} pooling"

    def __repr__(self) -> str:
        crops = f", num_crops={self.num_crops}" if self.protocol == "paper" else ""
        pooling = f", pooling={self.pooling!r}" if self.protocol != "full" else ""
        return (f"Scorer({self.name!r}, arch={self.card.get('arch')!r}, protocol={self.protocol!r}{crops}{pooling}, "
                f"device={str(self.device)!r}, precision={self.precision!r})")

    @torch.inference_mode()
    def _forward(self, crops: list[torch.Tensor]) -> list[float]:
        if len({tuple(c.shape) for c in crops}) == 1:
            return self.model(self._batch(crops)).float().cpu().tolist()
        return [float(self.model(self._batch([c]))[0]) for c in crops]

    @torch.inference_mode()
    def _forward_weighed(self, crops: list[torch.Tensor]) -> tuple[list[float], list[float]]:
        """Scores and activity pooling weights of ``crops``, the weights measured on the batch the network reads:
        a few batched operations here instead of a dozen small ones per crop in the decoding thread, where they
        held up the network (12% of the images/s on a 2-core CPU, bench/inference.py)."""
        if len({tuple(c.shape) for c in crops}) == 1:
            batch = self._batch(crops)
            return self.model(batch).float().cpu().tolist(), batch_activity_weights(batch)
        return self._forward(crops), activity_weights(crops)

    def _batch(self, crops: list[torch.Tensor]) -> torch.Tensor:
        """Same-shaped crops as one batch on the device, in the layout the network runs in."""
        if not self.channels_last:
            return torch.stack(crops).to(self.device)
        # Filled crop by crop: crops cut from a channels_last image (the pipeline's) copy straight in.
        out = torch.empty((len(crops), *crops[0].shape), memory_format=torch.channels_last)
        for slot, crop in zip(out, crops):
            slot.copy_(crop)
        return out.to(self.device)

    def score(self, images: Any, *, protocol: str | None = None, batch_size: int | None = None,
              progress: bool = False, on_error: str = "raise", raw: bool = False) -> float | list[float]:
        """Quality of one image (a float) or several (a list), higher = better.

        On the checkpoint's 0-100 scale when it has a calibration (see
        :mod:`rankiqa.calibration`); ``raw=True`` gives the network's value.

        ``on_error="raise"`` scores every input, then raises
        :class:`~rankiqa.errors.BatchScoringError` (holding all scores and all
        errors) if any failed; ``"nan"`` returns NaN for failed inputs instead.
        A single bad input raises :class:`~rankiqa.errors.ImageLoadError`.
        """
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        single = is_single_input(images)
        items = expand_inputs(images)
        scores, errors = self.score_with_errors(items, protocol, batch_size, progress)
        scores = self.output_scores(scores, raw)
        if single:
            if errors:
                if on_error == "nan":
                    return math.nan
                raise errors[0]
            return scores[0]
        if errors and on_error == "raise":
            raise BatchScoringError(scores, errors)
        return scores

    def rank(self, images: Any, *, protocol: str | None = None, batch_size: int | None = None,
             progress: bool = False, on_error: str = "raise", raw: bool = False) -> list[RankedImage]:
        """Images sorted best first as :class:`RankedImage` records (failed ones last with NaN
        when ``on_error="nan"``)."""
        items = expand_inputs(images)
        scores = self.score(items, protocol=protocol, batch_size=batch_size, progress=progress,
                            on_error=on_error, raw=raw)
        records = [RankedImage(i, os.fspath(x) if isinstance(x, (str, Path)) else None, s)
                   for i, (x, s) in enumerate(zip(items, scores))]
        return sorted(records, key=lambda r: (math.isnan(r.score), -r.score if not math.isnan(r.score) else 0.0,
                                              r.index))

    def quality_map(self, image: Any, *, stride: int | None = None, method: str = "features",
                    raw: bool = False) -> QualityMap:
        """Local scores of one image over a grid of crop-sized windows every ``stride`` pixels
        (default: the feature stride, 32 px); see :mod:`rankiqa.maps` for the two methods.
        Draw it with :func:`rankiqa.heatmap.render_map`."""
        from rankiqa.maps import compute_quality_map

        return compute_quality_map(self, load_image(image, describe_input(image)), stride, method, raw)

    def output_scores(self, raw_scores: list[float], raw: bool = False) -> list[float]:
        """Raw network scores on this checkpoint's output scale (0-100 if calibrated), or as they are."""
        if raw or self.calibration is None:
            return list(raw_scores)
        return [calibrate(s, self.calibration) for s in raw_scores]

    def score_with_errors(self, items: Iterable[Any], protocol: str | None = None, batch_size: int | None = None,
                          progress: bool = False, workers: int = DEFAULT_WORKERS, lanes: int | None = None
                          ) -> tuple[list[float], dict[int, ImageLoadError]]:
        """Raw scores of ``items`` (NaN where failed) and the errors by position; never raises for bad inputs.

        ``items`` may be any iterable (a generator is consumed once, as it goes); ``workers``
        threads decode ahead of the network (0: decode in this thread). ``lanes`` threads each decode and
        score their share of the inputs; ``None``: on a CPU, one per torch thread (at most one per input),
        elsewhere one. See :mod:`rankiqa.pipeline`.
        """
        proto = check_protocol(self.protocol if protocol is None else protocol)
        bs = _check_positive_int(self.batch_size if batch_size is None else batch_size, "batch_size")
        weighs = self.pooling == "activity" and proto != "full"  # full views keep their area weights
        total = len(items) if hasattr(items, "__len__") else None
        if lanes is None:
            lanes = torch.get_num_threads() if self.device.type == "cpu" else 1
            lanes = lanes if total is None else max(1, min(lanes, total))
        with tqdm(total=total, disable=not progress, file=sys.stderr, unit="img", desc="scoring") as bar:
            scores, errors = pooled_scores(items, self._forward_weighed if weighs else self._forward, protocol=proto,
                                           crop_size=self.crop_size, num_crops=self.num_crops,
                                           pooling="mean" if weighs else self.pooling, batch_size=bs, weighs=weighs,
                                           workers=workers, lanes=lanes, tick=lambda: bar.update(1))
        sign = 1.0 if self.higher_is_better else -1.0
        return [sign * s for s in scores], errors


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


_CACHE: dict[tuple[str, str, str], Scorer] = {}
# Threads that ask for the same model at once load it once and share it.
_CACHE_LOCK = threading.Lock()


def load_model(name_or_path: str | os.PathLike[str] = "default", *, device: str | torch.device | None = None,
               protocol: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
               cache_dir: str | Path | None = None, endpoint: str | None = None,
               offline: bool | None = None, num_crops: int | None = None,
               precision: str = DEFAULT_PRECISION, pooling: str | None = None) -> Scorer:
    """Load a checkpoint by manifest id (``"default"``, ``"arch.tag"``) or ``.safetensors`` path.

    ``protocol``, ``num_crops`` and ``pooling`` override the checkpoint's (see :mod:`rankiqa.protocols`).
    ``precision``: ``float32``, ``bfloat16``, or ``auto`` (bfloat16 on CPUs that
    compute it natively, see :mod:`rankiqa.precision`). Hub checkpoints are
    downloaded at their pinned revision and sha256-verified (see :mod:`rankiqa.weights.hub`).
    """
    path, record = resolve_checkpoint(name_or_path, cache_dir=cache_dir, endpoint=endpoint, offline=offline)
    model, card = network_from_checkpoint(path)
    if record is not None:
        card = {**card, **_record_overrides(record)}
    name = record.id if record is not None else os.fspath(name_or_path)
    return Scorer(model, card, name, device=device, protocol=protocol, batch_size=batch_size, num_crops=num_crops,
                  precision=precision, pooling=pooling)


def _record_overrides(record: CheckpointRecord) -> dict[str, Any]:
    # The manifest is the published truth for how a checkpoint is used.
    return {"arch": record.arch, "arch_kwargs": record.arch_kwargs, "protocol": record.protocol,
            "crop_size": record.crop_size, "num_crops": record.num_crops, "pooling": record.pooling,
            "higher_is_better": record.higher_is_better,
            "score_range": record.score_range, "calibration": record.calibration, "id": record.id}


def _cached_scorer(model: str | os.PathLike[str] | Scorer, device: str | torch.device | None,
                   precision: str = DEFAULT_PRECISION) -> Scorer:
    if isinstance(model, Scorer):
        return model
    dev = select_device(device)
    # Keyed by the precision used, so "auto" and what it resolves to share one model.
    used = resolve_precision(precision, dev)
    key = (os.fspath(model), str(dev), used)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_model(model, device=str(dev), precision=used)
        return _CACHE[key]


def score(images: Any, model: str | os.PathLike[str] | Scorer = "default", *,
          device: str | torch.device | None = None, protocol: str | None = None,
          batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False, on_error: str = "raise",
          raw: bool = False, precision: str = DEFAULT_PRECISION) -> float | list[float]:
    """Quality score(s), higher = better. One image gives a float, several a list.

    ``images``: a path, PIL image, numpy array, torch tensor (CxHxW or
    BxCxHxW), or a list of these. ``protocol``: ``paper`` (the checkpoint's seeded random
    crops), ``grid`` or ``full``; default: the checkpoint's. Scores are on the
    checkpoint's 0-100 scale where it has one; ``raw=True`` gives the network's
    value. ``precision``: see :func:`load_model`. The loaded model is kept for later calls.
    """
    return _cached_scorer(model, device, precision).score(images, protocol=protocol, batch_size=batch_size,
                                                          progress=progress, on_error=on_error, raw=raw)


def rank(images: Any, model: str | os.PathLike[str] | Scorer = "default", *,
         device: str | torch.device | None = None, protocol: str | None = None,
         batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False, on_error: str = "raise",
         raw: bool = False, precision: str = DEFAULT_PRECISION) -> list[RankedImage]:
    """Images sorted best first, as ``(index, path, score)`` records."""
    return _cached_scorer(model, device, precision).rank(images, protocol=protocol, batch_size=batch_size,
                                                         progress=progress, on_error=on_error, raw=raw)


def list_models() -> list[str]:
    """Ids of the checkpoints in the manifest (use them with ``model=``)."""
    return _manifest_models()
