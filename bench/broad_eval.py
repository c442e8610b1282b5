"""Checkpoints side by side on photos none of them trained on: pair accuracy per family, cross-type SROCC.

The held-out photos are those held out by the new recipe's split of
``refs + refs_extra`` *and* never trained on by a recipe over ``refs`` alone
(its own held-out 10%, or ``refs_extra``), so old and new checkpoints are
measured on photos that both have never seen.

    python bench/broad_eval.py --models vgg16_slim.rank-live-wide-cross runs/slim-broad/model.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.train.crosstype import cross_type_agreement  # noqa: E402
from rankiqa.train.distortions import resolve_set  # noqa: E402
from rankiqa.train.ranking_data import RankedGroups  # noqa: E402
from rankiqa.train.trainer import evaluate_ranking, split_refs  # noqa: E402
from rankiqa.weights.checkpoint import network_from_checkpoint  # noqa: E402
from rankiqa.weights.hub import resolve_checkpoint  # noqa: E402


def unseen_photos(refs: Path, extra: Path) -> list[Path]:
    _, held_new = split_refs([str(refs), str(extra)], [], 0.1)
    _, held_old = split_refs([str(refs)], [], 0.1)
    ok = set(held_old) | {p for p in held_new if extra in p.parents}
    return [p for p in held_new if p in ok]


class _Negated(torch.nn.Module):
    """A checkpoint whose output is lower = better (DMOS, ``*.live``) turned to higher = better, as scoring does."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.net(x)


def load_network(model: str) -> tuple[torch.nn.Module, dict]:
    """A checkpoint file or manifest id as a network scoring higher = better, with its card."""
    net, card = network_from_checkpoint(resolve_checkpoint(model)[0])
    return (net if card.get("higher_is_better", True) else _Negated(net)), card


def _label(model: str) -> str:
    """Column name: a manifest id, or a run folder for its ``model.safetensors``."""
    path = Path(model)
    return path.parent.name if path.name == "model.safetensors" else path.name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True, help="checkpoint files or manifest ids")
    p.add_argument("--refs", default=str(ROOT.parent / "shared" / "data" / "refs"))
    p.add_argument("--extra", default=str(ROOT.parent / "shared" / "data" / "refs_extra"))
    p.add_argument("--set", default="broad")
    p.add_argument("--groups-per-family", type=int, default=8)
    p.add_argument("--teachers", default="ms_gmsd,haarpsi")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    p.add_argument("--previous", default=None,
                   help="a --json of an earlier run: its models are shown again, not re-measured (same photos, "
                        "same draws)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    photos = unseen_photos(Path(args.refs), Path(args.extra))
    families = resolve_set(args.set)
    results = json.loads(Path(args.previous).read_text()) if args.previous else {}
    for m in args.models:
        model, card = load_network(m)
        crop = int(card.get("crop_size", 224))
        ds = RankedGroups(photos, families, crop, seed=99)
        ev = evaluate_ranking(model, ds, args.groups_per_family * len(families), torch.device("cpu"))
        cross = cross_type_agreement(model, photos, families, args.teachers, crop_size=crop)
        results[m] = {"pair_accuracy": ev["pair_accuracy"], "per_family_accuracy": ev["per_family_accuracy"],
                      "cross_type_srocc": cross["srocc_mean"], "cross_type_per_photo": cross["per_photo"]}
        print(f"done {m}", file=sys.stderr, flush=True)
    names = list(results)
    print(f"## Held-out photos ({len(photos)}, unseen by every model), set `{args.set}`, "
          f"{args.groups_per_family} groups per family on average\n")
    print("| family | " + " | ".join(f"`{_label(n)}`" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for f in families:
        print(f"| {f} | " + " | ".join(f"{results[n]['per_family_accuracy'].get(f, float('nan')):.3f}"
                                      for n in names) + " |")
    print("| **all (pair accuracy)** | " + " | ".join(f"**{results[n]['pair_accuracy']:.3f}**" for n in names) + " |")
    print("| **cross-type SROCC vs teachers** (mean over photos) | "
          + " | ".join(f"**{results[n]['cross_type_srocc']:.3f}**" for n in names) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
