"""The paper's Table 3 protocol on the LIVE replica: baseline vs rank-only vs rank+FT.

A thin wrapper over ``python -m rankiqa.train crossval`` (rankiqa/train/crossval.py)
that writes its results next to the other benchmarks: for each of ``--splits``
reference-disjoint 80/20 splits of the replica's 23 references, the ranking
checkpoint scored on the test part (rank-only), fine-tuned on the train part
(rank+FT), and the same network fine-tuned from random weights (baseline).

    python bench/reproduce_live.py --rank runs/slim-live-wide/model.safetensors \\
        --replica runs/live_replica --splits 10 --epochs 15 --workers 2 --out bench/results
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.train.crossval import cross_validate, summary_table  # noqa: E402


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
    result = cross_validate(f"live-replica:{args.replica}", args.rank, args.splits, jobs=args.workers,
                            epochs=args.epochs, lr=args.lr)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "reproduce_live.json").write_text(json.dumps(result, indent=2))
    for metric, title in (("srocc", "SROCC"), ("plcc_logistic", "PLCC (after the 5-parameter logistic)")):
        print(f"\n### {title} on the LIVE replica, median of {args.splits} reference-disjoint splits\n")
        print(summary_table(result["summary"], metric))
    print(f"\n### SROCC, mean ± std over splits\n\n{summary_table(result['summary'], 'srocc', 'mean')}")


if __name__ == "__main__":
    main()
