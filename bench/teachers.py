"""Choosing the full-reference teachers: how well each agrees with people, what it costs, its spread.

Two tables, measured in one run:

1. On the LIVE replica (real human DMOS), the SROCC of each teacher against
   DMOS per type and over all types, next to the values published for LIVE
   (the metrics' own papers / the piq benchmark), and its cost per 128 px crop.
2. On ranked groups of a distortion set (128 px crops of the training photos),
   each teacher's standard deviation, the basis of ``rankiqa.train.teacher.UNITS``,
   and how often the teachers agree on the order of two random items.
3. Per family, how far each teacher falls from the clean crop to the family's
   severest level, in its UNITS: a family where a teacher falls by less than
   one unit is one that teacher barely sees, so the teacher hinge ranks its
   severest versions near clean photos of other scenes (``--sensitivity-photos``).

    python bench/teachers.py --replica runs/live_replica --refs ../shared/data/refs --set broad
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.train.datasets import load_live_replica  # noqa: E402
from rankiqa.train.ranking_data import GroupBatchSampler, RankedGroups, read_rgb  # noqa: E402
from rankiqa.train.teacher import TEACHERS, UNITS, teacher_scores  # noqa: E402
from rankiqa.train.trainer import split_refs  # noqa: E402

# SROCC over all of LIVE as published (Zhang et al. TIP 2014 for GMSD and the
# FSIM/VIF/MS-SSIM baselines; Reisenhofer et al. 2018 for HaarPSI; MS-GMSD:
# Zhang et al. 2017); PSNR is the classic 0.876.
# MDSI: Nafchi et al. 2016; VSI: Zhang et al. 2014.
PUBLISHED_LIVE = {"gmsd": 0.960, "ms_gmsd": 0.968, "haarpsi": 0.968, "fsim": 0.963, "vif": 0.964, "psnr": 0.876,
                  "mdsi": 0.966, "vsi": 0.952}


def _tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(read_rgb(path).copy()).permute(2, 0, 1).float().div_(255.0)


def replica_table(replica: Path, live_refs: Path, names: list[str]) -> None:
    data = load_live_replica(replica)
    refs = {p.stem: p for p in live_refs.glob("*.png")}
    by_ref: dict[str, list] = {}
    for s in data.samples:
        by_ref.setdefault(s.ref, []).append(s)
    values = {n: [] for n in names}
    spent = {n: 0.0 for n in names}
    dmos, types = [], []
    for ref, samples in by_ref.items():
        ref_t = _tensor(refs[Path(ref).stem])
        for s in samples:
            x = _tensor(s.path)
            for n in names:
                t = time.perf_counter()
                values[n].append(float(teacher_scores(x[None], ref_t, [n])[0, 0]))
                spent[n] += time.perf_counter() - t
            dmos.append(s.score)
            types.append(s.dist_type)
    dmos_a, types_a = np.array(dmos), np.array(types)
    kinds = sorted(set(types))
    print(f"## Teachers on the LIVE replica ({len(dmos)} images, SROCC against realigned DMOS)\n")
    print("| teacher | " + " | ".join(kinds) + " | all | published (LIVE, all) | ms / image (full size) |")
    print("|---" * (len(kinds) + 4) + "|")
    for n in names:
        v = -np.array(values[n])  # higher = better -> correlate with DMOS (lower = better)
        per = [stats.spearmanr(v[types_a == k], dmos_a[types_a == k])[0] for k in kinds]
        allr = stats.spearmanr(v, dmos_a)[0]
        published = PUBLISHED_LIVE.get(n, float("nan"))
        print(f"| {n} | " + " | ".join(f"{r:.3f}" for r in per) + f" | **{allr:.3f}** | {published:.3f} | "
              f"{1000 * spent[n] / len(dmos):.0f} |", flush=True)
    print()


def spread_table(refs: list[str], family_set: str, names: list[str], groups: int, crop: int) -> None:
    train, _ = split_refs(refs, [], 0.1)
    data = RankedGroups(train, family_set, crop, seed=0, teachers=names)
    sampler = GroupBatchSampler(len(data), 8, seed=5)
    cols, t0 = [], time.perf_counter()
    for k in range(groups // 8):
        for idx in sampler.batch(k):
            cols.append(data[idx][2][1:])  # distorted versions only: the clean crop is perfect by definition
    per_group = (time.perf_counter() - t0) / groups
    t = torch.cat(cols).numpy()
    print(f"## Teacher spread over {groups} ranked groups of `{family_set}` ({crop} px crops, distorted versions)\n")
    print("| teacher | mean | std | UNITS (in use) |")
    print("|---|---|---|---|")
    for j, n in enumerate(names):
        print(f"| {n} | {t[:, j].mean():.4f} | {t[:, j].std():.4f} | {UNITS[n]} |")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(t), 20000), rng.integers(0, len(t), 20000)
    sign = np.sign(t[a] - t[b])
    agree = np.mean(np.all(sign == sign[:, :1], axis=1))
    print(f"\nAll {len(names)} teachers order two random items the same way in {agree:.1%} of pairs. "
          f"Synthesis + teachers: {1000 * per_group:.0f} ms per group.\n")
    if len(names) > 1:
        rho = np.atleast_2d(stats.spearmanr(t).statistic)
        if rho.size == 1:  # two teachers: scipy returns the one coefficient
            rho = np.array([[1.0, rho.item()], [rho.item(), 1.0]])
        print("Spearman between teachers over these items: " + ", ".join(
            f"{names[i]}/{names[j]} {rho[i, j]:.3f}" for i in range(len(names)) for j in range(i + 1, len(names))))


def sensitivity_table(refs: list[str], family_set: str, names: list[str], photos: int, crop: int) -> None:
    train, _ = split_refs(refs, [], 0.1)
    rng = np.random.default_rng(0)
    chosen = [train[i] for i in rng.choice(len(train), size=min(photos, len(train)), replace=False)]
    data = RankedGroups(chosen, family_set, crop, seed=0, teachers=names)
    units = np.array([UNITS[n] for n in names])
    drops: dict[str, list[np.ndarray]] = {f: [] for f in data.families}
    for item in range(len(data)):
        t = data[(item, item)][2].numpy()
        drops[data.families[item % len(data.families)]].append((t[0] - t[-1]) / units)
    print(f"\n## Teacher fall from clean to the severest level, in UNITS ({len(chosen)} training photos, "
          f"{crop} px crops; median over photos; lowest first)\n")
    print("| family | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    med = {f: np.median(np.stack(v), axis=0) for f, v in drops.items()}
    for f in sorted(med, key=lambda f: med[f].min()):
        print(f"| {f} | " + " | ".join(f"{x:.2f}" for x in med[f]) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replica", default=None, help="LIVE replica folder (python -m rankiqa.train live-replica)")
    p.add_argument("--live-refs", default=str(ROOT.parent / "shared" / "data" / "live" / "refs"),
                   help="LIVE's reference images (the replica's clean photos)")
    p.add_argument("--refs", nargs="+", default=[str(ROOT.parent / "shared" / "data" / "refs")])
    p.add_argument("--set", default="broad")
    p.add_argument("--teachers", default=",".join(TEACHERS))
    p.add_argument("--spread-teachers", default="ms_gmsd,gmsd,haarpsi,vif,psnr")
    p.add_argument("--groups", type=int, default=160)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--sensitivity-photos", type=int, default=12)
    p.add_argument("--sensitivity-teachers", default="ms_gmsd,haarpsi", help="the default checkpoint's teachers")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    Image.MAX_IMAGE_PIXELS = None
    if args.replica:
        replica_table(Path(args.replica), Path(args.live_refs), args.teachers.split(","))
    spread_table(args.refs, args.set, args.spread_teachers.split(","), args.groups, args.crop)
    if args.sensitivity_photos > 0:
        sensitivity_table(args.refs, args.set, args.sensitivity_teachers.split(","), args.sensitivity_photos,
                          args.crop)


if __name__ == "__main__":
    main()
