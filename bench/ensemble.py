"""An ensemble of checkpoints (the mean of their calibrated logits) off LIVE: KADID's scale, the OpenCV types.

``bench/live_unseen.py --mix`` showed that the broad default and the LIVE-only network, averaged, beat both on
LIVE's four types on unseen photos. This bench scores the same ensemble on the versions of
``bench/kadid_scale.py --levels kadid`` (SROCC against KADID's DMOS per photo, and all photos in one ranking) and of
``bench/independent.py`` (within-photo pair accuracy of 17 OpenCV-written types), with the same photos and seeds,
each model alone and the mean of their logits.

    python bench/ensemble.py --models vgg16_slim.rank-broad-haarpsi vgg16_slim.rank-live-wide-cross [--crops 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import independent  # noqa: E402
import kadid_scale  # noqa: E402
from broad_eval import unseen_photos  # noqa: E402
from live_unseen import calibrated_logit  # noqa: E402
from rankiqa.api import load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", required=True, help="calibrated checkpoints (manifest ids)")
    ap.add_argument("--crops", type=int, default=None, help="every model's paper-protocol crop count (default: own)")
    ap.add_argument("--photos", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    scorers = {m: load_model(m, device="cpu", num_crops=args.crops) for m in args.models}
    if any(s.calibration is None for s in scorers.values()):
        sys.exit("every model needs a calibration (0-100 scores) to share one scale")
    photos = unseen_photos(ROOT.parent / "shared/data/refs", ROOT.parent / "shared/data/refs_extra")[: args.photos]

    labels = ROOT.parent / "shared/data/labels/meta_info_KADID10kDataset.csv"
    table = kadid_scale.mean_table(kadid_scale.kadid_dmos(labels))
    keys = [(f, lv) for f in kadid_scale.KADID_TYPES for lv in kadid_scale.LEVELS]
    target = [table[(kadid_scale.KADID_TYPES[f], lv)] for f, lv in keys]
    kadid: dict[str, list[np.ndarray]] = {m: [] for m in scorers}
    for i, p in enumerate(photos):
        clean = np.array(Image.open(p).convert("RGB"))
        versions = [kadid_scale.distort(f, clean, lv, 100 * i + kadid_scale.KADID_TYPES[f], "kadid") for f, lv in keys]
        for m, s in scorers.items():
            kadid[m].append(calibrated_logit(s.score(versions)))
    print("KADID versions scored", file=sys.stderr)
    images = [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for p in photos]
    opencv: dict[str, dict[str, list[np.ndarray]]] = {m: {k: [] for k in independent.TYPES} for m in scorers}
    for kind in independent.TYPES:
        for i, im in enumerate(images):
            versions = independent.versions(im, kind, i)
            for m, s in scorers.items():
                opencv[m][kind].append(calibrated_logit(s.score(versions)))

    rows = {f"`{m}`": [m] for m in scorers} | {"mean calibrated logit": list(scorers)}
    result = {}
    print(f"## Each model and their ensemble on {len(photos)} unseen photos"
          + (f", {args.crops} crops each" if args.crops else ", each model's own protocol") + "\n")
    print("| scorer | KADID stand-in: mean SROCC (all photos in one ranking) | OpenCV types: mean pair accuracy "
          "(lowest) | types under 0.85 |\n|---|---|---|---|")
    for label, members in rows.items():
        per_photo = [np.mean([kadid[m][i] for m in members], axis=0) for i in range(len(photos))]
        k_mean = float(np.mean([spearmanr(s, target)[0] for s in per_photo]))
        k_all = float(spearmanr(np.concatenate(per_photo), np.tile(target, len(photos)))[0])
        acc = {}
        for kind in independent.TYPES:
            pairs = [(s[a] > s[b]) for i in range(len(images))
                     for s in [np.mean([opencv[m][kind][i] for m in members], axis=0)]
                     for a, b in combinations(range(len(s)), 2)]  # a is the less distorted
            acc[kind] = float(np.mean(pairs))
        low = min(acc, key=acc.get)
        result[label] = {"kadid_mean": k_mean, "kadid_all_photos": k_all, "opencv": acc}
        print(f"| {label} | {k_mean:.3f} ({k_all:.3f}) | {np.mean(list(acc.values())):.3f} ({low} {acc[low]:.3f}) | "
              f"{sum(v < 0.85 for v in acc.values())} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
