"""Regenerate a LIVE release-2 replica from its reference images and parameters.

LIVE's distorted images are not redistributed, but the per-image parameters
and human scores are (``../shared/data/live/live_train_refs.csv``). Following
the recipe that reproduces LIVE's published PSNR/SSIM correlations:

- ``gblur``: 2-D Gaussian of the given sigma, zero padding (MATLAB ``imfilter``);
- ``wn``: N(0, sigma^2) added to each RGB channel on [0, 1], clipped (seeded per file);
- ``jpeg``: Pillow JPEG 4:2:0, standard tables, the integer quality whose size
  ``8 * bytes / (W * H)`` is closest to the bit rate;
- ``jp2k``: Pillow/OpenJPEG irreversible 9/7, mct=1, one layer, the rate
  bisected until the file meets the bit rate;
- ``fastfading`` (a wireless channel simulation) cannot be reproduced and is skipped.

Output: ``OUT/<type>/<LIVE file name>.png`` and ``OUT/dmos.csv``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from rankiqa.train.distortions import decode_rgb, gaussian_blur
from rankiqa.train.ranking_data import read_rgb

__all__ = ["REPLICA_TYPES", "distort_like_live", "build_live_replica"]

REPLICA_TYPES = ("jp2k", "jpeg", "wn", "gblur")


def _jpeg_at_bpp(image: np.ndarray, bpp: float) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    best = None
    for q in range(1, 101):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "JPEG", quality=q, subsampling=2)
        got = 8 * buf.tell() / (w * h)
        if best is None or abs(got - bpp) < abs(best[1] - bpp):
            best = (buf.getvalue(), got)
        if got > bpp * 1.5:
            break
    data, got = best
    return decode_rgb(data), got


def _jp2k_at_bpp(image: np.ndarray, bpp: float, tol: float = 0.01) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]

    def encode(ratio: float) -> tuple[bytes, float]:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "JPEG2000", quality_mode="rates", quality_layers=[ratio],
                                    irreversible=True, mct=1)
        return buf.getvalue(), 8 * buf.tell() / (w * h)

    lo, hi = np.log(24.0 / bpp) - 1.0, np.log(24.0 / bpp) + 1.0  # log compression ratio
    best = encode(float(np.exp((lo + hi) / 2)))
    for _ in range(20):
        mid = (lo + hi) / 2
        data, got = encode(float(np.exp(mid)))
        if abs(got - bpp) < abs(best[1] - bpp):
            best = (data, got)
        if abs(got - bpp) / bpp < tol:
            break
        if got > bpp:
            lo = mid
        else:
            hi = mid
    data, got = best
    return decode_rgb(data), got


def distort_like_live(image: np.ndarray, dist_type: str, param: float, seed: int = 0) -> np.ndarray:
    """One LIVE distortion with LIVE's own parameter (bpp, noise sigma or blur sigma)."""
    if dist_type == "gblur":
        return gaussian_blur(image, float(param), mode="zero")
    if dist_type == "wn":
        rng = np.random.default_rng(seed)
        x = image.astype(np.float32) / 255.0 + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(param)
        return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
    if dist_type == "jpeg":
        return _jpeg_at_bpp(image, float(param))[0]
    if dist_type == "jp2k":
        return _jp2k_at_bpp(image, float(param))[0]
    raise ValueError(f"cannot replicate LIVE distortion {dist_type!r}; replicable: {', '.join(REPLICA_TYPES)}")


def _seed(name: str) -> int:
    return int.from_bytes(name.encode()[-8:].rjust(8, b"\0"), "little") % (2**32)


def build_live_replica(refs: str | Path, params: str | Path, out: str | Path, refs_only: list[str] | None = None,
                       progress: bool = True) -> Path:
    """Write the replica and ``dmos.csv`` (file, ref, dist_type, param, dmos, dmos_realigned).

    Existing images are kept (a rerun resumes). ``refs_only`` restricts to some references.
    """
    refs, out = Path(refs), Path(out)
    with open(params, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["dist_type"] in REPLICA_TYPES]
    if refs_only:
        rows = [r for r in rows if r["ref"] in refs_only]
    if not rows:
        raise ValueError(f"{params}: no replicable rows")
    missing = sorted({r["ref"] for r in rows if not (refs / r["ref"]).is_file()})
    if missing:
        raise FileNotFoundError(f"reference images missing in {refs}: {', '.join(missing)}")
    cache: dict[str, np.ndarray] = {}
    table = []
    for r in tqdm(rows, disable=not progress, desc="live-replica", unit="img"):
        rel = Path(r["dist_type"]) / (Path(r["dist_name"]).stem + ".png")
        target = out / rel
        if not target.exists():
            if r["ref"] not in cache:
                cache[r["ref"]] = read_rgb(refs / r["ref"])
            img = distort_like_live(cache[r["ref"]], r["dist_type"], float(r["param"]), _seed(r["dist_name"]))
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            Image.fromarray(img).save(tmp, format="PNG")
            os.replace(tmp, target)
        table.append({"file": rel.as_posix(), "ref": r["ref"], "dist_type": r["dist_type"], "param": r["param"],
                      "dmos": r["dmos"], "dmos_realigned": r["dmos_realigned"]})
    index = out / "dmos.csv"
    with open(index, "w", newline="") as f:
        w = csv.DictWriter(f, list(table[0]))
        w.writeheader()
        w.writerows(table)
    return index


def psnr_scores(dataset, refs_dir: str | Path | None) -> list[float]:
    """Full-reference PSNR of each replica image against its reference (a sanity baseline)."""
    if refs_dir is None:
        raise ValueError("--psnr-baseline needs --refs-dir (the LIVE reference images)")
    refs: dict[str, np.ndarray] = {}
    out = []
    for s in dataset.samples:
        if s.ref not in refs:
            refs[s.ref] = read_rgb(Path(refs_dir) / s.ref).astype(np.float64)
        x = read_rgb(s.path).astype(np.float64)
        mse = np.mean((x - refs[s.ref]) ** 2)
        out.append(10 * np.log10(255.0**2 / max(mse, 1e-10)))
    return out
