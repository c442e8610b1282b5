"""Two training runs on the same batches, compared window by window.

``pretrain`` draws its batches from ``--seed`` alone, so two runs with the same data, families and seed
train on the same crops at every iteration even when their networks or losses differ (session 25: widths
0.125 and 0.1875). Their logged per-iteration metrics then pair up, and the noise of batch content, which
dwarfs a small difference between two runs read apart, cancels in each pair's difference. This bench checks
that the batches match (the ``pairs`` and ``teacher_pairs`` counts of every logged iteration) and prints, per
window of iterations, each run's mean and the mean paired difference with its standard error.

    python bench/paired_logs.py runs/slim-broad47 runs/slim-broad48 [--window 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

#: Logged columns compared, and whether higher is better.
METRICS = {"loss": False, "pair_accuracy": True, "teacher_pair_accuracy": True}
#: Columns that count a batch's pairs: equal in both runs when their batches are the same.
BATCH_KEYS = ("pairs", "teacher_pairs")


def read_log(run: Path) -> dict[int, dict[str, str]]:
    """Rows of ``run/log.csv`` by iteration (a resumed run's later row wins)."""
    path = run / "log.csv" if run.is_dir() else run
    if not path.is_file():
        raise SystemExit(f"{path}: no training log there")
    with path.open(newline="") as f:
        return {int(row["iteration"]): row for row in csv.DictReader(f)}


def paired_windows(a: dict[int, dict[str, str]], b: dict[int, dict[str, str]],
                   window: int) -> tuple[list[dict], int, int]:
    """Per window: each run's mean and the paired difference (b - a) of every metric; with the
    number of shared iterations and how many of them had different batches (left out)."""
    shared = sorted(set(a) & set(b))
    same = [it for it in shared if all(a[it].get(k) == b[it].get(k) for k in BATCH_KEYS)]
    rows = []
    for start in range(0, (same[-1] if same else 0) + 1, window):
        its = [it for it in same if start < it <= start + window]
        if not its:
            continue
        row = {"iterations": f"{start + 1}-{start + window}", "n": len(its)}
        for m in METRICS:
            xa = [float(a[it][m]) for it in its if a[it].get(m)]
            xb = [float(b[it][m]) for it in its if b[it].get(m)]
            if len(xa) != len(its) or len(xb) != len(its):
                continue
            d = [y - x for x, y in zip(xa, xb)]
            mean_d = sum(d) / len(d)
            sd = math.sqrt(sum((v - mean_d) ** 2 for v in d) / max(1, len(d) - 1))
            row[m] = {"a": sum(xa) / len(xa), "b": sum(xb) / len(xb), "diff": mean_d,
                      "se": sd / math.sqrt(len(d))}
        rows.append(row)
    return rows, len(shared), len(shared) - len(same)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("run_a", type=Path, help="run folder (or its log.csv): the reference")
    p.add_argument("run_b", type=Path, help="run folder (or its log.csv) trained on the same batches")
    p.add_argument("--window", type=int, default=1000, help="iterations a row")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = p.parse_args()
    if a.window < 1:
        p.error("--window must be at least 1")
    rows, shared, differing = paired_windows(read_log(a.run_a), read_log(a.run_b), a.window)
    if differing:
        print(f"{differing} of {shared} shared logged iterations had different batches; left out", file=sys.stderr)
    if not rows:
        raise SystemExit("no logged iteration with the same batch in both runs: not the same seed and data?")
    heads = [f"{m} ({'higher' if up else 'lower'} is better): A / B / B - A ± se" for m, up in METRICS.items()]
    print(f"A = {a.run_a}, B = {a.run_b}; {shared - differing} logged iterations on the same batches\n")
    print("| iterations | n | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for r in rows:
        cells = [f"{r[m]['a']:.3f} / {r[m]['b']:.3f} / {r[m]['diff']:+.3f} ± {r[m]['se']:.3f}" if m in r else ""
                 for m in METRICS]
        print(f"| {r['iterations']} | {r['n']} | " + " | ".join(cells) + " |")
    if a.json:
        a.json.write_text(json.dumps({"a": str(a.run_a), "b": str(a.run_b), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
