"""How should crop scores pool into one image score? Candidate weightings on the same crops.

Every image is cut into the checkpoint's ``paper`` crops once; each crop's score and a few
statistics (fine and coarse luminance activity, mean luminance, clipped fraction, contrast)
are kept, and each candidate weighting is then applied to those same scores, so the
columns differ by the pooling alone. Measured: SROCC on the LIVE replica (per type and
all), within-photo pair accuracy over the levels of every family of ``--set`` on held-out
photos (whole distorted photos, as :mod:`bench.protocols`), and the cross-type SROCC of
those photos against the full-reference teachers. ``activity`` is what
``rankiqa.protocols`` implements (``pooling="activity"``); the others are its variants.

    python bench/pooling.py --model default --replica runs/live_replica --photos 8 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from protocols import add_data_args, held_out_images  # noqa: E402
from rankiqa._argparse import positive_int  # noqa: E402
from rankiqa.api import load_model  # noqa: E402
from rankiqa.io import load_image  # noqa: E402
from rankiqa.protocols import ACTIVITY_FLOOR, PAPER_SEED, activity_weights, make_crops  # noqa: E402
from rankiqa.train.datasets import load_dataset  # noqa: E402
from rankiqa.train.distortions import resolve_set  # noqa: E402
from rankiqa.train.teacher import UNITS, teacher_scores  # noqa: E402

# Columns of the per-crop statistics array.
ACT, COARSE, MEAN, CLIP, STD = range(5)


def _weber(f: np.ndarray) -> np.ndarray:
    return f[:, ACT] / (f[:, MEAN] + 0.05)


#: name -> (per-crop statistics [n, 5] -> weights [n]).
CANDIDATES = {
    "mean": lambda f: np.ones(len(f)),
    "activity": lambda f: f[:, ACT] + ACTIVITY_FLOOR,
    "sqrt activity": lambda f: np.sqrt(f[:, ACT] + ACTIVITY_FLOOR),
    "activity + its image mean": lambda f: f[:, ACT] + f[:, ACT].mean() + ACTIVITY_FLOOR,
    "coarse activity (4x4 means)": lambda f: f[:, COARSE] + ACTIVITY_FLOOR,
    "Weber activity (/ mean luminance)": lambda f: _weber(f) + ACTIVITY_FLOOR,
    "activity, clipped pixels at the image mean": lambda f: ((1 - f[:, CLIP]) * f[:, ACT]
                                                             + f[:, CLIP] * f[:, ACT].mean() + ACTIVITY_FLOOR),
    "contrast (luminance std)": lambda f: f[:, STD] + ACTIVITY_FLOOR,
}


def crop_stats(scorer, image: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Scores (higher = better) and statistics of the checkpoint's paper crops of one image."""
    views = make_crops(image, "paper", scorer.crop_size, scorer.num_crops, PAPER_SEED).tensors
    with torch.inference_mode():
        scores = scorer.model(torch.stack(views).contiguous()).float().numpy()
    act = activity_weights(views)  # the implementation under test, floor included
    rows = []
    for c, a in zip(views, act):
        y = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
        yc = F.avg_pool2d(y[None, None], 4)[0, 0]
        coarse = ((yc[:, 1:] - yc[:, :-1]).abs().mean() + (yc[1:] - yc[:-1]).abs().mean()).item()
        clipped = ((c <= 1 / 255) | (c >= 254 / 255)).any(0).float().mean().item()
        rows.append((a - ACTIVITY_FLOOR, coarse, y.mean().item(), clipped, y.std().item()))
    return (1.0 if scorer.higher_is_better else -1.0) * scores, np.array(rows)


def evaluate(name: str, live: list[dict], held: list[dict]) -> dict:
    weigh = CANDIDATES[name]

    def pooled(items: list[dict]) -> np.ndarray:
        return np.array([np.average(o["s"], weights=weigh(o["f"])) for o in items])

    s, q = pooled(live), np.array([o["q"] for o in live])
    types = np.array([o["type"] for o in live])
    out = {"live_all": float(spearmanr(s, q)[0]),
           "live_type": {t: float(spearmanr(s[types == t], q[types == t])[0]) for t in sorted(set(types))}}
    groups: dict[tuple, list] = defaultdict(list)
    photo: dict[int, list] = defaultdict(list)
    for o, x in zip(held, pooled(held)):
        groups[(o["photo"], o["fam"])].append((o["level"], x))
        if o["level"] > 0 or o["first"]:  # the clean photo once per photo
            photo[o["photo"]].append((x, o["t"]))
    ok: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for (_, fam), g in groups.items():
        for (_, xa), (_, xb) in combinations(sorted(g), 2):  # a is the less distorted
            ok[fam] += int(xa > xb)
            total[fam] += 1
    out["pairs_all"] = sum(ok.values()) / sum(total.values())
    out["pairs_family"] = {f: ok[f] / total[f] for f in sorted(total)}
    out["cross_type"] = float(np.mean([spearmanr(*zip(*v))[0] for v in photo.values()]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(ap, photos=8, threads=1, photos_type=positive_int)  # its columns average over held-out photos
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    scorer = load_model(args.model, device="cpu", precision="float32")

    data = load_dataset(f"live-replica:{args.replica}")
    live = []
    for smp in data.samples:
        s, f = crop_stats(scorer, load_image(smp.path))
        live.append({"type": smp.dist_type, "q": smp.score if data.higher_is_better else -smp.score, "s": s, "f": f})
    print(f"LIVE replica done ({len(live)} images)", file=sys.stderr)
    teachers = ["ms_gmsd", "haarpsi"]
    units = torch.tensor([UNITS[t] for t in teachers])
    held, seen = [], set()
    for p_i, fam, versions in held_out_images(args.refs, args.photos, resolve_set(args.set)):
        t = (teacher_scores(torch.stack(versions), versions[0], teachers) / units).mean(dim=1).tolist()
        for level, v in enumerate(versions):
            s, f = crop_stats(scorer, v)
            held.append({"photo": p_i, "fam": fam, "level": level, "t": t[level], "s": s, "f": f,
                         "first": p_i not in seen})
        seen.add(p_i)
    print(f"held-out photos done ({len(held)} images)", file=sys.stderr)

    rows = {name: evaluate(name, live, held) for name in CANDIDATES}
    types = list(rows["mean"]["live_type"])
    print(f"Pooling of {scorer.name}'s {scorer.num_crops} paper crops (float32): LIVE replica ({len(live)} images); "
          f"{args.photos} held-out photos x the {args.set} set x levels 0-5, whole photos\n")
    print("| pooling | LIVE all | " + " | ".join(types) + " | held-out pair accuracy | weakest families "
          "| cross-type SROCC vs teachers |")
    print("|---|---|" + "---|" * len(types) + "---|---|---|")
    for name, r in rows.items():
        worst = sorted(r["pairs_family"].items(), key=lambda kv: kv[1])[:4]
        print(f"| {name} | {r['live_all']:.4f} | " + " | ".join(f"{r['live_type'][t]:.4f}" for t in types)
              + f" | {r['pairs_all']:.4f} | " + ", ".join(f"{k.removeprefix('kadid_')} {v:.2f}" for k, v in worst)
              + f" | {r['cross_type']:.4f} |")
    if args.json:
        args.json.write_text(json.dumps({"model": scorer.name, "photos": args.photos, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
