"""Scoring a folder: rankiqa per protocol (old pipeline and new) against OpenCV's BRISQUE, side by side.

One run, one folder of 768x512 JPEGs cut from ../shared/data/refs, the same
``--threads`` for everyone. Prints:

1. images/s per protocol: the old pipeline (decode, crop, forward one image
   after another; batch norm unfolded; ``full`` one image per pass), the new
   one (:mod:`rankiqa.pipeline`: one lane per thread, each with a decoding
   thread, crops batched across images, batch norm folded, first block in
   cache-sized slices of the batch, 2x2 max pooling as two element-wise
   maxima, against the same without the slicing and with ``nn.MaxPool2d``,
   and against one lane whose network runs on all threads) in float32 and in bfloat16 (:mod:`rankiqa.precision`),
   how far the bfloat16 scores are from the float32 ones, and the new one
   with a DataLoader worker process decoding instead of a thread; OpenCV's
   BRISQUE (``cv2.imread`` + its 36 features; the SVR on top is a dot product with the support vectors, left
   out, so BRISQUE's time is a lower bound). Needs ``bench/requirements.txt``.
2. The network alone: GFLOP per image, achieved GFLOP/s against a measured
   float32 matmul peak, with and without batch-norm folding and channels_last,
   one batch at a time on all threads or in lanes (one batch per thread),
   and in bfloat16 (against the bfloat16 matmul peak). Most rows forward one
   image's crops a batch; the rows "the pipeline's batches" time what the
   pipeline forwards: crops of consecutive images, 32 crops' pixels a batch.
   With ``--live runs/live_replica``: LIVE replica SROCC in both precisions.
   The bfloat16 rows are left out on CPUs without native bfloat16 (no
   AVX-512 BF16 or AMX; e.g. AVX2-only): there torch emulates it about ten
   times slower than float32, ``auto`` never picks it, and timing it only
   costs minutes. ``--bf16`` times it anyway.
3. Peak RSS of a fresh process scoring 100 vs ``--many`` images, and one
   24-megapixel photo.
4. Start-up: ``rankiqa score one.jpg`` wall time (median of 3) against a bare
   ``import torch``.
5. Issue 15's targets, each with this run's measure and whether it is met.

Like the ``rankiqa`` command, the bench and its RSS processes first call
:func:`rankiqa.allocator.reuse_freed_memory` (``bench/allocator.py`` measures it).

    python bench/inference.py [--images 100] [--threads 2] [--many 10000] [--live runs/live_replica]
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from folder_bench import (  # noqa: E402
    brisque, folder_bench_parser, live_report, make_folder, matmul_peak_gflops, network_only)
from rankiqa.allocator import reuse_freed_memory  # noqa: E402
from rankiqa.api import load_model  # noqa: E402
from rankiqa.defaults import DEFAULT_BATCH_SIZE, DEFAULT_PRECISION, PROTOCOLS  # noqa: E402
from rankiqa.io import load_image  # noqa: E402
from rankiqa.models.fusion import _Chunked, _PairMaxPool, fold_batch_norm  # noqa: E402
from rankiqa.pipeline import ScoreAccumulator  # noqa: E402
from rankiqa.precision import native_bf16, resolve_precision  # noqa: E402
from rankiqa.protocols import PAPER_CROPS, PAPER_SEED, make_crops  # noqa: E402
from rankiqa.weights.checkpoint import network_from_checkpoint  # noqa: E402
from rankiqa.weights.hub import resolve_checkpoint  # noqa: E402


def old_pipeline(model, files: list[str], protocol: str, crop: int, num_crops: int, pooling: str = "mean",
                 batch: int = 32) -> list[float]:
    """The pipeline before issue 15, kept here as the baseline (with the checkpoint's crop pooling)."""
    sums, pending = [0.0] * len(files), []

    def flush():
        with torch.inference_mode():
            out = model(torch.stack([c for _, c, _ in pending])).tolist()
        for (i, _, w), s in zip(pending, out):
            sums[i] += w * s
        pending.clear()

    counts = [0.0] * len(files)
    for i, f in enumerate(files):
        views = make_crops(load_image(f), protocol, crop, num_crops, PAPER_SEED, pooling)
        for c, w in zip(views.tensors, views.weights):
            pending.append((i, c, w))
            counts[i] += w
            if protocol == "full" or len(pending) >= batch:
                flush()
    if pending:
        flush()
    return [s / n for s, n in zip(sums, counts)]


def dataloader_pipeline(scorer, files: list[str], protocol: str) -> list[float]:
    """New accumulator, but decoding in one DataLoader worker process instead of a thread."""
    from rankiqa.pipeline import ScoreAccumulator

    class Files(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            return i, make_crops(load_image(files[i]), protocol, scorer.crop_size, scorer.num_crops, PAPER_SEED,
                                 scorer.pooling)

    loader = torch.utils.data.DataLoader(Files(), batch_size=None, num_workers=1, prefetch_factor=2)
    acc = ScoreAccumulator(scorer._forward, scorer.batch_size, scorer.crop_size)
    for i, views in loader:
        acc.add(i, views)
    acc.flush()
    return [acc.pop(i) for i in range(len(files))]


def unchunked(scorer):
    """A float32 scorer's copy running its first block on the whole batch (before ``chunk_first_block``)."""
    other = copy.copy(scorer)
    other.model = copy.deepcopy(scorer.model)
    first, *rest = other.model.features
    if isinstance(first, _Chunked):
        other.model.features = torch.nn.Sequential(*first.inner, *rest)
    return other


def plain_pooling(scorer):
    """A scorer's copy pooling with ``nn.MaxPool2d`` again, after its ReLU (before
    :func:`rankiqa.models.fusion.pair_max_pool`)."""
    other = copy.copy(scorer)
    other.model = copy.deepcopy(scorer.model)
    for parent in list(other.model.modules()):
        for name, m in parent.named_children():
            if isinstance(m, _PairMaxPool):
                pool = torch.nn.MaxPool2d(2, 2)
                setattr(parent, name, torch.nn.Sequential(torch.nn.ReLU(), pool) if m.relu else pool)
    return other


def pipeline_batches(scorer, files: list[str], protocol: str, num_crops: int) -> list[torch.Tensor]:
    """The full batches the scoring pipeline forwards for ``files`` (crops of consecutive images, up to
    ``DEFAULT_BATCH_SIZE`` crops' pixels), built by its own :class:`rankiqa.pipeline.ScoreAccumulator`."""
    batches: list[torch.Tensor] = []

    def record(crops):
        batches.append(scorer._batch(crops))
        return [0.0] * len(crops)

    acc = ScoreAccumulator(record, DEFAULT_BATCH_SIZE, scorer.crop_size)
    for i, f in enumerate(files):
        acc.add(i, make_crops(load_image(f, channels_last=True), protocol, scorer.crop_size, num_crops, PAPER_SEED))
    acc.flush()
    full = max(b.shape[0] * b.shape[-2] * b.shape[-1] for b in batches)
    return [b for b in batches if b.shape[0] * b.shape[-2] * b.shape[-1] == full]


_CHILD = """
import sys, json, torch
torch.set_num_threads({threads})
from rankiqa.allocator import reuse_freed_memory
reuse_freed_memory()
from rankiqa.api import load_model
files = json.loads(sys.argv[1])
n = int(sys.argv[2])
s = load_model("{model}", device="cpu")
scores, errors = s.score_with_errors((files[i % len(files)] for i in range(n)))
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"n": len(scores), "errors": len(errors), "peak_rss_mb": int(hwm) / 1024}}))
"""


def child_rss(files: list[str], n: int, model: str, threads: int) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD.format(threads=threads, model=model), json.dumps(files), str(n)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)["peak_rss_mb"]


def startup(one: str, threads: int) -> tuple[float, float]:
    def wall(cmd):
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    return (wall([sys.executable, "-m", "rankiqa", "score", one, "--threads", str(threads), "--no-progress"]),
            wall([sys.executable, "-c", "import torch"]))


def live_agreement(folder: Path, model: str, precisions: tuple[str, ...]) -> None:
    from rankiqa.train.datasets import load_dataset

    ds = load_dataset(f"live-replica:{folder}")
    print("\n# LIVE replica SROCC per precision (default protocol)\n")
    print("| precision | all | JP2K | JPEG | noise | blur |\n|---|---|---|---|---|---|")
    for precision in precisions:
        rep = live_report(load_model(model, device="cpu", precision=precision), ds)
        per = [rep["all"]] + [rep["per_type"][k] for k in ("jp2k", "jpeg", "wn", "gblur")]
        print(f"| {precision} | " + " | ".join(f"{m['srocc']:.4f}" for m in per) + " |")


def main() -> None:
    ap = folder_bench_parser(__doc__, "LIVE replica folder: SROCC per precision")
    ap.add_argument("--many", type=int, default=10000, help="images scored by the second RSS process")
    ap.add_argument("--bf16", action="store_true", help="time bfloat16 even where this CPU only emulates it")
    args = ap.parse_args()
    reuse_freed_memory()  # as the rankiqa command does (bench/allocator.py compares the two)
    with_bf16 = args.bf16 or native_bf16()
    torch.set_num_threads(args.threads)
    scorer = load_model(args.model, device="cpu", precision="float32")
    unfolded, _ = network_from_checkpoint(resolve_checkpoint(args.model)[0])
    unfolded.eval()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_folder(Path(tmp), args.images, args.refs)
        auto = resolve_precision("auto", torch.device("cpu"))
        print(f"# Scoring {len(files)} 768x512 JPEGs: {scorer.name}, default protocol {scorer.protocol}, "
              f"{scorer.pooling} pooling, "
              f"{args.threads} threads; default precision {DEFAULT_PRECISION} (auto = {auto} on this CPU)"
              + ("" if with_bf16 else "; bfloat16 rows left out: no native bfloat16 on this CPU (--bf16 times it)")
              + "\n")
        variants = [(f"paper, {scorer.num_crops} crops", "paper", scorer.num_crops)]
        if scorer.num_crops != PAPER_CROPS:
            variants.append((f"paper, {PAPER_CROPS} crops", "paper", PAPER_CROPS))
        variants += [(p, p, scorer.num_crops) for p in PROTOCOLS if p != "paper"]
        variants = [(f"{label} (default)" if p == scorer.protocol and n == scorer.num_crops else label, p, n)
                    for label, p, n in variants]
        scorers = {n: scorer if n == scorer.num_crops else load_model(args.model, device="cpu", num_crops=n,
                                                                      precision="float32")
                   for _, _, n in variants}
        bf16 = ({n: load_model(args.model, device="cpu", num_crops=n, precision="bfloat16") for n in scorers}
                if with_bf16 else {})
        print("| pipeline, images/s | " + " | ".join(v[0] for v in variants) + " |\n|---|" + "---|" * len(variants))
        new32, new16 = f"new ({args.threads} lanes: decode + network on one thread each), float32", "new, bfloat16"
        one32, one16 = (f"one lane (decode thread, network on {args.threads} threads; session 25), float32",
                        "one lane, bfloat16")
        whole = "new, float32, first block on the whole batch"
        whole_scorers = {n: unchunked(s) for n, s in scorers.items()}
        maxpool = "new, float32, nn.MaxPool2d (before the pair-maximum pooling)"
        maxpool_scorers = {n: plain_pooling(s) for n, s in scorers.items()}
        gap16 = "bfloat16 vs float32: mean / max abs difference, 0-100 scale"
        plain = f"{new32}, mean pooling (the paper's)" if scorer.pooling != "mean" else None
        rows: dict[str, list[str]] = {"old (sequential, BN unfolded)": [], one32: [], whole: [], maxpool: [],
                                      new32: [], **({plain: []} if plain else {}),
                                      **({one16: [], new16: [], gap16: []} if with_bf16 else {}),
                                      "new, DataLoader worker process": []}

        rates: dict[str, list[float]] = {}  # images/s by row, in column order: what the targets read

        def timed(row: str, s, p: str, lanes: int | None = None) -> list[float]:
            t = time.perf_counter()
            out, errors = s.score_with_errors(files, p, lanes=lanes)
            rates.setdefault(row, []).append(len(files) / (time.perf_counter() - t))
            rows[row].append(f"{rates[row][-1]:.1f}")
            assert not errors, errors
            return out

        for _, p, n in variants:
            t = time.perf_counter()
            old = old_pipeline(unfolded, files, p, scorer.crop_size, n, scorer.pooling)
            rows["old (sequential, BN unfolded)"].append(f"{len(files) / (time.perf_counter() - t):.1f}")
            one = timed(one32, scorers[n], p, lanes=1)
            flat = timed(whole, whole_scorers[n], p)
            pooled = timed(maxpool, maxpool_scorers[n], p)
            new = timed(new32, scorers[n], p)
            if plain:
                timed(plain, load_model(args.model, device="cpu", num_crops=n, precision="float32", pooling="mean"), p)
            if with_bf16:
                timed(one16, bf16[n], p, lanes=1)
                low = timed(new16, bf16[n], p)
                diff = np.abs(np.subtract(scorer.output_scores(new), scorer.output_scores(low)))
                rows[gap16].append(f"{diff.mean():.2f} / {diff.max():.2f}")
            t = time.perf_counter()
            dl = dataloader_pipeline(scorers[n], files, p)
            rows["new, DataLoader worker process"].append(f"{len(files) / (time.perf_counter() - t):.1f}")
            sign = 1.0 if scorer.higher_is_better else -1.0
            assert np.allclose(new, sign * np.asarray(old), atol=1e-4), p
            assert np.allclose(one, new, atol=1e-5), p  # lanes change where a crop is scored, not its score
            assert np.allclose(dl, old, atol=1e-4), p
            # Slicing the batch changes nothing, nor does the pooling rewrite (up to which lane took which image).
            assert np.allclose(flat, new, atol=1e-6) and np.allclose(pooled, new, atol=1e-6), p
        for name, vals in rows.items():
            print(f"| {name} | " + " | ".join(vals) + " |")
        b = brisque(files)
        print(f"| OpenCV BRISQUE (features, 1 process) | {'not installed' if b is None else f'{b:.1f}'} "
              "(the same for every column) |" + " |" * (len(variants) - 1))

        share: dict[bool, float] = {}  # the default protocol's network in lanes on the pipeline's batches
        peak = matmul_peak_gflops()
        peak16 = matmul_peak_gflops(dtype=torch.bfloat16) if with_bf16 else math.nan
        print(f"\n# The network alone (measured peak, matmul or 1x1 convolution: float32 {peak:.1f}"
              + (f", bfloat16 {peak16:.1f}" if with_bf16 else "") + " GFLOP/s)\n")
        print("| protocol | network | GFLOP / image | GFLOP/s | % of peak |\n|---|---|---|---|---|")
        image = load_image(files[0])
        for label, p, n in variants:
            views = make_crops(image, p, scorer.crop_size, n, PAPER_SEED).tensors
            batch = [torch.stack(views)] * 8
            piped = pipeline_batches(scorers[n], files[:24], p, n)
            what = "whole images" if p == "full" else "crops of consecutive images"
            in_pipe = f", the pipeline's batches ({piped[0].shape[0]} {what}), {args.threads} lanes of one thread"
            nets = [("BN unfolded", unfolded, False, peak), ("BN folded", fold_batch_norm(unfolded), False, peak),
                    ("BN folded + channels_last, first block on the whole batch", whole_scorers[n].model, True, peak),
                    ("BN folded + channels_last, first block chunked, nn.MaxPool2d", maxpool_scorers[n].model, True,
                     peak),
                    ("BN folded + channels_last, first block chunked, pair-maximum pooling", scorers[n].model, True,
                     peak)]
            in_lanes = f", {args.threads} lanes of one thread (the pipeline's)"
            nets.append((f"BN folded + channels_last, first block chunked, pair-maximum pooling{in_lanes}",
                         scorers[n].model, True, peak, args.threads))
            nets.append((f"BN folded + channels_last, first block chunked, pair-maximum pooling{in_pipe}",
                         scorers[n].model, True, peak, args.threads, piped))
            if with_bf16:
                nets.append(("BN folded + channels_last, bfloat16, nn.MaxPool2d (% of its peak)",
                             plain_pooling(bf16[n]).model, True, peak16))
                nets.append(("BN folded + channels_last, bfloat16 (% of its peak)", bf16[n].model, True, peak16))
                nets.append((f"BN folded + channels_last, bfloat16{in_lanes} (% of its peak)", bf16[n].model, True,
                             peak16, args.threads))
                nets.append((f"BN folded + channels_last, bfloat16{in_pipe} (% of its peak)", bf16[n].model, True,
                             peak16, args.threads, piped))
            for name, model, cl, top, *rest in nets:
                lanes_n, batches = (rest[0] if rest else 1), (rest[1] if len(rest) > 1 else batch)
                gflop, dt = network_only(model, batches, cl, lanes_n)
                images = sum(b.shape[0] for b in batches) * lanes_n / len(views)
                per_image = gflop / images
                rate = gflop / dt
                print(f"| {label} | {name} | {per_image:.2f} | {rate:.1f} | {100 * rate / top:.0f}% |")
                if label == variants[0][0] and in_pipe in name:
                    share["bfloat16" in name] = rate / top

        if args.live is not None:
            live_agreement(args.live, args.model, ("float32", "bfloat16") if with_bf16 else ("float32",))

        print("\n# Memory and start-up\n")
        small = child_rss(files, len(files), args.model, args.threads)
        many = child_rss(files, args.many, args.model, args.threads)
        big = Path(tmp) / "24mp.jpg"
        with Image.open(files[0]) as im:
            im.resize((6000, 4000), Image.Resampling.BICUBIC).save(big, quality=90)
        big_rss = child_rss([str(big)], 1, args.model, args.threads)
        cli, torch_only = startup(files[0], args.threads)
        print("| measure | value |\n|---|---|")
        print(f"| peak RSS, {len(files)} images | {small:.0f} MB |")
        print(f"| peak RSS, {args.many} images | {many:.0f} MB |")
        print(f"| peak RSS, one 6000x4000 photo ({scorer.protocol}) | {big_rss:.0f} MB |")
        print(f"| `rankiqa score one.jpg`, wall | {cli:.2f} s |")
        print(f"| `python -c 'import torch'`, wall | {torch_only:.2f} s |")
        default16 = rates[new16][0] if with_bf16 else math.nan
        print_targets(auto, rates[new32][0], default16, b, share, (small, many, big_rss), (cli, torch_only),
                      len(files), args.many)


def print_targets(auto: str, float32: float, bfloat16: float, brisque_rate: float | None, share: dict[bool, float],
                  rss: tuple[float, float, float], start: tuple[float, float], n_small: int, n_many: int) -> None:
    """Issue 15's targets, each with this run's measure and whether it is met; the default protocol throughout.

    The precision that counts is the default's (``auto``: bfloat16 where the CPU has it natively); float32, what
    ``auto`` picks on other CPUs, is shown beside it. "Flat" RSS: within 10% from the small run to the long one.
    """
    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    low = auto == "bfloat16"
    rate = bfloat16 if low else float32
    b = math.nan if brisque_rate is None else brisque_rate
    small, many, big = rss
    print("\n# Targets (issue 15), this run\n\n| target | measured | |\n|---|---|---|")
    print(f"| default protocol images/s >= BRISQUE's, default precision (auto = {auto}) | {rate:.1f} against "
          f"{b:.1f} ({rate / b:.2f}x) | {verdict(rate >= b)} |")
    if low:
        print(f"| the same in float32 (`auto` on CPUs without native bfloat16) | {float32:.1f} against {b:.1f} "
              f"({float32 / b:.2f}x) | {verdict(float32 >= b)} |")
    print(f"| the network part >= 60% of the measured peak: the pipeline's batches in lanes, default precision | "
          f"{100 * share[low]:.0f}% | {verdict(share[low] >= 0.6)} |")
    if low:
        print(f"| the same in float32 | {100 * share[False]:.0f}% | {verdict(share[False] >= 0.6)} |")
    print(f"| peak RSS flat from {n_small} to {n_many} images (within 10%) | {small:.0f} to {many:.0f} MB "
          f"({100 * (many / small - 1):+.0f}%) | {verdict(many <= 1.1 * small)} |")
    print(f"| a 24-megapixel photo under 2 GB of RSS | {big:.0f} MB | {verdict(big < 2000)} |")
    print(f"| start-up: `rankiqa score one.jpg` against a bare `import torch` (measured; no number set) | "
          f"{start[0]:.2f} against {start[1]:.2f} s | |")


if __name__ == "__main__":
    main()
