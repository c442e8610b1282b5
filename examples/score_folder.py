"""Score every image in a folder and write a CSV (path, score), best first.

    python examples/score_folder.py examples/images/burst scores.csv [--model ID_OR_PATH]
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import rankiqa


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--model", default="default")
    args = p.parse_args()

    files = sorted(f for f in args.folder.iterdir() if f.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    scorer = rankiqa.load_model(args.model)
    # on_error="nan": one unreadable file must not cost the scores of the others.
    scores = scorer.score(files, on_error="nan", progress=True)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "score"])
        for path, s in sorted(zip(files, scores), key=lambda t: -t[1] if not math.isnan(t[1]) else math.inf):
            w.writerow([str(path), "" if math.isnan(s) else f"{s:.4f}"])
    print(f"wrote {len(files)} scores to {args.out}")


if __name__ == "__main__":
    main()
