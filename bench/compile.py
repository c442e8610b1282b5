"""Does ``torch.compile`` pay for scoring? Eager against compiled, per precision, side by side in one run.

The scorer's network (batch norm folded, first block in slices, pair-maximum
pooling, channels_last; :class:`rankiqa.api.Scorer`) run eagerly and through
``torch.compile`` (inductor, with ``freezing``: weights become constants, so
oneDNN can pre-pack them and fuse convolution + ReLU). For each precision
(bfloat16 only on CPUs that compute it natively) it prints:

- the first call's extra seconds (the compile): cold, with an empty inductor
  cache, and again in the same process with the cache warm;
- the network alone on the default protocol's crop batches: ms a batch, GFLOP/s
  and % of the matmul peak of its precision (``bench/inference.py``'s measure);
- the whole pipeline on a folder of 768x512 JPEGs: images/s, the second pass
  over the folder (the first pays for any recompiles a new batch shape costs),
  and how far the compiled scores are from the eager ones.
- how many images a run must score before the compile has paid for itself.

    python bench/compile.py [--images 100] [--threads 2] [--model default]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from folder_bench import folder_bench_parser, make_folder, matmul_peak_gflops, network_only  # noqa: E402
from rankiqa.api import load_model  # noqa: E402
from rankiqa.io import load_image  # noqa: E402
from rankiqa.precision import native_bf16  # noqa: E402
from rankiqa.protocols import PAPER_SEED, make_crops  # noqa: E402


def compiled(model: torch.nn.Module, example: torch.Tensor) -> tuple[torch.nn.Module, float]:
    """``torch.compile(model)`` and the seconds its first call took."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True  # constant weights: pre-packed for oneDNN, convolution + ReLU fused
    net = torch.compile(model)
    t = time.perf_counter()
    with torch.inference_mode():
        net(example)
    return net, time.perf_counter() - t


def images_per_s(scorer, files: list[str]) -> tuple[float, list[float]]:
    """images/s of ``scorer`` over ``files`` (second pass: the first pays for the recompiles of new shapes)
    and its raw scores."""
    scorer.score_with_errors(files)
    t = time.perf_counter()
    scores, errors = scorer.score_with_errors(files)
    if errors:
        raise RuntimeError(f"bench images failed: {list(errors.values())[:3]}")
    return len(files) / (time.perf_counter() - t), scores


def main() -> None:
    ap = folder_bench_parser(__doc__)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    precisions = ("float32", "bfloat16") if native_bf16() else ("float32",)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tmp) / "inductor")  # cold: nothing compiled before
        files = make_folder(Path(tmp), args.images, args.refs)
        first = load_model(args.model, device="cpu")
        views = make_crops(load_image(files[0]), "paper", first.crop_size, first.num_crops, PAPER_SEED).tensors
        batches = [torch.stack(views)] * 8
        example = batches[0].contiguous(memory_format=torch.channels_last)
        print(f"# torch.compile against eager: {first.name}, paper protocol, {first.num_crops} crops, "
              f"{first.pooling} pooling, {len(files)} 768x512 JPEGs, {args.threads} threads, "
              f"torch {torch.__version__}\n")
        print("| precision | network | first call, s (cold / warm cache) | network: ms a batch of "
              f"{len(views)} crops | GFLOP/s (% of peak) | pipeline, images/s | max abs score difference | "
              "images to repay the warm compile |")
        print("|---|---|---|---|---|---|---|---|")
        for precision in precisions:
            peak = matmul_peak_gflops(dtype=torch.bfloat16 if precision == "bfloat16" else torch.float32)
            eager = load_model(args.model, device="cpu", precision=precision)
            fast = load_model(args.model, device="cpu", precision=precision)
            fast.model, cold = compiled(fast.model, example)
            _, warm = compiled(load_model(args.model, device="cpu", precision=precision).model, example)
            rows = []
            for name, scorer in (("eager", eager), ("torch.compile", fast)):
                gflop, dt = network_only(scorer.model, batches, True)
                rate, scores = images_per_s(scorer, files)
                rows.append((name, gflop, dt, rate, np.asarray(scores)))
            (_, gflop, dt0, r0, s0), (_, _, dt1, r1, s1) = rows
            gain = 1 / r0 - 1 / r1  # seconds saved an image
            repay = f"{warm / gain:,.0f}" if gain > 0 else "never"
            diff = np.abs(np.subtract(eager.output_scores(s0), eager.output_scores(s1))).max()
            for (name, _, dt, rate, _), first_call in zip(rows, ("", f"{cold:.1f} / {warm:.1f}")):
                g = gflop / dt
                print(f"| {precision} | {name} | {first_call} | {1000 * dt / len(batches):.2f} | {g:.0f} "
                      f"({100 * g / peak:.0f}%) | {rate:.1f} | {'' if name == 'eager' else f'{diff:.3f}'} | "
                      f"{'' if name == 'eager' else repay} |")


if __name__ == "__main__":
    main()
