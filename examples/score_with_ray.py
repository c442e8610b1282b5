"""Score a folder (or millions of images on a cluster) with Ray Data; one CSV row per image.

    python examples/score_with_ray.py photos/ scores.csv                      # a local Ray instance
    python examples/score_with_ray.py s3://bucket/photos/ out.csv --address auto --concurrency 16

Every worker loads the model once (rankiqa.integrations.ray.RayScorer); a file
that cannot be read gets an empty score and its error in its row.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Sequence

import ray

from rankiqa.integrations.ray import score_dataset
from rankiqa.io import IMAGE_SUFFIXES


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("out", help="CSV file to write")
    p.add_argument("--model", default="default")
    p.add_argument("--address", default=None, help="Ray cluster address ('auto' inside a cluster); default: local")
    p.add_argument("--concurrency", type=int, default=2, help="scoring workers, each with its own model")
    p.add_argument("--batch-size", type=int, default=16, help="images per map_batches call")
    p.add_argument("--num-gpus", type=float, default=0, help="GPUs per worker (1 on GPU nodes)")
    args = p.parse_args(argv)

    if not ray.is_initialized():
        ray.init(address=args.address, include_dashboard=False)
    paths = sorted(str(f) for f in Path(args.folder).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    ds = ray.data.from_items([{"path": p} for p in paths])
    scored = score_dataset(ds, args.model, concurrency=args.concurrency, batch_size=args.batch_size,
                           num_gpus=args.num_gpus, device="cuda" if args.num_gpus else None)
    rows = sorted(scored.take_all(), key=lambda r: r["path"])
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "score", "error"])
        for r in rows:
            w.writerow([r["path"], "" if r["error"] else f"{r['score']:.6f}", r["error"]])
    failed = sum(1 for r in rows if r["error"])
    print(f"scored {len(rows) - failed} of {len(rows)} images -> {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
