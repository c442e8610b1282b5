"""Distortion synthesis speed: ms per family and level on a 512x384 photo, a full
LIVE group, and ranked-batch images/s from the DataLoader with 0, 1 and 2 workers
(for a set, with its teacher scores) next to what a training step consumes.

    python bench/synthesis.py [--refs ../shared/data/refs] [--batches 20] [--set broad] [--teacher ms_gmsd,haarpsi]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.train.distortions import DISTORTIONS, SETS, apply_distortion, num_levels  # noqa: E402
from rankiqa.train.ranking_data import GroupBatchSampler, RankedGroups, list_images, make_loader  # noqa: E402


def photo(refs: Path) -> np.ndarray:
    from PIL import Image

    files = list_images(refs) if refs.exists() else []
    if files:
        with Image.open(files[0]) as im:
            return np.asarray(im.convert("RGB").resize((512, 384), Image.Resampling.LANCZOS))
    sys.path.insert(0, str(ROOT / "examples"))
    from make_images import scene

    return scene()


def best_ms(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--refs", type=Path, default=ROOT.parent / "shared" / "data" / "refs")
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--crop", type=int, default=128, help="crop size (the default checkpoint trains at 128)")
    p.add_argument("--set", default="broad", help="distortion set of the loader benchmark")
    p.add_argument("--teacher", default="ms_gmsd,haarpsi", help="teachers scored in the loader ('' for none)")
    p.add_argument("--groups", type=int, default=6, help="groups per batch")
    args = p.parse_args()
    torch.set_num_threads(1)
    img = photo(args.refs)

    print("## ms per distortion, 512x384 photo, one core\n\n| family | " +
          " | ".join(f"L{i}" for i in range(1, 10)) + " |\n|---|" + "---|" * 9)
    for name in DISTORTIONS:
        ms = [best_ms(lambda lv=lv: apply_distortion(name, img, lv, 0)) for lv in range(1, num_levels(name) + 1)]
        print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in ms) + " |" + " |" * (9 - len(ms)))
    group = best_ms(lambda: [apply_distortion(n, img, lv, 0) for n in SETS["live"] for lv in range(1, 6)]) / 4
    print(f"\nfull 5-level LIVE group (mean of 4 families): {group:.0f} ms (target < 500 ms)")

    refs = list_images(args.refs) if args.refs.exists() else []
    if not refs:
        print("\n(no reference photos: loader benchmark skipped)")
        return
    ds = RankedGroups(refs[:200], args.set, crop_size=args.crop, seed=0, teachers=args.teacher)
    step = train_step_images_per_s(args.crop)
    print(f"\n## ranked batches, set {args.set}, teachers {args.teacher or 'none'}, {args.groups} groups a batch, "
          f"crop {args.crop}\n")
    print(f"a training step of {ARCH[0]} {ARCH[1]} (one thread) consumes {step:.1f} images/s\n")
    print("| workers | images/s | vs training step |\n|---|---|---|")
    for workers in (0, 1, 2):
        loader = make_loader(ds, GroupBatchSampler(len(ds), args.groups, 0, num_batches=args.batches + 2), workers)
        it = iter(loader)
        next(it)
        next(it)  # warm-up (worker start)
        t = time.perf_counter()
        n = sum(x.shape[0] for x, *_ in it)
        rate = n / (time.perf_counter() - t)
        print(f"| {workers} | {rate:.1f} | {rate / step:.2f}x |")


ARCH = ("vgg16_slim", {"width": 0.125})


def train_step_images_per_s(crop: int, batch: int = 48, steps: int = 5) -> float:
    """Images/s one SGD step of the embedded default's architecture consumes."""
    from rankiqa.models import build_model
    from rankiqa.train.losses import all_pairs_ranking_loss

    model = build_model(ARCH[0], **ARCH[1])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(batch, 3, crop, crop)
    groups = torch.arange(batch) // 6
    levels = torch.arange(batch) % 6
    for i in range(steps + 1):
        if i == 1:
            t = time.perf_counter()
        r = all_pairs_ranking_loss(model(x), groups, levels, 1.0)
        opt.zero_grad()
        r.loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t)


if __name__ == "__main__":
    main()
