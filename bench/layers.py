"""Where the scoring network's time goes: each layer's share of the time and of the FLOPs.

The network a :class:`rankiqa.api.Scorer` runs (batch norm folded, first block
in slices, pair-maximum pooling, channels_last) on one batch of the default
protocol's crops, in float32 and bfloat16 side by side. Every leaf module is
timed by forward hooks (the CPU runs them synchronously, so the wall time
between a module's pre- and post-hook is its own); convolutions also get their
achieved GFLOP/s against the measured matmul peak of their precision
(``bench/inference.py``'s ``matmul_peak_gflops``). The standardisation, the
bfloat16 casts between the wrapped blocks and Python overhead are the
``rest`` row. Median over ``--repeats`` forward passes.

    python bench/layers.py [--model default] [--crops 15] [--threads 2] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from folder_bench import matmul_peak_gflops  # noqa: E402
from rankiqa.api import load_model  # noqa: E402
from rankiqa.precision import native_bf16  # noqa: E402


def conv_flops(model: nn.Module, x: torch.Tensor, labels: dict[nn.Module, str]) -> dict[str, float]:
    """Multiply-add FLOPs of each labelled convolution group in one forward of ``x``."""
    flops: dict[str, float] = defaultdict(float)

    def count(m, args, out):
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        flops[labels[m]] += 2.0 * out.numel() * k

    hooks = [m.register_forward_hook(count) for m in labels if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        model(x)
    for h in hooks:
        h.remove()
    return dict(flops)


def layer_times(model: nn.Module, x: torch.Tensor, repeats: int) -> tuple[dict[str, float], dict[str, float], float]:
    """Median seconds per forward of each labelled group of leaf modules, their FLOPs, and the whole forward."""
    labels = {}
    block = 1
    for m in model.features.modules():
        if next(m.children(), None) is not None:
            continue
        if isinstance(m, nn.Conv2d):
            labels[m] = f"block {block}: conv {m.in_channels}->{m.out_channels}"
        elif isinstance(m, nn.ReLU):
            labels[m] = f"block {block}: ReLUs"
        elif isinstance(m, nn.MaxPool2d):
            labels[m] = f"block {block}: pooling"
            block += 1
    spent: dict[str, list[float]] = defaultdict(list)
    now: dict[str, float] = defaultdict(float)
    start: dict[nn.Module, float] = {}

    def pre(m, args):
        start[m] = time.perf_counter()

    def post(m, args, out):
        now[labels[m]] += time.perf_counter() - start[m]

    flops = conv_flops(model, x, labels)  # also the warm-up pass
    hooks = [h for m in labels for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))]
    whole = []
    with torch.inference_mode():
        for _ in range(repeats):
            now.clear()
            t = time.perf_counter()
            model(x)
            whole.append(time.perf_counter() - t)
            for k, v in now.items():
                spent[k].append(v)
    for h in hooks:
        h.remove()
    return {k: statistics.median(v) for k, v in spent.items()}, flops, statistics.median(whole)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--crops", type=int, default=None, help="crops per batch (default: the checkpoint's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--bf16", action="store_true", help="time bfloat16 even where this CPU only emulates it")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    precisions = ["float32"] + (["bfloat16"] if args.bf16 or native_bf16() else [])
    peaks = {"float32": matmul_peak_gflops(),
             "bfloat16": matmul_peak_gflops(dtype=torch.bfloat16) if len(precisions) > 1 else float("nan")}
    results = {}
    for precision in precisions:
        scorer = load_model(args.model, device="cpu", precision=precision, num_crops=args.crops)
        x = torch.rand(scorer.num_crops, 3, scorer.crop_size, scorer.crop_size)
        results[precision] = layer_times(scorer.model, x.contiguous(memory_format=torch.channels_last), args.repeats)
    print(f"# Where the time goes: {scorer.name}, one batch of {scorer.num_crops} crops of {scorer.crop_size} px, "
          f"{args.threads} threads, median of {args.repeats} passes; matmul peak "
          + ", ".join(f"{p} {peaks[p]:.0f} GFLOP/s" for p in precisions) + "\n")
    print("| layer | share of FLOPs | " + " | ".join(f"{p}: ms | {p}: share of time | {p}: GFLOP/s (% of peak)"
                                                    for p in precisions) + " |")
    print("|---|---|" + "---|---|---|" * len(precisions))
    times0, flops, _ = results[precisions[0]]
    total_flops = sum(flops.values())
    for label in list(times0) + ["rest (standardisation, casts, head, overhead)", "whole network"]:
        cells = [f"{100 * flops[label] / total_flops:.0f}%" if label in flops else
                 ("100%" if label == "whole network" else "")]
        for p in precisions:
            times, _, whole = results[p]
            t = whole if label == "whole network" else times.get(label, whole - sum(times.values()))
            f = total_flops if label == "whole network" else flops.get(label)
            rate = f"{f / t / 1e9:.0f} ({100 * f / t / 1e9 / peaks[p]:.0f}%)" if f else ""
            cells += [f"{1e3 * t:.2f}", f"{100 * t / whole:.0f}%", rate]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
