"""Distortions implemented independently of rankiqa.train (OpenCV and numpy), on photos no model trained on.

The issue's checks use distortion code other than ours; this bench is the nearest
stand-in we have: every type below is written here with OpenCV calls, not with
:mod:`rankiqa.train.distortions`, at five levels from just visible to severe, on the 25
photos that :mod:`bench.broad_eval` holds out from every checkpoint. Each
photo and its five versions are scored whole, as a user would (``Scorer.score``), and
the table gives the within-photo pair accuracy per type (every pair of levels, clean
included; 1.0 = always right, 0.5 = a coin), for each model and pooling.

    python bench/independent.py --models default vgg16_slim.rank-broad-restart --pooling mean activity
    python bench/independent.py --crops 15 12 10
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from broad_eval import unseen_photos  # noqa: E402
from rankiqa.api import load_model  # noqa: E402

Image = np.ndarray  # HxWx3 uint8, RGB


def _clip(x: np.ndarray) -> Image:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _encode(img: Image, ext: str, params: list[int]) -> Image:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError(f"OpenCV cannot encode {ext}")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _motion(img: Image, length: float, rng: np.random.Generator) -> Image:
    k = int(round(length)) | 1
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def _disk(img: Image, radius: float, rng: np.random.Generator) -> Image:
    r = int(np.ceil(radius))
    kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.circle(kernel, (r, r), int(round(radius)), 1.0, -1)
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def _hsv(img: Image, channel: int, factor: float) -> Image:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., channel] = np.clip(hsv[..., channel] * factor, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _resample(img: Image, factor: float, up: int) -> Image:
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, int(w / factor)), max(1, int(h / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=up)


def _haze(img: Image, t: float, rng: np.random.Generator) -> Image:
    # Koschmieder's model with a constant transmission t and a bright, slightly blue airlight.
    airlight = np.array([225.0, 230.0, 240.0])
    return _clip(img * t + airlight * (1 - t))


#: type -> (function(image, level value, rng), five level values, mild to severe)
TYPES: dict[str, tuple[Callable[[Image, float, np.random.Generator], Image], tuple[float, ...]]] = {
    "gaussian blur": (lambda im, s, r: cv2.GaussianBlur(im, (0, 0), s, borderType=cv2.BORDER_REFLECT),
                      (0.8, 1.5, 2.5, 4.0, 6.0)),
    "motion blur (linear, random angle)": (_motion, (5, 9, 15, 23, 33)),
    "defocus (disk)": (_disk, (1.5, 2.5, 4.0, 6.0, 9.0)),
    "white noise": (lambda im, s, r: _clip(im + r.normal(0, s, im.shape)), (5, 10, 18, 28, 40)),
    "salt and pepper": (lambda im, p, r: np.where(r.random(im.shape[:2] + (1,)) < p,
                                                  (r.random(im.shape[:2] + (1,)) < 0.5) * 255, im).astype(np.uint8),
                        (0.002, 0.008, 0.02, 0.05, 0.1)),
    "JPEG (OpenCV)": (lambda im, q, r: _encode(im, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(q)]),
                      (50, 30, 18, 10, 4)),
    "JPEG 2000 (OpenCV)": (lambda im, x, r: _encode(im, ".jp2", [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, int(x)]),
                           (120, 60, 30, 15, 7)),
    "pixelate": (lambda im, f, r: _resample(im, f, cv2.INTER_NEAREST), (2, 3, 5, 8, 12)),
    "down-up resample (bicubic)": (lambda im, f, r: _resample(im, f, cv2.INTER_CUBIC), (1.5, 2, 3, 4, 6)),
    "contrast down (towards grey)": (lambda im, a, r: cv2.addWeighted(im, a, np.full_like(im, 128), 1 - a, 0),
                                     (0.8, 0.6, 0.45, 0.3, 0.18)),
    "brighter (gain, clipped)": (lambda im, g, r: cv2.convertScaleAbs(im, alpha=g, beta=0), (1.2, 1.45, 1.8, 2.3, 3.0)),
    "darker (gamma)": (lambda im, g, r: _clip(255 * (im / 255.0) ** g), (1.4, 1.9, 2.6, 3.5, 4.8)),
    "saturation down (HSV)": (lambda im, f, r: _hsv(im, 1, f), (0.7, 0.5, 0.32, 0.18, 0.05)),
    "saturation up (HSV)": (lambda im, f, r: _hsv(im, 1, f), (1.4, 1.9, 2.5, 3.3, 4.5)),
    "posterise (bits per channel)": (lambda im, b, r: (im >> int(8 - b)) << int(8 - b), (5, 4, 3, 2, 1)),
    "haze": (_haze, (0.85, 0.7, 0.55, 0.4, 0.28)),
    "over-sharpen (unsharp mask)": (lambda im, a, r: cv2.addWeighted(im, 1 + a, cv2.GaussianBlur(im, (0, 0), 2.0),
                                                                      -a, 0),
                                    (1.0, 2.0, 3.5, 5.5, 8.0)),
}


def versions(photo: Image, kind: str, seed: int) -> list[Image]:
    fn, levels = TYPES[kind]
    return [photo] + [fn(photo, v, np.random.default_rng([seed, i])) for i, v in enumerate(levels)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--pooling", nargs="*", default=[None], help="poolings to compare (default: each checkpoint's)")
    ap.add_argument("--crops", nargs="*", type=int, default=[None],
                    help="paper-protocol crop counts to compare (default: each checkpoint's)")
    ap.add_argument("--refs", type=Path, default=ROOT.parent / "shared" / "data" / "refs")
    ap.add_argument("--extra", type=Path, default=ROOT.parent / "shared" / "data" / "refs_extra")
    ap.add_argument("--photos", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    import torch

    torch.set_num_threads(args.threads)
    photos = unseen_photos(args.refs, args.extra)[: args.photos]
    images = [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for p in photos]
    columns = {}
    for model, pooling, crops in [(m, q, n) for m in args.models for q in args.pooling for n in args.crops]:
        scorer = load_model(model, device="cpu", pooling=pooling, num_crops=crops)
        label = f"`{scorer.name}`" + (f", {scorer.pooling}" if pooling else "") + (f", {crops} crops" if crops else "")
        acc = {}
        for kind in TYPES:
            ok = total = 0
            for i, photo in enumerate(images):
                s = scorer.score(versions(photo, kind, i))
                for a, b in combinations(range(len(s)), 2):  # a is the less distorted
                    ok += int(s[a] > s[b])
                    total += 1
            acc[kind] = ok / total
        columns[label] = acc
        print(f"{label} done", file=sys.stderr)
    print(f"## Within-photo pair accuracy, {len(TYPES)} distortion types written with OpenCV, {len(images)} unseen "
          f"photos x 5 levels + clean, whole photos scored as a user would\n")
    print("| type | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for kind in TYPES:
        print(f"| {kind} | " + " | ".join(f"{c[kind]:.3f}" for c in columns.values()) + " |")
    print("| **mean** | " + " | ".join(f"**{np.mean(list(c.values())):.3f}**" for c in columns.values()) + " |")
    print("| types under 0.85 | " + " | ".join(str(sum(v < 0.85 for v in c.values())) for c in columns.values()) + " |")
    if args.json:
        args.json.write_text(json.dumps(columns, indent=2))


if __name__ == "__main__":
    main()
