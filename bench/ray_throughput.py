"""Ray Data scoring throughput on this machine, side by side with a plain rankiqa.score loop.

    python bench/ray_throughput.py --images 96 --concurrency 2

Same files (512x384 PNG crops of the reference photos), same model and
protocol; the loop uses all threads in one process, Ray ``concurrency``
single-threaded workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refs", default=str(ROOT.parent / "shared" / "data" / "refs"))
    p.add_argument("--images", type=int, default=96)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import torch
    from PIL import Image

    import rankiqa
    from rankiqa.integrations.ray import score_dataset
    from rankiqa.train.ranking_data import list_images

    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, f in enumerate(list_images(args.refs)[: args.images]):
            out = Path(d) / f"{i:04d}.png"
            Image.open(f).convert("RGB").resize((512, 384)).save(out)
            paths.append(str(out))
        torch.set_num_threads(os.cpu_count() or 1)
        rankiqa.score(paths[:2])  # load the model outside the timing
        t = time.perf_counter()
        rankiqa.score(paths)
        loop = len(paths) / (time.perf_counter() - t)
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        ds = ray.data.from_items([{"path": p} for p in paths])
        score_dataset(ds.limit(args.concurrency * 2), concurrency=args.concurrency).take_all()  # warm the workers
        t = time.perf_counter()
        n = len(score_dataset(ds, concurrency=args.concurrency, batch_size=args.batch_size).take_all())
        ray_rate = n / (time.perf_counter() - t)
        ray.shutdown()
    print(f"## Ray Data throughput, {len(paths)} images 512x384, default model, paper protocol, "
          f"{os.cpu_count()} CPUs\n")
    print("| how | images/s |\n|---|---|")
    print(f"| rankiqa.score loop, one process, {os.cpu_count()} threads | {loop:.1f} |")
    print(f"| Ray Data, {args.concurrency} workers x 1 thread, batch {args.batch_size} (incl. Ray start of the "
          f"pipeline) | {ray_rate:.1f} |")


if __name__ == "__main__":
    main()
