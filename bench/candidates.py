"""Which compact network to train on a CPU? Equal CPU time, same data, same loss.

Each candidate trains with the all-pairs loss on ranked batches for the same
budget of *thread CPU seconds* spent in its training steps (fair even on a busy
machine; batch synthesis is excluded, being the same work for all), then is
measured on held-out ranking accuracy and on the LIVE replica (SROCC vs DMOS).

    python bench/candidates.py --refs ../shared/data/refs --replica runs/live_replica --cpu-seconds 240
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.models import build_model  # noqa: E402
from rankiqa.train.datasets import load_live_replica  # noqa: E402
from rankiqa.train.evaluation import evaluate_dataset, score_dataset  # noqa: E402
from rankiqa.train.ranking_data import GroupBatchSampler, RankedGroups, collate_groups  # noqa: E402
from rankiqa.train.trainer import PretrainConfig, evaluate_ranking, split_refs, training_loss  # noqa: E402
from rankiqa.weights.checkpoint import save_checkpoint  # noqa: E402

CANDIDATES = [
    ("shallow", {}, 224),  # the paper's Shallow net needs >= 224 px
    ("vgg16_slim", {"width": 0.125}, 128),
    ("mobilenet_v3_small", {}, 128),
]


def train_equal_budget(cfg: PretrainConfig, train_refs: list, arch: str, kwargs: dict, crop: int,
                       cpu_seconds: float, groups: int, lr: float) -> tuple[torch.nn.Module, int]:
    """Train from seed 0 until the training steps have used ``cpu_seconds`` of thread CPU time."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(arch, **kwargs)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    stages = [RankedGroups(train_refs, f, crop, seed=0, teachers=cfg.teacher)
              for f in ([cfg.warmup_families] if cfg.warmup_iters else []) + [cfg.families]]
    samplers = [GroupBatchSampler(len(d), groups, seed=0) for d in stages]
    spent, it = 0.0, 0
    while spent < cpu_seconds:
        k = 0 if cfg.warmup_iters and it < cfg.warmup_iters else len(stages) - 1  # the curriculum's stage
        x, g, lv, *teacher = collate_groups([stages[k][i] for i in samplers[k].batch(it)])
        t = time.thread_time()
        r, _ = training_loss(cfg, it, model(x), g, lv, teacher[0] if teacher else None)
        opt.zero_grad()
        r.loss.backward()
        opt.step()
        spent += time.thread_time() - t
        it += 1
    return model, it


def live_report(model: torch.nn.Module, arch: str, kwargs: dict, crop: int, replica_dir: str) -> dict:
    """Evaluation on the LIVE replica (paper protocol) of an in-memory model."""
    replica = load_live_replica(replica_dir)
    with tempfile.TemporaryDirectory() as d:
        ckpt = Path(d) / "m.safetensors"
        save_checkpoint(ckpt, model.state_dict(), {"arch": arch, "arch_kwargs": kwargs, "crop_size": crop,
                                                   "protocol": "paper", "higher_is_better": True})
        return evaluate_dataset(score_dataset(ckpt, replica, progress=False), replica)


def run_candidate(job: tuple) -> str:
    """Train and measure one candidate; returns its table row."""
    (arch, kwargs, crop), refs, replica_dir, family_set, cpu_seconds, groups, lr, cross_gap = job
    cfg = PretrainConfig(refs=[refs], out="", families=family_set, margin=1.0, cross_gap=cross_gap)
    train_refs, held_refs = split_refs([refs], [], 0.1)
    model, it = train_equal_budget(cfg, train_refs, arch, kwargs, crop, cpu_seconds, groups, lr)
    held = RankedGroups(held_refs, family_set, crop, seed=0)
    acc = evaluate_ranking(model, held, 64, torch.device("cpu"))["pair_accuracy"]
    rep = live_report(model, arch, kwargs, crop, replica_dir)
    n_params = sum(p.numel() for p in model.parameters())
    per = rep["per_type"]
    return (f"| {arch} {kwargs or ''} | {crop} | {n_params / 1e6:.2f}M | {it} | {acc:.4f} "
            f"| {rep['all']['srocc']:.4f} | "
            + " | ".join(f"{per[t]['srocc']:.4f}" for t in ("jp2k", "jpeg", "wn", "gblur")) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refs", default=str(ROOT.parent / "shared" / "data" / "refs"))
    p.add_argument("--replica", required=True, help="LIVE replica folder (python -m rankiqa.train live-replica)")
    p.add_argument("--set", default="live_wide")
    p.add_argument("--cpu-seconds", type=float, default=240.0)
    p.add_argument("--groups", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--cross-gap", type=int, default=0, help="cross-photo hinge, as pretrain --cross-gap")
    p.add_argument("--jobs", type=int, default=1, help="candidates trained in parallel processes")
    args = p.parse_args()
    print(f"## Candidates: {args.cpu_seconds:.0f} CPU-s of training steps each, set {args.set}, all-pairs loss"
          f"{f' + cross-photo hinge (gap {args.cross_gap})' if args.cross_gap else ''}\n")
    print("| arch | crop | params | iterations | held-out pair acc | LIVE SROCC all | jp2k | jpeg | wn | gblur |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    jobs = [(c, args.refs, args.replica, args.set, args.cpu_seconds, args.groups, args.lr, args.cross_gap)
            for c in CANDIDATES]
    with ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(run_candidate, jobs):
            print(row, flush=True)


if __name__ == "__main__":
    main()
