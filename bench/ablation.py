"""Which training objective? The paper's loss, + the level-gap hinge, + the teacher hinge, at equal CPU time.

Same network, data (the ``broad`` set on the training photos), seed and
budget of thread-CPU seconds spent in training steps (batch synthesis and
teacher scores excluded, as in ``candidates.py``); each variant is measured on
held-out photos (pair accuracy within each family; cross-type SROCC against
the teachers over all families of a photo) and on the LIVE replica.

    python bench/ablation.py --replica runs/live_replica --cpu-seconds 480 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from candidates import live_report, train_equal_budget  # noqa: E402
from rankiqa.train.crosstype import cross_type_agreement  # noqa: E402
from rankiqa.train.ranking_data import RankedGroups  # noqa: E402
from rankiqa.train.trainer import PretrainConfig, evaluate_ranking, split_refs  # noqa: E402

VARIANTS = {
    "paper": {},
    "level_gap": {"cross_gap": 3},
    "teacher": {"teacher": "ms_gmsd,haarpsi", "teacher_gap": 1.0},
    "level_gap+teacher": {"cross_gap": 3, "teacher": "ms_gmsd,haarpsi", "teacher_gap": 1.0},
}
ARCH, KWARGS = "vgg16_slim", {"width": 0.125}


def run_variant(job: tuple) -> dict:
    name, refs, replica, family_set, cpu_seconds, groups, lr, crop, photos, warmup = job
    curriculum = {"warmup_families": "live_wide", "warmup_iters": warmup} if warmup else {}
    cfg = PretrainConfig(refs=refs, out="", families=family_set, margin=1.0, **curriculum, **VARIANTS[name])
    train_refs, held_refs = split_refs(refs, [], 0.1)
    model, it = train_equal_budget(cfg, train_refs, ARCH, KWARGS, crop, cpu_seconds, groups, lr)
    held = RankedGroups(held_refs, family_set, crop, seed=0)
    ev = evaluate_ranking(model, held, 4 * len(held.families), torch.device("cpu"))
    cross = cross_type_agreement(model, held_refs, family_set, crop_size=crop, max_photos=photos)
    rep = live_report(model, ARCH, KWARGS, crop, replica)
    return {"variant": name, "iterations": it, "pair_accuracy": ev["pair_accuracy"],
            "per_family_accuracy": ev["per_family_accuracy"], "cross_type_srocc": cross["srocc_mean"],
            "live": {t: rep["per_type"][t]["srocc"] for t in ("jp2k", "jpeg", "wn", "gblur")}
            | {"all": rep["all"]["srocc"]}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refs", nargs="+", default=[str(ROOT.parent / "shared" / "data" / "refs")])
    p.add_argument("--replica", required=True)
    p.add_argument("--set", default="broad")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--cpu-seconds", type=float, default=480.0)
    p.add_argument("--groups", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--photos", type=int, default=16, help="held-out photos in the cross-type SROCC")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--warmup-iters", type=int, default=0,
                   help="curriculum: the first N iterations on live_wide (as the default's recipe)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()
    jobs = [(v, args.refs, args.replica, args.set, args.cpu_seconds, args.groups, args.lr, args.crop, args.photos,
             args.warmup_iters) for v in args.variants.split(",")]
    warm = f", first {args.warmup_iters} iterations on live_wide" if args.warmup_iters else ""
    print(f"## Objective ablation: {args.cpu_seconds:.0f} CPU-s of training steps each, set {args.set}{warm}, "
          f"{ARCH} {KWARGS}, {args.crop} px, {args.groups} groups/batch, lr {args.lr}, margin 1\n")
    print("| variant | iterations | held-out pair acc | worst family (acc) | cross-type SROCC | "
          "LIVE jp2k | jpeg | wn | gblur | **all** |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    results = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(run_variant, jobs):
            worst = min(r["per_family_accuracy"].items(), key=lambda kv: kv[1])
            lv = r["live"]
            print(f"| {r['variant']} | {r['iterations']} | {r['pair_accuracy']:.4f} | {worst[0]} ({worst[1]:.3f}) | "
                  f"{r['cross_type_srocc']:.4f} | {lv['jp2k']:.3f} | {lv['jpeg']:.3f} | {lv['wn']:.3f} | "
                  f"{lv['gblur']:.3f} | **{lv['all']:.3f}** |", flush=True)
            results.append(r)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
