"""Scoring millions of images on Ray Data (``pip install 'rankiqa[ray]'``).

:class:`RayScorer` is a callable class for ``ray.data.Dataset.map_batches``:
each Ray worker loads the model once, then scores batches of image paths (or
HxWxC arrays) and adds two columns: ``score`` (NaN where an image failed) and
``error`` (empty where it scored). A bad file never fails the batch.

>>> import ray, rankiqa.integrations.ray as rr                        # doctest: +SKIP
>>> ds = ray.data.from_items([{"path": p} for p in paths])             # doctest: +SKIP
>>> scored = rr.score_dataset(ds, concurrency=4, batch_size=32)        # doctest: +SKIP
>>> scored.write_parquet("scores/")                                    # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["RayScorer", "score_dataset"]


class RayScorer:
    """``map_batches`` callable: ``{column: [...], ...} -> {..., "score": float64, "error": str}``."""

    def __init__(self, model: str | os.PathLike[str] = "default", protocol: str | None = None,
                 device: str | None = None, column: str = "path", raw: bool = False, threads: int | None = None):
        import torch

        from rankiqa.api import load_model

        if threads:
            torch.set_num_threads(threads)
        self.scorer = load_model(model, device=device, protocol=protocol)
        self.column = column
        self.raw = raw

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.column not in batch:
            raise ValueError(f"RayScorer: the batch has no column {self.column!r} (columns: {sorted(batch)}); "
                             "pass column=")
        items = [str(x) if isinstance(x, (str, np.str_, bytes)) else x for x in batch[self.column]]
        raw, errors = self.scorer.score_with_errors(items)
        out = dict(batch)
        out["score"] = np.asarray(self.scorer.output_scores(raw, self.raw), dtype=np.float64)
        out["error"] = np.asarray([errors[i].reason if i in errors else "" for i in range(len(items))], dtype=object)
        return out


def score_dataset(ds: Any, model: str | os.PathLike[str] = "default", *, column: str = "path",
                  protocol: str | None = None, raw: bool = False, batch_size: int = 16, concurrency: int = 1,
                  num_cpus: float = 1, num_gpus: float = 0, device: str | None = None) -> Any:
    """``ds.map_batches(RayScorer, ...)`` with rankiqa's defaults: one model per worker, ``concurrency`` workers.

    On GPU workers pass ``num_gpus=1`` (and ``device="cuda"``); ``batch_size``
    counts images per call (each image gives its protocol's crops).
    """
    threads = max(1, int(num_cpus)) if not num_gpus else None
    return ds.map_batches(
        RayScorer, fn_constructor_kwargs={"model": os.fspath(model), "protocol": protocol, "device": device,
                                          "column": column, "raw": raw, "threads": threads},
        batch_size=batch_size, batch_format="numpy", concurrency=concurrency, num_cpus=num_cpus, num_gpus=num_gpus)
