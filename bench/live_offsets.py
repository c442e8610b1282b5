"""Which photos a checkpoint puts on the wrong scale: per-reference offsets on a rated dataset.

Within one LIVE photo the versions are usually in the right order (``evaluate``'s
within-photo SROCC); what SROCC over all photos loses is the scale between
photos. Per distortion type, this fits ``score = a * quality + b`` over all
images and prints each reference photo's mean residual in score points: a
negative offset means the photo's versions are rated worse than people rate
them (e.g. smooth scenes whose flat crops look blurred), a positive one better.

    python bench/live_offsets.py --models vgg16_slim.rank-broad-restart runs/X/model.safetensors
    python bench/live_offsets.py --models default --pooling mean activity   # each model under each pooling
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.api import load_model  # noqa: E402
from rankiqa.train.datasets import load_dataset  # noqa: E402


def offsets(scores: np.ndarray, quality: np.ndarray, refs: np.ndarray) -> dict[str, float]:
    """Mean residual per reference of the least-squares line of ``scores`` on ``quality``."""
    a, b = np.polyfit(quality, scores, 1)
    residual = scores - (a * quality + b)
    per_ref: dict[str, list[float]] = defaultdict(list)
    for r, x in zip(refs, residual):
        per_ref[r].append(float(x))
    return {r: float(np.mean(v)) for r, v in per_ref.items()}


def _names(items: list[tuple[str, float]]) -> str:
    return ", ".join(f"{Path(r).stem} {v:+.1f}" for r, v in items)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["default"], help="checkpoint ids or files")
    p.add_argument("--dataset", default=f"live-replica:{ROOT / 'runs' / 'live_replica'}")
    p.add_argument("--types", default="jp2k,gblur", help="distortion types to show, comma-separated")
    p.add_argument("--show", type=int, default=4, help="photos shown at each end")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pooling", nargs="*", default=[None], help="poolings to compare (default: each checkpoint's)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    quality = np.array([s.score for s in data.samples]) * (1.0 if data.higher_is_better else -1.0)
    types = np.array([s.dist_type for s in data.samples])
    refs = np.array([s.ref for s in data.samples])
    print(f"## Per-photo offsets on {data.name} (score points of each model's calibrated scale; "
          f"negative = rated worse than people rate it)\n")
    print("| model | type | SROCC | most under-rated photos | most over-rated photos |")
    print("|---|---|---|---|---|")
    for name, pooling in [(m, q) for m in args.models for q in args.pooling]:
        scorer = load_model(name, device="cpu", precision="float32", pooling=pooling)
        label = f"`{scorer.name}`" + (f", {scorer.pooling} pooling" if pooling else "")
        scores = np.array(scorer.score([s.path for s in data.samples]), dtype=float)
        for t in args.types.split(","):
            m = types == t
            if not m.any():
                raise SystemExit(f"no images of type {t!r} in {data.name} (types: {', '.join(sorted(set(types)))})")
            off = sorted(offsets(scores[m], quality[m], refs[m]).items(), key=lambda kv: kv[1])
            print(f"| {label} | {t} | {spearmanr(scores[m], quality[m])[0]:.3f} | "
                  f"{_names(off[:args.show])} | {_names(off[::-1][:args.show])} |")


if __name__ == "__main__":
    main()
