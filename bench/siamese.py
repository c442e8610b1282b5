"""Efficient Siamese training vs the baselines (paper section 3.3, Fig. 3).

1. Pairs trained per second, same network and images per iteration:
   all-pairs (one forward of the batch, every comparable pair), standard Siamese
   (same forward, M/2 random pairs) and one-forward-per-pair (each pair through
   two branches, no sharing).
2. Convergence at equal training time: held-out pair accuracy of all-pairs vs
   random pairs vs hard-negative mining, each trained with ``--seeds`` seeds
   (initialisation, pair draws and the order of the batches, drawn from one pool
   synthesised once; seed ``s`` gives every method the same batches in the same
   order), written as CSV and a PNG plot of the mean over seeds.

The differences between methods come with their noise, from both sources: the
training run (how a difference varies between seeds: the standard error of the
per-seed differences) and the evaluation (which held-out groups were drawn: a
bootstrap over groups, paired, since every method scores the same groups),
added in quadrature. A difference counts as larger than its noise past two
standard errors. Besides each evaluation time, the curve's mean over the run
(the area under it, divided by its length) compares how fast each method learns
in one number, and the time each takes to first reach an accuracy.

    python bench/siamese.py --refs ../shared/data/refs --seconds 120 --out bench/results
    python bench/siamese.py --seconds 600 --seeds 3 --eval-groups 560 --jobs 2
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.models import build_model  # noqa: E402
from rankiqa.train.losses import (  # noqa: E402
    all_pairs_ranking_loss, hard_fraction, hard_negative_loss, random_pairs_loss)
from rankiqa.train.plots import line_plot  # noqa: E402
from rankiqa.train.ranking_data import GroupBatchSampler, RankedGroups, collate_groups  # noqa: E402
from rankiqa.train.trainer import evaluate_ranking, split_refs  # noqa: E402

ARCH = ("vgg16_slim", {"width": 0.125})


def _group_accuracies(model, held, num_groups: int) -> np.ndarray:
    """Held-out pair accuracy of each of ``num_groups`` groups (the same groups on every call)."""
    r = evaluate_ranking(model, held, num_groups, torch.device("cpu"))
    s, lv = r["scores"], r["levels"]
    per_group = []
    n = len(s) // num_groups  # every group has the same levels (the live set: 0-5)
    for k in range(num_groups):
        ss, ll = s[k * n:(k + 1) * n], lv[k * n:(k + 1) * n]
        a, b = np.triu_indices(len(ss), 1)
        keep = ll[a] != ll[b]
        per_group.append(np.mean((ss[a] > ss[b])[keep] == (ll[a] < ll[b])[keep]))
    return np.asarray(per_group)


def difference_noise(a: np.ndarray, b: np.ndarray, boot: int = 2000) -> tuple[float, float]:
    """Mean of ``a - b`` and its standard error, for per-group values of shape ``[seeds, groups]``.

    Training noise: the standard error of the per-seed differences (0 with one seed). Evaluation noise: a
    bootstrap over groups of the seed-averaged difference (pairs of a group are correlated, so groups, not
    pairs, are resampled; paired, as both methods score the same groups). The two add in quadrature.
    """
    d = np.asarray(a, float) - np.asarray(b, float)
    per_seed = d.mean(axis=1)
    train_se = float(per_seed.std(ddof=1) / np.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0
    per_group = d.mean(axis=0)
    idx = np.random.default_rng(0).integers(0, len(per_group), size=(boot, len(per_group)))
    eval_se = float(per_group[idx].mean(axis=1).std())
    return float(d.mean()), float(np.hypot(train_se, eval_se))


class _Memo:
    """A dataset whose items are synthesised once: the held-out groups every evaluation of every method scores."""

    def __init__(self, dataset: RankedGroups):
        self.dataset, self.families, self._items = dataset, dataset.families, {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        if index not in self._items:
            self._items[index] = self.dataset[index]
        return self._items[index]


class BatchCache:
    """Training batches ``0 .. n-1`` synthesised once into a file that every method reads.

    The three methods draw the same batch ``k`` at iteration ``k`` (the sampler is a pure function of
    ``(seed, k)``), so synthesising it once per method would triple the bench's cost for nothing. A method
    that runs past ``n`` synthesises the rest itself. Group ids and levels are those of batch 0 for every
    batch: in the ``live`` set every family has the same levels.
    """

    def __init__(self, train: RankedGroups, groups_per_batch: int, n: int, folder: Path, jobs: int):
        self.train, self.n = train, n
        self.sampler = GroupBatchSampler(len(train), groups_per_batch, seed=0)
        x, g, lv = collate_groups([train[i] for i in self.sampler.batch(0)])
        self.path, self.g, self.lv = folder / "batches.npy", g, lv
        images = np.lib.format.open_memmap(self.path, "w+", np.uint8, (n, *x.shape))
        del images
        chunks = [(k, min(n, k + 64)) for k in range(0, n, 64)]
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for _ in pool.imap_unordered(self._fill, chunks):
                pass
        self.images = np.load(self.path, mmap_mode="r")

    def _fill(self, span: tuple[int, int]) -> None:
        torch.set_num_threads(1)
        images = np.load(self.path, mmap_mode="r+")
        for k in range(*span):
            groups = [self.train[i] for i in self.sampler.batch(k)]
            images[k] = torch.cat([grp[0] for grp in groups]).numpy()
        images.flush()

    def batch(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if k >= self.n:
            return collate_groups([self.train[i] for i in self.sampler.batch(k)])
        return torch.from_numpy(np.array(self.images[k])).float().div_(255.0), self.g, self.lv


def train_one(loss: str, seed: int, batches: BatchCache, held, seconds: float, eval_every: float,
              eval_groups: int) -> list[tuple[float, int, np.ndarray]]:
    """Train with one loss for ``seconds`` of CPU time in the training step (synthesis and evaluation
    excluded, so methods run side by side on a shared CPU get equal work); the held-out curve as
    ``(seconds, iterations, per-group accuracies)`` at ``0, eval_every, ...`` and at the end.

    Seed 0 reads the cached batches in order, seed ``s`` in a permutation of them drawn from ``s``."""
    order = np.arange(batches.n) if seed == 0 else np.random.default_rng(seed).permutation(batches.n)
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = build_model(ARCH[0], **ARCH[1])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    points, it, spent, next_eval = [], 0, 0.0, 0.0
    while spent < seconds:
        if spent >= next_eval:
            points.append((spent, it, _group_accuracies(model, held, eval_groups)))
            next_eval += eval_every
        x, g, lv = batches.batch(int(order[it]) if it < batches.n else it)
        t = time.thread_time()
        s = model(x)
        gen = torch.Generator().manual_seed(seed * 1_000_003 + it)
        if loss == "all_pairs":
            r = all_pairs_ranking_loss(s, g, lv, 1.0)
        elif loss == "random_pairs":
            r = random_pairs_loss(s, g, lv, 1.0, gen)
        else:  # grow the hard share every 20 iterations (the paper: every 5000 of 50K)
            r = hard_negative_loss(s, g, lv, hard_fraction(it, 20, 0.1, 0.5), 1.0, gen)
        opt.zero_grad()
        r.loss.backward()
        opt.step()
        spent += time.thread_time() - t
        it += 1
    points.append((spent, it, _group_accuracies(model, held, eval_groups)))
    print(f"  {loss}, seed {seed}: {it} iterations, final held-out pair accuracy {points[-1][2].mean():.4f}",
          file=sys.stderr)
    return points


def _step_seconds(train: RankedGroups, groups_per_batch: int, repeats: int = 10) -> float:
    """CPU seconds of one all-pairs training step, to size the batch cache."""
    torch.manual_seed(0)
    model = build_model(ARCH[0], **ARCH[1])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, g, lv = collate_groups([train[i] for i in GroupBatchSampler(len(train), groups_per_batch, seed=0).batch(0)])
    times = []
    for _ in range(repeats):
        t = time.thread_time()
        opt.zero_grad()
        all_pairs_ranking_loss(model(x), g, lv, 1.0).loss.backward()
        opt.step()
        times.append(time.thread_time() - t)
    return float(np.median(times[2:]))


LOSSES = ("all_pairs", "random_pairs", "hard_negative")


#: What every training run reads, set before forking so the workers inherit it (gigabytes of batch caches
#: and the synthesised held-out groups are never pickled).
_SHARED: dict = {}


def _run(run: tuple[str, int]) -> tuple[str, int, list]:
    loss, seed = run
    return loss, seed, train_one(loss, seed, _SHARED["batches"], *_SHARED["rest"])


def convergence(train, held, seconds: float, groups_per_batch: int, eval_every: float, eval_groups: int,
                jobs: int, seeds: int) -> dict[str, list[list]]:
    """Each method's curves, one per seed: ``{loss: [points of seed 0, points of seed 1, ...]}``."""
    torch.set_num_threads(1)
    # Random pairs and hard negatives step a little faster than all-pairs (fewer hinge terms): a margin.
    n = int(seconds / _step_seconds(train, groups_per_batch) * 1.25) + 16
    held = _Memo(held)
    _group_accuracies(build_model(ARCH[0], **ARCH[1]), held, eval_groups)  # synthesise once, before forking
    # The cache is gigabytes: removed even when a method fails.
    with tempfile.TemporaryDirectory(prefix="rankiqa-siamese-") as tmp:
        t = time.perf_counter()
        batches = BatchCache(train, groups_per_batch, n, Path(tmp), max(1, jobs))
        print(f"  synthesised {n} batches once for all methods and seeds in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        _SHARED.update(batches=batches, rest=(held, seconds, eval_every, eval_groups))
        runs = [(loss, seed) for seed in range(seeds) for loss in LOSSES]
        try:
            if jobs > 1:
                with multiprocessing.get_context("fork").Pool(min(jobs, len(runs))) as pool:
                    results = pool.map(_run, runs, chunksize=1)
            else:
                results = [_run(r) for r in runs]
        finally:
            _SHARED.clear()
    curves: dict[str, list[list]] = {loss: [None] * seeds for loss in LOSSES}
    for loss, seed, points in results:
        curves[loss][seed] = points
    return curves


def _per_group(curves: list[list], k: int | None) -> np.ndarray:
    """``[seeds, groups]`` accuracies at evaluation ``k``, or their mean over the run's evaluations after the
    start (the area under the curve over its length) for ``k=None``."""
    if k is not None:
        return np.stack([pts[k][2] for pts in curves])
    return np.stack([np.mean([p[2] for p in pts[1:]], axis=0) for pts in curves])


def _evaluations(curves: dict[str, list[list]]) -> int:
    """Evaluations every run has (a run's last one falls at the end of its time)."""
    return min(len(pts) for runs in curves.values() for pts in runs)


def _first_reach(curves: list[list], level: float, eval_every: float, n_evals: int) -> str:
    k = next((k for k in range(n_evals) if _per_group(curves, k).mean() >= level), None)
    return "not reached" if k is None else f"{k * eval_every:.0f} s"


def report(curves: dict[str, list[list]], seconds: float, eval_every: float, eval_groups: int) -> None:
    """Markdown tables: accuracy per method over time, and each baseline's difference from all-pairs with its noise."""
    seeds = len(curves[LOSSES[0]])
    n_evals = _evaluations(curves)
    cols = list(range(1, n_evals))
    times = [f"{k * eval_every:.0f} s" for k in cols]
    print(f"\nheld-out pair accuracy, mean over {seeds} seed(s) and {eval_groups} held-out groups "
          f"(evaluation k at k x {eval_every:.0f} s of training; the last at the end)\n")
    print("| method | iterations | " + " | ".join(times) + " | mean over the run | first >= 0.90 | first >= 0.93 |")
    print("|---|---|" + "---|" * (len(cols) + 3))
    for loss, runs in curves.items():
        its = np.mean([pts[n_evals - 1][1] for pts in runs])
        accs = [f"{_per_group(runs, k).mean():.4f}" for k in cols]
        print(f"| {loss} | {its:.0f} | " + " | ".join(accs) + f" | {_per_group(runs, None).mean():.4f} | "
              f"{_first_reach(runs, 0.90, eval_every, n_evals)} | {_first_reach(runs, 0.93, eval_every, n_evals)} |")
    print("\nall-pairs minus each baseline: difference (standard error: training over seeds and evaluation over "
          "groups, in quadrature); * where it is more than twice its standard error\n")
    print("| baseline | " + " | ".join(times) + " | mean over the run |")
    print("|---|" + "---|" * (len(cols) + 1))
    for loss in LOSSES[1:]:
        cells = []
        for k in cols + [None]:
            d, se = difference_noise(_per_group(curves["all_pairs"], k), _per_group(curves[loss], k))
            cells.append(f"{d:+.4f} ({se:.4f}){' *' if abs(d) > 2 * se else ''}")
        print(f"| {loss} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refs", default=str(ROOT.parent / "shared" / "data" / "refs"))
    p.add_argument("--seconds", type=float, default=120.0, help="training seconds per method")
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--groups", type=int, default=8)
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--eval-groups", type=int, default=280, help="held-out groups per evaluation")
    p.add_argument("--seeds", type=int, default=1, help="training runs per method (seeds 0 .. N-1)")
    p.add_argument("--jobs", type=int, default=1, help="training runs in parallel processes")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = p.parse_args()
    for name in ("seconds", "seeds", "eval_groups", "jobs"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_refs, held_refs = split_refs([args.refs], [], 0.1)
    train = RankedGroups(train_refs, "live", args.crop, seed=0)
    held = RankedGroups(held_refs, "live", args.crop, seed=0)
    x, g, lv = collate_groups([train[i] for i in GroupBatchSampler(len(train), args.groups, 1).batch(0)])
    levels_per_group = int((g == 0).sum())
    print(f"## Pairs per second: {ARCH[0]} {ARCH[1]}, {x.shape[0]} images per iteration "
          f"({args.groups} groups x {levels_per_group}), crop {args.crop}, one core\n")
    print("| method | pairs / iteration | iterations / s | pairs / s | vs standard |\n|---|---|---|---|---|")
    rows = []
    for name, fn in _methods(x, g, lv):
        reps = args.repeats if "per pair" not in name else 1
        fn()
        t = time.perf_counter()
        pairs = sum(fn() for _ in range(reps))
        dt = time.perf_counter() - t
        rows.append((name, pairs / reps, reps / dt, pairs / dt))
    std = rows[1][3]
    for name, ppi, ips, pps in rows:
        print(f"| {name} | {ppi:.0f} | {ips:.2f} | {pps:.0f} | {pps / std:.2f}x |")
    print(f"\npaper's prediction for all-pairs vs standard: n-1 = {levels_per_group - 1}x more pairs per second")

    print(f"\n## Convergence at equal training time ({args.seconds:.0f} s each, {args.seeds} seed(s))")
    eval_every = args.seconds / 8
    curves = convergence(train, held, args.seconds, args.groups, eval_every, args.eval_groups, args.jobs,
                         args.seeds)
    with open(out / "siamese_convergence.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "seed", "train_seconds", "iterations", "heldout_pair_accuracy"])
        for loss, runs in curves.items():
            for seed, pts in enumerate(runs):
                w.writerows([loss, seed, f"{s:.1f}", it, f"{acc.mean():.4f}"] for s, it, acc in pts)
    n_evals = _evaluations(curves)
    series = {k: ([i * eval_every for i in range(n_evals)], [_per_group(v, i).mean() for i in range(n_evals)])
              for k, v in curves.items()}
    line_plot(series, f"held-out pair accuracy vs training time (live set, mean of {args.seeds} seeds)",
              "training seconds").save(out / "siamese_convergence.png")
    report(curves, args.seconds, eval_every, args.eval_groups)
    print(f"\nwrote {out / 'siamese_convergence.csv'} and {out / 'siamese_convergence.png'}")


def _methods(x, groups, levels):
    torch.manual_seed(0)
    model = build_model(ARCH[0], **ARCH[1])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    comparable = torch.nonzero((groups[:, None] == groups[None, :]) & (levels[:, None] < levels[None, :])).tolist()

    def step(loss):
        opt.zero_grad()
        loss.backward()
        opt.step()

    def all_pairs() -> int:
        r = all_pairs_ranking_loss(model(x), groups, levels, 1.0)
        step(r.loss)
        return r.num_pairs

    def standard() -> int:
        r = random_pairs_loss(model(x), groups, levels, 1.0, torch.Generator().manual_seed(0))
        step(r.loss)
        return r.num_pairs

    def per_pair() -> int:
        opt.zero_grad()
        for i, j in comparable:
            s = model(torch.stack([x[i], x[j]]))
            (torch.clamp(s[1] - s[0] + 1.0, min=0) / len(comparable)).backward()
        opt.step()
        return len(comparable)

    return [("all-pairs (ours)", all_pairs), ("standard Siamese", standard), ("one forward per pair", per_pair)]


if __name__ == "__main__":
    main()
