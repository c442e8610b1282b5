"""The paper's Table 3 protocol on the LIVE replica: baseline vs rank-only vs rank+FT.

For each of ``--splits`` reference-disjoint 80/20 splits of the replica's 23
references: the ranking checkpoint scored on the test part (rank-only), the
same checkpoint fine-tuned on the train part (rank+FT), and the same network
fine-tuned from random initialisation (baseline). Prints SROCC and PLCC per
type and over all, median over splits, and writes the per-split numbers as JSON.

    python bench/reproduce_live.py --rank runs/slim-live-wide/model.safetensors \
        --replica runs/live_replica --splits 10 --epochs 15 --workers 2 --out bench/results
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TYPES = ("jp2k", "jpeg", "wn", "gblur")


def one_split(args: tuple[str, str, int, int, float]) -> dict:
    import torch

    from rankiqa.train.datasets import Dataset, load_live_replica
    from rankiqa.train.evaluation import evaluate_dataset, score_dataset
    from rankiqa.train.finetune import FinetuneConfig, finetune, reference_split
    from rankiqa.weights.checkpoint import read_card

    rank, replica, seed, epochs, lr = args
    torch.set_num_threads(1)
    data = load_live_replica(replica)
    _, test_idx = reference_split(data.samples, seed)
    test = Dataset(data.name, [data.samples[i] for i in test_idx], data.higher_is_better, data.score_name)
    card = read_card(rank)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        common = dict(dataset=f"live-replica:{replica}", split="train", split_seed=seed, epochs=epochs, lr=lr,
                      seed=seed, progress=False, checkpoint_every=10**6)
        models = {
            "rank-only": rank,
            "rank+FT": finetune(FinetuneConfig(out=f"{d}/ft", init=rank, **common), dataset=data),
            "baseline (no ranking)": finetune(FinetuneConfig(out=f"{d}/base", arch=card["arch"],
                                                             arch_kwargs=card.get("arch_kwargs", {}),
                                                             crop_size=card.get("crop_size"), **common),
                                              dataset=data),
        }
        for name, path in models.items():
            rep = evaluate_dataset(score_dataset(path, test, progress=False), test)
            out[name] = {t: {"srocc": rep["per_type"][t]["srocc"], "plcc": rep["per_type"][t]["plcc_logistic"]}
                         for t in TYPES} | {"ALL": {"srocc": rep["all"]["srocc"], "plcc": rep["all"]["plcc_logistic"]}}
    print(f"  split {seed}: " + ", ".join(f"{k} {v['ALL']['srocc']:.3f}" for k, v in out.items()),
          file=sys.stderr, flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rank", required=True, help="ranking checkpoint (.safetensors)")
    p.add_argument("--replica", required=True)
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = p.parse_args()
    jobs = [(args.rank, args.replica, s, args.epochs, args.lr) for s in range(args.splits)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(one_split, jobs))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "reproduce_live.json").write_text(json.dumps(results, indent=2))
    cols = list(TYPES) + ["ALL"]
    for metric in ("srocc", "plcc"):
        print(f"\n### {metric.upper()} on the LIVE replica, median of {args.splits} reference-disjoint splits"
              f"{' (PLCC after the 5-parameter logistic)' if metric == 'plcc' else ''}\n")
        print("| method | " + " | ".join(c.upper() if c != "wn" else "GN" for c in cols).replace("GBLUR", "GB")
              + " |\n|---|" + "---|" * len(cols))
        for method in results[0]:
            vals = [np.median([r[method][c][metric] for r in results]) for c in cols]
            print(f"| {method} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    spread = [r["rank+FT"]["ALL"]["srocc"] for r in results]
    print(f"\nrank+FT SROCC ALL over splits: mean {np.mean(spread):.3f}, std {np.std(spread):.3f}, "
          f"min {np.min(spread):.3f}, max {np.max(spread):.3f}")


if __name__ == "__main__":
    main()
