"""Lanes against one lane, alternated: is scoring in lanes faster on this CPU, beyond one run's noise?

One folder of 768x512 JPEGs (``bench/inference.make_folder``), the same ``--threads``. Each round scores it with
``lanes=1`` (one lane: a decoding thread, the network on every thread) and with the default (one lane per
thread, :func:`rankiqa.pipeline.pooled_scores`) in float32 and, where the CPU has it natively, bfloat16, then
times OpenCV BRISQUE's features (``bench/inference.brisque``). Prints images/s per round and their mean, and each
mean over BRISQUE's.

    python bench/lanes.py [--images 200] [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from folder_bench import brisque, folder_bench_parser, make_folder  # noqa: E402
from rankiqa.allocator import reuse_freed_memory  # noqa: E402
from rankiqa.api import load_model  # noqa: E402
from rankiqa.precision import native_bf16  # noqa: E402


def main() -> None:
    ap = folder_bench_parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.set_defaults(images=200)
    args = ap.parse_args()
    reuse_freed_memory()  # as the rankiqa command does
    torch.set_num_threads(args.threads)
    precisions = ("float32", "bfloat16") if native_bf16() else ("float32",)
    scorers = {p: load_model(args.model, device="cpu", precision=p) for p in precisions}
    with tempfile.TemporaryDirectory() as tmp:
        files = make_folder(Path(tmp), args.images, args.refs)
        for s in scorers.values():
            s.score_with_errors(files[:10])  # warm-up
        rates: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for p, s in scorers.items():
                for lanes, label in ((1, f"{p}, one lane"), (None, f"{p}, {args.threads} lanes (default)")):
                    t = time.perf_counter()
                    s.score_with_errors(files, lanes=lanes)
                    rates.setdefault(label, []).append(len(files) / (time.perf_counter() - t))
            b = brisque(files)
            if b is not None:
                rates.setdefault("OpenCV BRISQUE (features, 1 process)", []).append(b)
    top = statistics.mean(rates.get("OpenCV BRISQUE (features, 1 process)", [float("nan")]))
    print(f"# {scorers[precisions[0]].name}: {args.images} 768x512 JPEGs, {args.threads} threads, images/s\n")
    print("| | " + " | ".join(f"round {r + 1}" for r in range(args.rounds)) + " | mean | mean / BRISQUE's |")
    print("|---|" + "---|" * (args.rounds + 2))
    for label, v in rates.items():
        m = statistics.mean(v)
        print(f"| {label} | " + " | ".join(f"{x:.1f}" for x in v) + f" | {m:.1f} | {m / top:.2f} |")


if __name__ == "__main__":
    main()
