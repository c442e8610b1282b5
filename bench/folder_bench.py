"""What the benches that score a folder of test photos share: the folder, the options, BRISQUE, the peak.

``inference.py``, ``allocator.py``, ``backends.py``, ``compile.py``, ``lanes.py`` and ``layers.py`` import
from here, so one definition of each measure serves every table.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.io import images_in_folder  # noqa: E402
from rankiqa.pipeline import _one_intra_op_thread  # noqa: E402


def make_folder(d: Path, n: int, refs: Path, size: tuple[int, int] = (768, 512)) -> list[str]:
    sources = images_in_folder(refs, recursive=True)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        with Image.open(sources[(i * 7) % len(sources)]) as im:
            im = im.convert("RGB")
            scale = max(size[0] / im.width, size[1] / im.height, 1.0)
            if scale > 1.0:
                im = im.resize((math.ceil(im.width * scale), math.ceil(im.height * scale)), Image.Resampling.LANCZOS)
            x = int(rng.integers(0, im.width - size[0] + 1))
            y = int(rng.integers(0, im.height - size[1] + 1))
            path = d / f"photo_{i:04d}.jpg"
            im.crop((x, y, x + size[0], y + size[1])).save(path, quality=90)
        out.append(str(path))
    return out


def brisque(files: list[str]) -> float | None:
    try:
        import cv2
    except ImportError:
        return None
    if not hasattr(cv2, "quality"):
        return None
    t = time.perf_counter()
    for f in files:
        cv2.quality.QualityBRISQUE_computeFeatures(cv2.imread(f))
    return len(files) / (time.perf_counter() - t)


def matmul_peak_gflops(n: int = 1024, repeats: int = 10, dtype: torch.dtype = torch.float32, tries: int = 3) -> float:
    """GFLOP/s of the faster of a square matmul and the same product as a 1x1 convolution, best of ``tries``.

    Both are dense products the CPU's vector units run near peak, through
    different libraries: ``@`` goes to MKL on x86, which takes slow kernels on
    some AMD CPUs (65 GFLOP/s here, below the network's own convolutions),
    while the convolution goes to oneDNN, as the network's do. One try on a
    shared machine can catch a slow moment (332 against 412 GFLOP/s minutes apart).
    """
    a, b = torch.rand(n, n, dtype=dtype), torch.rand(n, n, dtype=dtype)
    x = torch.rand(1, n, 32, n // 32, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.rand(n, n, 1, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
    best = 0.0
    with torch.inference_mode():
        for run in [lambda: a @ b, lambda: torch.nn.functional.conv2d(x, w)] * tries:
            run()
            t = time.perf_counter()
            for _ in range(repeats):
                run()
            best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


def network_only(model, batches: list[torch.Tensor], channels_last: bool, lanes: int = 1) -> tuple[float, float]:
    """(GFLOP, seconds) of the network alone over pre-cut batches; with ``lanes``, that many threads run them all
    side by side on one intra-op thread each, as :func:`rankiqa.pipeline.pooled_scores` does."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        batches = [b.contiguous(memory_format=torch.channels_last) for b in batches]

    def run():
        with torch.inference_mode():
            for b in batches:
                model(b)

    with torch.inference_mode():
        with FlopCounterMode(display=False) as fc:
            model(batches[0])
        model(batches[0])
    if lanes == 1:
        t = time.perf_counter()
        run()
        return fc.get_total_flops() * len(batches) / 1e9, time.perf_counter() - t
    with _one_intra_op_thread(), ThreadPoolExecutor(lanes) as pool:
        t = time.perf_counter()
        for f in [pool.submit(run) for _ in range(lanes)]:
            f.result()
        dt = time.perf_counter() - t
    return fc.get_total_flops() * len(batches) * lanes / 1e9, dt


def live_report(scorer, ds) -> dict:
    """``evaluate_dataset``'s report (SROCC over all and per type) of ``scorer`` on a loaded LIVE replica."""
    from rankiqa.train.evaluation import evaluate_dataset

    raw, _ = scorer.score_with_errors([x.path for x in ds.samples])
    return evaluate_dataset(raw, ds)


def folder_bench_parser(doc: str, live_help: str | None = None) -> argparse.ArgumentParser:
    """The options every bench that scores a folder of test JPEGs shares; ``--live`` only with its ``live_help``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--refs", type=Path, default=ROOT.parent / "shared" / "data" / "refs")
    if live_help is not None:
        ap.add_argument("--live", type=Path, default=None, help=live_help)
    return ap

