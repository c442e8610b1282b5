"""LIVE's protocol on photos that are not LIVE's: how a checkpoint's LIVE numbers hold on new content.

The issue's LIVE target is checked on LIVE photos outside the 23 of the replica. Those six
photos are not here, and the 23 have been used to choose checkpoints and pooling for twenty
sessions, so the replica's numbers may flatter. This bench applies LIVE's four replicable
distortions, at the parameters LIVE used (bit rate, noise and blur sigma; each unseen photo
borrows the parameter set of one LIVE reference in turn), to the 25 held-out photos that no
checkpoint trained on (``bench/broad_eval.unseen_photos``), and scores them as
``evaluate`` scores the replica: SROCC per type and over all types.

There are no human scores for these images. The targets are full-reference metrics against
the clean photo, which agree with LIVE's people at SROCC 0.97-0.98 per type on the replica
(``bench/teachers.py``, ``bench/results/teachers.md``: HaarPSI 0.975, MS-GMSD 0.972, VIF
0.967 over all types). HaarPSI is the default's training teacher, so its column may favour
networks taught by it; VIF never taught any of them. A row ``LIVE's DMOS at these
parameters`` scores each version by the human score LIVE's own image with those parameters
got: on unseen photos a scorer that knows the distortion's strength but not the content, for
scale (on the replica it is people's score itself, so its row there is each target's own
agreement with people).

The replica is scored beside them against the same targets and against its DMOS: where a
checkpoint's SROCC against a target is about its SROCC against people on the replica, the
target's column on unseen photos reads as an estimate of the human one there.

The generated images and the teachers' values are cached under ``--cache`` (about 2 minutes
to build once; JPEG 2000 rates are bisected like the replica's).

A second table splits each scorer's unseen-photo SROCC against HaarPSI (session 30): its mean inside one photo,
and over all photos with each photo's offset taken out. For the default both are near 1 where the first table
reads 0.88 (JPEG 2000, blur): it orders every photo's versions and misplaces whole photos, by what it thinks of
their content.

``--mix`` adds the models' ensemble, the mean of their calibrated logits (session 22: the broad
default and the LIVE-only ``rank-live-wide-cross`` err differently across content).

    python bench/live_unseen.py --models default runs/X/model.safetensors --pooling activity [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from broad_eval import unseen_photos  # noqa: E402
from kadid_scale import _teacher, scorer_and_label  # noqa: E402
from rankiqa.train.live_replica import REPLICA_TYPES, distort_like_live  # noqa: E402
from rankiqa.train.ranking_data import read_rgb  # noqa: E402

TARGETS = ("haarpsi", "ms_gmsd", "vif")
PARAM_ROW = "LIVE's DMOS at these parameters (the replica: people's own; unseen photos: content-blind)"
REPLICA = "LIVE replica (23 photos)"


def _add_targets(rows: list[dict], clean: np.ndarray, versions: list[np.ndarray]) -> None:
    for name in TARGETS:
        for row, v in zip(rows, _teacher(name, clean, versions).tolist()):
            row[name] = v


def _live_dmos(table: list[dict]) -> np.ndarray:
    """LIVE's DMOS of each row's parameters, turned to higher = better."""
    return -np.array([float(r["live_dmos"]) for r in table])


def _write(index: Path, table: list[dict]) -> list[dict]:
    tmp = index.with_name(index.name + ".part")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, list(table[0]))
        w.writeheader()
        w.writerows(table)
    os.replace(tmp, index)
    return table


def _cached(index: Path) -> list[dict] | None:
    if not index.is_file():
        return None
    with index.open(newline="") as f:
        return list(csv.DictReader(f))


def replica_rows(replica: Path, live_refs: Path, cache: Path) -> list[dict]:
    """The replica's rows (its DMOS as ``live_dmos``) with the same full-reference targets, cached."""
    index = cache / "replica_targets.csv"
    table = _cached(index)
    if table is not None:
        return table
    with (replica / "dmos.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    table = []
    for ref in sorted({r["ref"] for r in rows}):
        mine = [{"file": str(replica / r["file"]), "photo": ref, "dist_type": r["dist_type"], "param": r["param"],
                 "live_dmos": r["dmos_realigned"]} for r in rows if r["ref"] == ref]
        _add_targets(mine, read_rgb(live_refs / ref), [read_rgb(m["file"]) for m in mine])
        table += mine
    cache.mkdir(parents=True, exist_ok=True)
    return _write(index, table)


def build(cache: Path, photos: list[Path], params: Path) -> list[dict]:
    """Write every version as PNG under ``cache`` with ``index.csv``; reuse it when it is there."""
    index = cache / f"index_{len(photos)}.csv"  # the first n photos' versions are the same for any n
    table = _cached(index)
    if table is not None:
        return table
    with params.open(newline="") as f:
        live = [r for r in csv.DictReader(f) if r["dist_type"] in REPLICA_TYPES]
    by_ref: dict[str, list[dict]] = {}
    for r in live:
        by_ref.setdefault(r["ref"], []).append(r)
    lenders = sorted(by_ref)
    table = []
    for i, photo in enumerate(photos):
        clean = read_rgb(photo)
        lender = lenders[i % len(lenders)]
        versions, rows = [], []
        for j, r in enumerate(by_ref[lender]):
            img = distort_like_live(clean, r["dist_type"], float(r["param"]), seed=1000 * i + j)
            rel = f"{r['dist_type']}/{photo.stem}_{j:02d}.png"
            (cache / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(cache / rel)
            versions.append(img)
            rows.append({"file": rel, "photo": photo.name, "lender": lender, "dist_type": r["dist_type"],
                         "param": r["param"], "live_dmos": r["dmos_realigned"]})
        _add_targets(rows, clean, versions)
        table += rows
        print(f"{photo.name}: {len(rows)} versions (parameters of {lender})", file=sys.stderr)
    return _write(index, table)


def srocc_table(scores: np.ndarray, target: np.ndarray, types: np.ndarray) -> dict[str, float]:
    out = {t: float(spearmanr(scores[types == t], target[types == t])[0]) for t in REPLICA_TYPES}
    out["all"] = float(spearmanr(scores, target)[0])
    return out


def offset_split(scores: np.ndarray, target: np.ndarray, types: np.ndarray, photos: np.ndarray
                 ) -> dict[str, tuple[float, float]]:
    """Per type, how much of a scorer's miss is each photo's offset: ``(mean SROCC inside one photo, SROCC over
    all photos once each photo's mean residual from a straight-line fit on the target is taken out)``.

    Inside a photo a blind scorer only has to order versions of one scene; across photos its score also carries
    what it thinks of the content. Where the second number is near the first, the type's SROCC over photos is
    lost to content offsets, not to the distortion's order.
    """
    out = {}
    for t in REPLICA_TYPES:
        m = types == t
        x, y, ph = scores[m], target[m], photos[m]
        residual = x - np.polyval(np.polyfit(y, x, 1), y)
        offset = {p: residual[ph == p].mean() for p in set(ph)}
        within = np.mean([spearmanr(x[ph == p], y[ph == p])[0] for p in offset if (ph == p).sum() > 2])
        out[t] = (float(within), float(spearmanr(x - np.array([offset[p] for p in ph]), y)[0]))
    return out


def score_sets(sets: dict[str, list[dict]], models: list[str], pooling: str | None, crops: int | None,
               crop_size: int | None, cache: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per set, per scorer (``PARAM_ROW`` first), its scores of the set's images, higher = better."""
    out = {name: {PARAM_ROW: _live_dmos(table)} for name, table in sets.items()}
    for model in models:
        scorer, label = scorer_and_label(model, pooling, crops, crop_size)
        for name, table in sets.items():
            out[name][label] = np.asarray(scorer.score([cache / r["file"] for r in table]), dtype=float)
        print(f"{model} done", file=sys.stderr)
    return out


def calibrated_logit(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """0-100 calibrated scores back on their logistic's logit scale, where checkpoints average on one unit."""
    p = np.clip(np.asarray(scores, dtype=float) / 100, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def add_mix(scores: dict[str, dict[str, np.ndarray]], models: list[str]) -> None:
    """Per set, one more scorer: the mean of the models' calibrated logits, an ensemble on one human scale."""
    for by_label in scores.values():
        members = [s for label, s in by_label.items() if label != PARAM_ROW]
        if any(s.min() < 0 or s.max() > 100 for s in members):
            sys.exit("--mix needs calibrated checkpoints (0-100 scores); a run's model.safetensors has none")
        by_label[f"mean calibrated logit of {' + '.join(models)}"] = np.mean([calibrated_logit(s) for s in members],
                                                                            axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=["default"])
    ap.add_argument("--pooling", default=None, help="override every model's crop pooling (default: its own)")
    ap.add_argument("--crops", type=int, default=None, help="override every model's paper-protocol crop count")
    ap.add_argument("--crop-size", type=int, default=None,
                    help="override every model's crop size in pixels (a network trained on one size scored on another)")
    ap.add_argument("--refs", type=Path, default=ROOT.parent / "shared" / "data" / "refs")
    ap.add_argument("--extra", type=Path, default=ROOT.parent / "shared" / "data" / "refs_extra")
    ap.add_argument("--params", type=Path, default=ROOT.parent / "shared" / "data" / "live" / "live_train_refs.csv")
    ap.add_argument("--replica", type=Path, default=ROOT / "runs" / "live_replica",
                    help="the LIVE replica (README step 3), scored beside the unseen photos as the calibration")
    ap.add_argument("--live-refs", type=Path, default=ROOT.parent / "shared" / "data" / "live" / "refs")
    ap.add_argument("--photos", type=int, default=25)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "live_unseen")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--mix", action="store_true",
                    help="also score the models' ensemble: the mean of their calibrated logits")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if not (args.replica / "dmos.csv").is_file():
        sys.exit(f"{args.replica}: no LIVE replica (build it: python -m rankiqa.train live-replica ..., README step 3)")
    photos = unseen_photos(args.refs, args.extra)[: args.photos]
    unseen_set = f"{len(photos)} unseen photos"
    sets = {unseen_set: build(args.cache, photos, args.params),
            REPLICA: replica_rows(args.replica, args.live_refs, args.cache)}
    scores = score_sets(sets, args.models, args.pooling, args.crops, args.crop_size, args.cache)
    if args.mix:
        add_mix(scores, args.models)
    result: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    print("## LIVE's four types at LIVE's parameters: SROCC against people (the replica only) and against "
          "full-reference targets\n")
    print("| images | scorer | target | " + " | ".join(REPLICA_TYPES) + " | all |\n"
          + "|---" * (len(REPLICA_TYPES) + 4) + "|")
    for name, table in sets.items():
        types = np.array([r["dist_type"] for r in table])
        targets = {t: np.array([float(r[t]) for r in table]) for t in TARGETS}
        if name == REPLICA:
            targets = {"people (DMOS)": _live_dmos(table), **targets}
        result[name] = {}
        for label, s in scores[name].items():
            result[name][label] = {t: srocc_table(s, v, types) for t, v in targets.items()}
            for t, row in result[name][label].items():
                print(f"| {name} ({len(table)}) | {label} | {t} | "
                      + " | ".join(f"{row[k]:.3f}" for k in (*REPLICA_TYPES, "all")) + " |")
    types, names = (np.array([r[k] for r in sets[unseen_set]]) for k in ("dist_type", "photo"))
    haarpsi = np.array([float(r["haarpsi"]) for r in sets[unseen_set]])
    print("\n## Unseen photos against HaarPSI: SROCC inside one photo (mean) / over photos with each photo's "
          "offset taken out\n")
    print("| scorer | " + " | ".join(REPLICA_TYPES) + " |\n" + "|---" * (len(REPLICA_TYPES) + 1) + "|")
    offsets = {}
    for label, s in scores[unseen_set].items():
        offsets[label] = offset_split(s, haarpsi, types, names)
        print(f"| {label} | " + " | ".join("{:.3f} / {:.3f}".format(*offsets[label][t]) for t in REPLICA_TYPES)
              + " |")
    if args.json:
        args.json.write_text(json.dumps({"photos": [p.name for p in photos], "srocc": result,
                                         "within_photo_and_offsets_removed": offsets}, indent=2))


if __name__ == "__main__":
    main()
