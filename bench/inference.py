"""Scoring speed and memory per protocol, at 512x384 and 1920x1080, on this CPU.

Prints images/s, peak resident memory, achieved GFLOP/s against a measured
float32 matrix-multiply peak, and (side by side, same run) the same backbone
driven the naive way: one forward per crop, no batching.

    python bench/inference.py [--model default] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.api import load_model  # noqa: E402
from rankiqa.io import load_image  # noqa: E402
from rankiqa.protocols import PAPER_CROPS, PAPER_SEED, make_crops  # noqa: E402


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux)
    except OSError:
        pass


def matmul_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def flops_per_image(scorer, image: torch.Tensor, protocol: str) -> float:
    views = make_crops(image, protocol, scorer.crop_size, PAPER_CROPS, PAPER_SEED)
    with FlopCounterMode(display=False) as fc, torch.inference_mode():
        for v in views.tensors:
            scorer.model(v.unsqueeze(0))
    return float(fc.get_total_flops())


def timed(fn, min_seconds: float = 2.0) -> float:
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def naive(scorer, image: torch.Tensor, protocol: str) -> float:
    views = make_crops(image, protocol, scorer.crop_size, PAPER_CROPS, PAPER_SEED)
    with torch.inference_mode():
        return sum(float(scorer.model(v.unsqueeze(0))[0]) for v in views.tensors) / len(views.tensors)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    scorer = load_model(args.model, device="cpu")
    sys.path.insert(0, str(ROOT / "examples"))
    from make_images import scene

    peak = matmul_peak_gflops()
    print(f"model {scorer.name} ({scorer.card.get('arch')}, crop {scorer.crop_size}), {args.threads} threads; "
          f"measured float32 matmul peak {peak:.1f} GFLOP/s\n")
    print("| size | protocol | images/s | ms/image | naive ms/image | speed-up | peak RSS MB | GFLOP/image | "
          "GFLOP/s | % of peak |\n|---|---|---|---|---|---|---|---|---|---|")
    base = torch.from_numpy(scene()).permute(2, 0, 1)
    for h, w in ((384, 512), (1080, 1920)):
        img = torch.nn.functional.interpolate(base[None].float(), size=(h, w), mode="bilinear")[0].to(torch.uint8)
        x = load_image(img)
        for protocol in ("paper", "grid", "full"):
            reset_peak()
            t = timed(lambda: scorer.score(x, protocol=protocol), args.seconds)
            rss = peak_rss_mb()
            t_naive = timed(lambda: naive(scorer, x, protocol), args.seconds) if protocol != "full" else t
            gflop = flops_per_image(scorer, x, protocol) / 1e9
            print(f"| {w}x{h} | {protocol} | {1 / t:.2f} | {1000 * t:.0f} | {1000 * t_naive:.0f} | "
                  f"{t_naive / t:.2f}x | {rss:.0f} | {gflop:.2f} | {gflop / t:.1f} | {100 * gflop / t / peak:.0f}% |")


if __name__ == "__main__":
    main()
