"""Where a network fails its teacher: accuracy on the teacher's quality-discriminable pairs, per family.

The teacher hinge (``--teacher``) orders any two items of a training batch that
the full-reference teachers agree on. This bench builds batches as training
does (``--groups`` ranked groups of random photos and families, 128-px crops)
on the held-out photos of :mod:`bench.broad_eval`, and counts, per family, how
often a model orders those pairs as the teacher does. A pair counts for both of
its items' families (``clean`` for level 0), so a low row names a family whose
place on the common scale the network has not learned: on KADID's human scale
(:mod:`bench.kadid_scale`) those are the types it misplaces when the teacher
places them right. Every model sees the same batches. ``--photos training`` builds
them from as many of the training photos instead: the gap between the two is how
much of a network's fit is its training content's.

    python bench/teacher_fit.py --models default runs/slim-broad14/model.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from broad_eval import _label, load_network, unseen_photos  # noqa: E402
from rankiqa.train.losses import teacher_pairs  # noqa: E402
from rankiqa.train.ranking_data import RankedGroups  # noqa: E402
from rankiqa.train.teacher import UNITS, resolve_teachers  # noqa: E402
from rankiqa.train.trainer import split_refs  # noqa: E402


def make_batches(dataset: RankedGroups, num_batches: int, groups: int, seed: int
                 ) -> list[tuple[torch.Tensor, list[str], torch.Tensor]]:
    """``(uint8 images, family of each item, teacher scores)`` of each batch."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num_batches):
        images, families, teacher = [], [], []
        for item in rng.integers(0, len(dataset), groups):
            x, levels, t = dataset[(int(item), int(rng.integers(1 << 30)))]
            family = dataset.families[int(item) % len(dataset.families)]
            images.append(x)
            teacher.append(t)
            families += [family if lv else "clean" for lv in levels.tolist()]
        out.append((torch.cat(images), families, torch.cat(teacher)))
    return out


@torch.inference_mode()
def batch_scores(model: torch.nn.Module, batches) -> list[torch.Tensor]:
    """The model's score of every item of every batch, scored once for both tables."""
    return [model(images.float().div_(255.0)).float().flatten() for images, _, _ in batches]


def family_accuracy(scores: list[torch.Tensor], batches, units: torch.Tensor, gap: float
                    ) -> dict[str, tuple[float, int]]:
    """Per family (and ``ALL``): share of the teacher's pairs the model orders the same way, and their number."""
    total, right = Counter(), Counter()
    for s, (_, families, teacher) in zip(scores, batches):
        better, worse = teacher_pairs(teacher, units, gap)
        for i, j, ok in zip(better.tolist(), worse.tolist(), (s[better] > s[worse]).tolist()):
            for f in {families[i], families[j]}:
                total[f] += 1
                right[f] += ok
            total["ALL"] += 1
            right["ALL"] += ok
    return {f: (right[f] / total[f], total[f]) for f in total}


def clean_spread(scores: list[torch.Tensor], batches) -> tuple[float, float]:
    """(standard deviation of the clean crops' scores, median drop from a group's clean crop to its severest level).

    Every clean crop is pristine by assumption, so their spread is content bias; the
    ratio of the two says how far content alone moves a crop, in units of the whole
    range a distortion spans.
    """
    clean, drops = [], []
    for s, (_, families, _) in zip(scores, batches):
        s = s.tolist()
        starts = [i for i, f in enumerate(families) if f == "clean"] + [len(families)]
        for a, b in zip(starts, starts[1:]):
            clean.append(s[a])
            drops.append(s[a] - s[b - 1])
    return float(np.std(clean)), float(np.median(drops))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True, help="checkpoint files or manifest ids")
    p.add_argument("--refs", type=Path, default=ROOT.parent / "shared" / "data" / "refs")
    p.add_argument("--extra", type=Path, default=ROOT.parent / "shared" / "data" / "refs_extra")
    p.add_argument("--set", default="broad,kadid_color_diffusion_gain")
    p.add_argument("--teacher", default="haarpsi")
    p.add_argument("--gap", type=float, default=1.0, help="the teacher gap in units, as --teacher-gap")
    p.add_argument("--batches", type=int, default=150)
    p.add_argument("--groups", type=int, default=6)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--photos", choices=["unseen", "training"], default="unseen",
                   help="the held-out photos, or as many of the default's training photos (how much of the fit "
                        "is the training content's)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = resolve_teachers(args.teacher)
    units = torch.tensor([UNITS[n] for n in names])
    photos = unseen_photos(args.refs, args.extra)
    if args.photos == "training":
        train, _ = split_refs([str(args.refs), str(args.extra)], [], 0.1)
        photos = [train[i] for i in np.random.default_rng(0).choice(len(train), len(photos), replace=False)]
    dataset = RankedGroups(photos, args.set, args.crop, seed=99, teachers=names)
    batches = make_batches(dataset, args.batches, args.groups, seed=0)
    print(f"{len(batches)} batches ready", file=sys.stderr, flush=True)
    results, spreads = {}, {}
    for m in args.models:
        model, _ = load_network(m)
        scores = batch_scores(model.eval(), batches)
        results[_label(m)] = family_accuracy(scores, batches, units, args.gap)
        spreads[_label(m)] = clean_spread(scores, batches)
        print(f"done {m}", file=sys.stderr, flush=True)
    first = results[next(iter(results))]
    rows = sorted(first, key=lambda f: (f != "ALL", first[f][0]))
    print(f"## Accuracy on the teacher's pairs (`{args.teacher}`, gap {args.gap} units) in {args.batches} batches of "
          f"{args.groups} groups on {len(dataset.refs)} {args.photos} photos, per family "
          "(pairs counted for both items)\n")
    print("| family | pairs | " + " | ".join(f"`{n}`" for n in results) + " |")
    print("|---" * (len(results) + 2) + "|")
    for f in rows:
        print(f"| {f} | {first[f][1]} | " + " | ".join(f"{r[f][0]:.3f}" for r in results.values()) + " |")
    print(f"\n## Clean crops by content: the {sum(f == 'clean' for b in batches for f in b[1])} clean crops of those "
          "batches (pristine by assumption, so any spread is content), against each group's drop from clean to its "
          "severest level\n")
    print("| model | clean crops: score std | clean minus severest: median | ratio |\n|---|---|---|---|")
    for n, (std, drop) in spreads.items():
        print(f"| `{n}` | {std:.2f} | {drop:.2f} | {std / drop:.2f} |")
    if args.json:
        out = {n: {f: v[0] for f, v in r.items()} for n, r in results.items()}
        for n, (std, drop) in spreads.items():
            out[n]["clean_std"], out[n]["clean_to_severest"] = std, drop
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
