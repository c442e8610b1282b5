"""Offline generation of distorted images, and the contact-sheet preview."""

from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from rankiqa.train.distortions import LEVELS, apply_distortion, level_rng, resolve_set
from rankiqa.train.ranking_data import list_images, read_rgb

__all__ = ["synthesize", "contact_sheet"]


def _job_seed(seed: int, ref: str, family: str) -> list[int]:
    # Stable across runs and worker counts: derived from names, not order.
    return [seed] + list((ref + "|" + family).encode())


def _make_one(args: tuple[str, str, str, int, Sequence[tuple[int, str]]]) -> int:
    ref, root_out, family, seed, todo = args
    image = read_rgb(ref)
    job_seed = _job_seed(seed, Path(ref).name, family)
    rng = np.random.default_rng(job_seed)
    done = 0
    for level, rel in todo:
        target = Path(root_out) / rel
        out = apply_distortion(family, image, level, level_rng(family, job_seed, rng))
        if target.exists():  # already written by an earlier, interrupted run
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        Image.fromarray(out).save(tmp, format="PNG")
        os.replace(tmp, target)
        done += 1
    return done


def synthesize(refs: str | Path, families: str | Sequence[str], out: str | Path, workers: int = 0,
               seed: int = 0, progress: bool = True) -> Path:
    """Write every (photo, family, level) as lossless PNG under ``out`` plus ``index.csv``.

    Files are ``out/<family>/<level>/<photo stem>.png``; level 0 is the clean photo.
    A rerun skips files that exist (each is written to a temp name and renamed),
    and regenerates identical bytes for the rest: randomness is seeded per
    (photo, family), independent of order and worker count.
    """
    fams = resolve_set(families)
    photos = list_images(refs)
    if not photos:
        raise ValueError(f"no images found in {refs}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, jobs = [], []
    for ref in photos:
        for fam in fams:
            todo = []
            for level in range(len(LEVELS[fam]) + 1):
                rel = f"{fam}/{level}/{ref.stem}.png"
                rows.append({"ref": ref.name, "family": fam, "level": level, "file": rel})
                todo.append((level, rel))
            if any(not (out / rel).exists() for _, rel in todo):
                jobs.append((str(ref), str(out), fam, seed, todo))
    bar = tqdm(total=len(photos) * len(fams), initial=len(photos) * len(fams) - len(jobs),
               disable=not progress, desc="synthesize", unit="group")
    try:
        if workers > 0:
            with ProcessPoolExecutor(workers) as pool:
                for _ in pool.map(_make_one, jobs, chunksize=1):
                    bar.update(1)
        else:
            for job in jobs:
                _make_one(job)
                bar.update(1)
    finally:
        bar.close()
    index = out / "index.csv"
    with open(index, "w", newline="") as f:
        w = csv.DictWriter(f, ["ref", "family", "level", "file"])
        w.writeheader()
        w.writerows(rows)
    return index


def contact_sheet(image: np.ndarray, families: Iterable[str], thumb: int = 160, seed: int = 0) -> Image.Image:
    """Rows = families, columns = levels 0..L, each cell labelled (a centre crop of ``thumb`` px)."""
    fams = resolve_set(list(families))
    h, w = image.shape[:2]
    side = min(h, w, thumb * 2)
    y0, x0 = (h - side) // 2, (w - side) // 2
    max_levels = max(len(LEVELS[f]) for f in fams)
    label_w, pad, text_h = 190, 4, 14
    sheet = Image.new("RGB", (label_w + (max_levels + 1) * (thumb + pad), len(fams) * (thumb + text_h + pad) + text_h),
                      "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for col in range(max_levels + 1):
        draw.text((label_w + col * (thumb + pad), 0), f"level {col}", fill="black", font=font)
    for row, fam in enumerate(fams):
        y = text_h + row * (thumb + text_h + pad)
        draw.text((4, y + thumb // 2), fam, fill="black", font=font)
        for level in range(len(LEVELS[fam]) + 1):
            # Distort the full photo so large blurs and JPEG blocks look as they would.
            rng = level_rng(fam, [seed, row], np.random.default_rng([seed, row, level]))
            out = apply_distortion(fam, image, level, rng)
            tile = Image.fromarray(out[y0:y0 + side, x0:x0 + side]).resize((thumb, thumb), Image.Resampling.BOX)
            sheet.paste(tile, (label_w + level * (thumb + pad), y + text_h))
    return sheet
