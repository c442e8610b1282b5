"""The paper's evaluation protocol: repeated reference-disjoint splits (RankIQA Table 3).

For each of ``splits`` seeds, the references are split 80/20
(:func:`~rankiqa.train.finetune.reference_split`); on every split each method
is trained on the train part and scored on the test part:

- ``rank-only``: the ranking checkpoint as it is (no training on human scores);
- ``rank+FT``: the ranking checkpoint fine-tuned on the train part;
- ``baseline (no ranking)``: the same network fine-tuned from random weights,
  which measures the gain of learning to rank instead of assuming it.

The summary gives the median, mean, standard deviation, minimum and maximum
over splits of every metric, per distortion type and over all images.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from typing import Any, Sequence

import numpy as np

from rankiqa.allocator import reuse_freed_memory
from rankiqa.train.datasets import Dataset, load_dataset

__all__ = ["METHODS", "cross_validate", "run_split", "summarise", "summary_table"]

METHODS = ("baseline (no ranking)", "rank-only", "rank+FT")
SUMMARY_METRICS = ("srocc", "krcc", "plcc", "plcc_logistic", "rmse_logistic")


def _subset(data: Dataset, indices: Sequence[int]) -> Dataset:
    return Dataset(data.name, [data.samples[i] for i in indices], data.higher_is_better, data.score_name)


def run_split(dataset: str, seed: int, init: str | None, methods: Sequence[str], epochs: int = 15,
              lr: float = 1e-3, train_fraction: float = 0.8, protocol: str | None = None,
              pooling: str | None = None, arch: str | None = None, arch_kwargs: dict[str, Any] | None = None,
              crop_size: int | None = None, threads: int | None = 1, device: str | None = None,
              data: Dataset | None = None
              ) -> dict[str, dict[str, Any]]:
    """Train and score every method on split ``seed``; returns ``{method: evaluate_dataset report}``.

    The baseline takes the architecture of ``init`` unless ``arch`` is given. Every method is
    scored with ``pooling``, by default the one ``init``'s manifest entry states.
    ``data`` is ``dataset`` already loaded (loaded here if omitted).
    """
    import torch

    from rankiqa.train.evaluation import evaluate_dataset, score_dataset
    from rankiqa.train.finetune import FinetuneConfig, finetune, reference_split
    from rankiqa.weights.checkpoint import read_card
    from rankiqa.weights.hub import resolve_checkpoint

    if threads:
        torch.set_num_threads(threads)
    data = data if data is not None else load_dataset(dataset)
    test = _subset(data, reference_split(data.samples, seed, train_fraction)[1])
    path, record = resolve_checkpoint(init) if init else (None, None)
    card = read_card(path) if path else {}
    # One pooling for all methods: a fine-tuned file has no manifest entry to state it.
    pooling = pooling or (record.pooling if record else "mean")
    common = dict(dataset=dataset, split="train", split_seed=seed, train_fraction=train_fraction, epochs=epochs,
                  lr=lr, seed=seed, progress=False, checkpoint_every=10**9, device=device)
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rankiqa-crossval-") as tmp:
        for method in methods:
            if method == "rank-only":
                model = init
            elif method == "rank+FT":
                model = str(finetune(FinetuneConfig(out=f"{tmp}/ft", init=init, crop_size=crop_size, **common),
                                     dataset=data))
            else:
                model = str(finetune(FinetuneConfig(
                    out=f"{tmp}/baseline", arch=arch or card["arch"],
                    arch_kwargs=arch_kwargs if arch else card.get("arch_kwargs", {}),
                    crop_size=crop_size or card.get("crop_size"), **common), dataset=data))
            scores = score_dataset(model, test, protocol, device, progress=False, pooling=pooling)
            out[method] = evaluate_dataset(scores, test)
    return out


def _run_split_job(kwargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return run_split(**kwargs)


def cross_validate(dataset: str, init: str | None = None, splits: int = 10, baseline: bool = True,
                   jobs: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Run :func:`run_split` for split seeds ``0 .. splits-1`` (``jobs`` at a time) and summarise.

    Without ``init`` only the baseline runs (give ``arch``). Returns
    ``{"splits": [per-split reports], "summary": summarise(...), ...}``.
    """
    if splits < 1 or jobs < 1:
        raise ValueError(f"splits and jobs must be >= 1, got {splits}, {jobs}")
    if init:
        methods = list(METHODS) if baseline else list(METHODS[1:])
    elif kwargs.get("arch"):
        methods = [METHODS[0]]
    else:
        raise ValueError("give init (a ranking checkpoint) or arch (for the baseline alone)")
    data = load_dataset(dataset)  # once, here: a bad dataset fails before any training
    job_args = [dict(dataset=dataset, seed=s, init=init, methods=methods, data=data, **kwargs)
                for s in range(splits)]
    results = []
    # spawn, not fork: forking a process whose torch thread pools have run can deadlock
    # the workers are processes of ours, as the command's own: they keep freed memory for the next batch
    pool = (ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=reuse_freed_memory)
            if jobs > 1 else None)
    with pool or nullcontext():
        for r in (pool.map if pool else map)(_run_split_job, job_args):
            results.append(r)
            _report_progress(len(results), splits, r)
    return {"dataset": dataset, "init": init, "splits": results, "summary": summarise(results),
            "settings": {"splits": splits} | {k: v for k, v in kwargs.items() if k != "device"}}


def _report_progress(done: int, total: int, result: dict[str, dict[str, Any]]) -> None:
    srocc = ", ".join(f"{m} {r['all']['srocc']:.3f}" for m, r in result.items())
    print(f"split {done}/{total}: SROCC all: {srocc}", file=sys.stderr, flush=True)


def summarise(results: Sequence[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Median, mean, std, min and max over splits: ``summary[method][type or "all"][metric][stat]``."""
    summary: dict[str, Any] = {}
    for method in results[0]:
        columns = list(results[0][method]["per_type"]) + ["all"]
        summary[method] = {}
        for col in columns:
            reports = [r[method]["per_type"].get(col) if col != "all" else r[method]["all"] for r in results]
            reports = [x for x in reports if x is not None]
            summary[method][col] = {
                metric: {"median": float(np.median(v)), "mean": float(np.mean(v)), "std": float(np.std(v)),
                         "min": float(np.min(v)), "max": float(np.max(v)), "splits": len(v)}
                for metric in SUMMARY_METRICS for v in [[x[metric] for x in reports]]
            }
    return summary


def summary_table(summary: dict[str, Any], metric: str = "srocc", stat: str = "median") -> str:
    """Markdown table: rows = methods, columns = types then ALL; ``stat`` of ``metric`` over splits.

    ``stat="mean"`` writes ``mean ± std``.
    """
    methods = list(summary)
    columns = list(summary[methods[0]])
    lines = ["| method | " + " | ".join(c.upper() for c in columns) + " |", "|---|" + "---|" * len(columns)]
    for m in methods:
        cells = []
        for c in columns:
            s = summary[m].get(c, {}).get(metric)
            if s is None:
                cells.append("-")
            elif stat == "mean":
                cells.append(f"{s['mean']:.3f} ± {s['std']:.3f}")
            else:
                cells.append(f"{s[stat]:.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
