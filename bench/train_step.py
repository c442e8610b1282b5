"""One training step (forward, backward, SGD) on contiguous (NCHW) against channels_last tensors, side by side.

``rankiqa.train`` (pre-training and fine-tuning) runs channels_last on a CPU (``rankiqa.train.layout``). This
times a step of ``vgg16_slim`` in train mode (batch norm on) at each ``--widths`` for a batch like the broad
recipe's (six groups of six crops of 128 px), the two layouts alternated over ``--rounds``, and how far apart
their first losses are (same weights, same batch).

    python bench/train_step.py [--widths 0.125,0.1875] [--batch 36] [--threads 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.allocator import reuse_freed_memory  # noqa: E402
from rankiqa.models import build_model  # noqa: E402


def step_seconds(width: float, layout: torch.memory_format, batch: int, crop: int, steps: int) -> tuple[float, float]:
    """Median seconds of a step after two warm-up steps, and the first step's loss (same weights in both layouts)."""
    torch.manual_seed(0)
    model = build_model("vgg16_slim", width=width).train().to(memory_format=layout)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(batch, 3, crop, crop, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=layout)
    times, loss = [], 0.0
    for i in range(steps + 2):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = model(x).square().mean()
        out.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
        if i == 0:
            loss = float(out.detach())
    return statistics.median(times), loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="0.125,0.1875")
    ap.add_argument("--batch", type=int, default=36)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    reuse_freed_memory()  # as python -m rankiqa.train does
    torch.set_num_threads(args.threads)
    layouts = {"contiguous (NCHW)": torch.contiguous_format, "channels_last": torch.channels_last}
    print(f"# A training step of vgg16_slim: {args.batch} crops of {args.crop} px, {args.threads} thread(s), "
          f"median of {args.steps} steps, {args.rounds} rounds alternated\n")
    print("| width | " + " | ".join(f"{name}, ms" for name in layouts) + " | speed-up | loss difference |")
    print("|---|---|---|---|---|")
    for width in (float(w) for w in args.widths.split(",")):
        times: dict[str, list[float]] = {}
        losses: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, layout in layouts.items():
                dt, losses[name] = step_seconds(width, layout, args.batch, args.crop, args.steps)
                times.setdefault(name, []).append(dt)
        ms = [1e3 * statistics.mean(times[name]) for name in layouts]
        a, b = losses.values()
        print(f"| {width} | {ms[0]:.0f} | {ms[1]:.0f} | {ms[0] / ms[1]:.2f}x | {abs(a - b) / abs(a):.1e} |")


if __name__ == "__main__":
    main()
