"""How much of a LIVE replica SROCC is where the random crops fell?

The ``paper`` protocol takes its crops at seeded random positions, so every
number of ``evaluate`` is one draw. This bench scores the replica with several
crop seeds per test-time variant (crop size x crop count; a network trained on
one crop size can be scored on another, since it pools globally) and prints the
mean, standard deviation and worst draw of SROCC over all types and per type.
A difference between two variants or checkpoints smaller than these spreads is
not a difference.

    python bench/crop_seeds.py --model default --variants 128x15 192x15 --seeds 1,2,3,4 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rankiqa.pipeline as pipeline  # noqa: E402
from rankiqa.api import load_model  # noqa: E402
from rankiqa.train.datasets import load_dataset  # noqa: E402
from rankiqa.train.evaluation import evaluate_dataset  # noqa: E402


def parse_variant(text: str) -> tuple[int, int]:
    """``"192x15"`` -> (crop size 192, 15 crops)."""
    try:
        size, count = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SIZExCOUNT such as 192x15, got {text!r}") from None
    if size < 32 or count < 1:
        raise argparse.ArgumentTypeError(f"crop size must be >= 32 and count >= 1, got {text!r}")
    return size, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--replica", type=Path, default=ROOT / "runs" / "live_replica")
    ap.add_argument("--variants", nargs="+", type=parse_variant, default=[(128, 15)])
    ap.add_argument("--seeds", default="1,2,3,4", help="comma-separated crop seeds")
    ap.add_argument("--pooling", default=None, help="default: the checkpoint's")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    dataset = load_dataset(f"live-replica:{args.replica}")
    paths = [s.path for s in dataset.samples]
    types = sorted({s.dist_type for s in dataset.samples})
    columns = ["all", *types]

    results = {}
    for size, count in args.variants:
        draws = []
        for seed in seeds:
            pipeline.PAPER_SEED = seed  # read at every call by the scoring pipeline
            scorer = load_model(args.model, device="cpu", pooling=args.pooling, num_crops=count)
            scorer.crop_size = size
            report = evaluate_dataset(scorer.score_with_errors(paths, progress=False)[0], dataset)
            draws.append([report["all"]["srocc"]] + [report["per_type"][t]["srocc"] for t in types])
            print(f"{size}x{count} seed {seed}: all {draws[-1][0]:.4f}", file=sys.stderr)
        a = np.asarray(draws)
        results[f"{size}x{count}"] = {"draws": draws, "mean": a.mean(0).tolist(), "std": a.std(0).tolist(),
                                       "min": a.min(0).tolist()}

    print(f"LIVE replica SROCC of `{scorer.name}` ({scorer.pooling} pooling) over crop seeds {seeds}: "
          "mean ± std (worst draw)\n")
    print("| crop size x crops | pixels per crop set | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for name, r in results.items():
        size, count = parse_variant(name)
        cells = " | ".join(f"{m:.4f} ± {s:.4f} ({lo:.4f})" for m, s, lo in zip(r["mean"], r["std"], r["min"]))
        print(f"| {name} | {size * size * count / 1e3:.0f} k | {cells} |")
    if args.json:
        args.json.write_text(json.dumps({"model": scorer.name, "seeds": seeds, "columns": columns,
                                         "variants": results}, indent=2))


if __name__ == "__main__":
    main()
