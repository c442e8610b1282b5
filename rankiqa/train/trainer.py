"""Ranking pre-training loop (RankIQA step 1) with exact resume and DDP.

State lives in ``OUT/state.safetensors`` (model, optimiser buffers, RNG
states; iteration, config and optimiser settings in the JSON header), written
atomically every ``checkpoint_every`` iterations. Batches are a pure function
of ``(seed, iteration)`` (see :mod:`rankiqa.train.ranking_data`) and the
learning rate a pure function of the iteration, so a run resumed after a crash,
even SIGKILL, ends with the same weights as an uninterrupted one.

Launch several processes with ``torchrun --nproc_per_node N -m rankiqa.train
pretrain ...``: gloo on CPU, nccl on CUDA; each rank takes its own groups of
the global batch and rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from rankiqa.api import select_device
from rankiqa.models import build_model
from rankiqa.protocols import check_pooling
from rankiqa.train.config import MODEL_FILE, STATE_FILE, PretrainConfig, split_refs
from rankiqa.train.distortions import resolve_set
from rankiqa.train.layout import training_layout
from rankiqa.train.losses import (RankingLoss, all_pairs_ranking_loss, clean_tie_loss, correlation_loss,
                                  cross_content_loss, hard_fraction, hard_negative_loss, mean_teacher,
                                  random_pairs_loss, teacher_loss)
from rankiqa.train.metrics import group_ranking_metrics
from rankiqa.train.ranking_data import GroupBatchSampler, RankedGroups, make_loader
from rankiqa.train.teacher import UNITS, resolve_teachers
from rankiqa.train.state import load_state, save_state
from rankiqa.weights.checkpoint import network_from_checkpoint, save_checkpoint

__all__ = ["PretrainConfig", "pretrain", "split_refs", "evaluate_ranking", "export_state", "training_loss"]

def _lr_at(cfg: PretrainConfig, iteration: int) -> float:
    return cfg.lr * cfg.lr_gamma ** (iteration // cfg.lr_step)


def _within_loss(cfg: PretrainConfig, it: int, scores, groups, levels) -> RankingLoss:
    if cfg.loss == "all_pairs":
        return all_pairs_ranking_loss(scores, groups, levels, cfg.margin)
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + it)
    if cfg.loss == "random_pairs":
        return random_pairs_loss(scores, groups, levels, cfg.margin, gen)
    return hard_negative_loss(scores, groups, levels, hard_fraction(it, cfg.hard_every), cfg.margin, gen)


def training_loss(cfg: PretrainConfig, it: int, scores, groups, levels, teacher=None,
                  group_families: Sequence[str] | None = None) -> tuple[RankingLoss, dict[str, RankingLoss]]:
    """The training loss and its parts: ``(within-photo result with the total loss, {"cross": ..., "teacher": ...,
    "teacher_plcc": ..., "net_teacher": ..., "tie": ...})``.

    ``teacher`` holds the batch's teacher scores ``[M, T]`` when ``cfg.teacher`` is set, and the network
    teacher's as its last column when ``cfg.net_teacher`` is. ``group_families`` names each group's family
    (needed with ``cfg.cross_families``).
    """
    within = _within_loss(cfg, it, scores, groups, levels)
    total, parts = within.loss, {}
    if cfg.net_teacher:
        if teacher is None:
            raise ValueError("the run uses a network teacher but the batch carries no teacher scores")
        teacher, net = teacher[:, :-1], teacher[:, -1:]
        parts["net_teacher"] = (correlation_loss(scores, net[:, 0], cfg.net_teacher_gap)
                                if cfg.net_teacher_loss == "plcc" else
                                teacher_loss(scores, net, net.new_ones(1), cfg.net_teacher_gap, cfg.margin))
        total = total + cfg.net_teacher_weight * parts["net_teacher"].loss
    if cfg.cross_gap:
        # The sampler puts the groups_per_family groups of one family next to each other.
        blocks = groups // cfg.groups_per_family if cfg.cross_scope == "family" else None
        if cfg.cross_families:
            blocks = _cross_blocks(cfg.cross_families, cfg.cross_scope, groups, levels, group_families)
        parts["cross"] = cross_content_loss(scores, groups, levels, cfg.cross_gap, cfg.margin, blocks)
        total = total + cfg.cross_weight * parts["cross"].loss
    names = resolve_teachers(cfg.teacher)
    if names:
        if teacher is None:
            raise ValueError(f"the run uses teachers {names} but the batch carries no teacher scores")
        units = torch.tensor([UNITS[n] for n in names], dtype=teacher.dtype, device=teacher.device)
        if cfg.teacher_mean:
            teacher, units = mean_teacher(teacher, units)
        parts["teacher"] = teacher_loss(scores, teacher, units, cfg.teacher_gap, cfg.margin,
                                          cfg.teacher_scaled)
        total = total + cfg.teacher_weight * parts["teacher"].loss
        if cfg.teacher_plcc:
            target, _ = mean_teacher(teacher, units)
            parts["teacher_plcc"] = correlation_loss(scores, target[:, 0], cfg.teacher_gap)
            total = total + cfg.teacher_plcc * parts["teacher_plcc"].loss
    if cfg.clean_tie:
        parts["tie"] = clean_tie_loss(scores, levels, cfg.clean_tie_tolerance)
        total = total + cfg.clean_tie * parts["tie"].loss
    return within._replace(loss=total), parts


def _cross_blocks(cross_families: str, scope: str, groups: torch.Tensor, levels: torch.Tensor,
                  group_families: Sequence[str] | None) -> torch.Tensor:
    """Block ids for :func:`cross_content_pairs`. Scope ``"batch"``: 0 for the items of ``cross_families`` and every
    clean crop (a clean photo is level 0 of any family); ``"family"``: the family's index for the groups of
    ``cross_families``. Every other item gets a block of its own group, which pairs it with nothing."""
    if group_families is None:
        raise ValueError("cross_families needs the family of each group of the batch")
    chosen = resolve_set(cross_families)
    own = -1 - groups
    if scope == "family":
        index = torch.tensor([chosen.index(f) if f in chosen else -1 for f in group_families], device=groups.device)
        return torch.where(index[groups] >= 0, index[groups], own)
    in_set = torch.tensor([f in chosen for f in group_families], device=groups.device)[groups]
    return torch.where(in_set | (levels == 0), torch.zeros_like(groups), own)


def _initial_model(cfg: PretrainConfig) -> torch.nn.Module:
    if not cfg.init:
        return build_model(cfg.arch, **cfg.arch_kwargs)
    from rankiqa.weights.hub import resolve_checkpoint

    model, card = network_from_checkpoint(resolve_checkpoint(cfg.init)[0])
    if cfg.widen and card["arch"] == cfg.arch:
        from rankiqa.train.widen import widen

        return widen(model, build_model(cfg.arch, **cfg.arch_kwargs), seed=cfg.seed).train()
    if (card["arch"], card.get("arch_kwargs", {})) != (cfg.arch, cfg.arch_kwargs):
        raise ValueError(f"--init {cfg.init} is {card['arch']} {card.get('arch_kwargs', {})}, but the run asks for "
                         f"{cfg.arch} {cfg.arch_kwargs}: pass the checkpoint's --arch and --arch-kwargs"
                         + ("" if card["arch"] != cfg.arch else ", or --widen to grow it to the wider layers"))
    return model.train()


@torch.inference_mode()
def evaluate_ranking(model: torch.nn.Module, dataset: RankedGroups, num_groups: int, device: torch.device,
                     seed: int = 99, batch_groups: int = 8) -> dict[str, Any]:
    """Scores of a fixed set of held-out groups: pair accuracy and Spearman vs level.

    Returns the metrics plus the raw ``scores``, ``levels`` and ``families``.
    """
    was_training = model.training
    model.eval()
    sampler = GroupBatchSampler(len(dataset), batch_groups, seed=seed)
    scores, groups, levels, fams = [], [], [], []
    done = 0
    k = 0
    while done < num_groups:
        batch = sampler.batch(k)[: num_groups - done]
        for j, (item, draw) in enumerate(batch):
            images, lv = dataset[(item, draw)]
            s = model(images.to(device).float().div_(255.0)).float().cpu()
            scores.append(s)
            levels.append(lv)
            groups.append(torch.full_like(lv, done + j))
            fams += [dataset.families[item % len(dataset.families)]] * len(lv)
        done += len(batch)
        k += 1
    model.train(was_training)
    s, g, lv = torch.cat(scores).numpy(), torch.cat(groups).numpy(), torch.cat(levels).numpy()
    out: dict[str, Any] = group_ranking_metrics(s, g, lv)
    per_family = {}
    fam_arr = np.array(fams)
    for fam in dict.fromkeys(dataset.families):
        m = fam_arr == fam
        if m.any():
            per_family[fam] = group_ranking_metrics(s[m], g[m], lv[m])["pair_accuracy"]
    out["per_family_accuracy"] = per_family
    out.update(scores=s, levels=lv, families=fam_arr)
    return out


def _truncate_log(path: Path, upto: int) -> None:
    """Drop log rows past the checkpoint we resume from (written before a crash)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= upto]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(kept)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    if world > 1:
        return torch.distributed.get_rank(), world
    return 0, 1


def _stage_loaders(cfg: PretrainConfig, train_refs: list[Path], start: int, rank: int, world: int):
    """Batches from iteration ``start`` on: the warm-up families up to ``warmup_iters``, then the full set."""
    stages = [(cfg.warmup_families, {}, 0, cfg.warmup_iters)] if cfg.warmup_iters else []
    stages.append((cfg.families, cfg.family_weights, cfg.warmup_iters, cfg.iters))
    loaders = []
    for families, weights, first, last in stages:
        if start >= last:
            continue
        dataset = RankedGroups(train_refs, families, max(cfg.train_crops or [cfg.crop_size]), seed=cfg.seed,
                               teachers=cfg.teacher, family_weights=weights, flip=cfg.flip, min_scale=cfg.min_scale,
                               net_teacher=cfg.net_teacher, net_teacher_families=cfg.net_teacher_families,
                               net_teacher_rest=cfg.net_teacher_rest)
        sampler = GroupBatchSampler(len(dataset), cfg.groups_per_batch, cfg.seed, start=max(start, first),
                                    num_batches=last, rank=rank, num_replicas=world,
                                    per_photo=cfg.groups_per_photo, families=dataset.families,
                                    crop_sizes=cfg.train_crops, per_family=cfg.groups_per_family)
        # The sampler is a pure function of the batch number, so a second pass over it names each batch's families.
        names = ([dataset.families[index[0] % len(dataset.families)] for index in batch] for batch in sampler)
        loaders.append(zip(make_loader(dataset, sampler, cfg.workers), names))
    return itertools.chain.from_iterable(loaders)


def pretrain(cfg: PretrainConfig, resume: bool = False, stop_at: int | None = None,
             on_log: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Run (or resume) ranking pre-training; returns the exported model path.

    ``stop_at`` ends the run after that iteration without exporting (for tests
    and for splitting a long run into sessions).
    """
    rank, world = _distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = select_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE_FILE

    train_refs, held_refs = split_refs(cfg.refs, cfg.heldout, cfg.heldout_fraction)
    torch.manual_seed(cfg.seed)
    layout = training_layout(device)
    model = _initial_model(cfg).to(device, memory_format=layout)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    start = 0
    if resume and state_path.exists():
        start = load_state(state_path, model, opt, device)
    elif state_path.exists():
        raise FileExistsError(f"{state_path} exists: pass resume=True (--resume) or use a new --out")
    net: torch.nn.Module = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    held = RankedGroups(held_refs, cfg.families, cfg.crop_size, seed=cfg.seed) if held_refs else None
    loader = _stage_loaders(cfg, train_refs, start, rank, world)

    log_path, eval_path = out / "log.csv", out / "eval.csv"
    if rank == 0:
        for p in (log_path, eval_path):
            _truncate_log(p, start)
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    log_fields = ["iteration", "loss", "pairs", "violated", "pair_accuracy", "cross_pair_accuracy",
                  "teacher_pairs", "teacher_pair_accuracy", "lr", "images_per_s", "elapsed_s", "clean_tie_loss",
                  "net_teacher_pairs", "net_teacher_pair_accuracy", "teacher_plcc"]
    eval_fields = ["iteration", "pair_accuracy", "srocc_level", "pairs"]
    log_file = open(log_path, "a", newline="") if rank == 0 else None
    if log_file and log_file.tell() > 0:  # resumed: keep the log's own columns (older runs lack newer ones)
        with open(log_path, newline="") as f:
            log_fields = next(csv.reader(f), log_fields)
    writer = csv.DictWriter(log_file, log_fields, extrasaction="ignore") if log_file else None
    if log_file and log_file.tell() == 0:
        writer.writeheader()

    bar = tqdm(total=cfg.iters, initial=start, disable=not cfg.progress or rank != 0, file=sys.stderr,
               desc="pretrain", dynamic_ncols=True)
    t0 = time.perf_counter()
    tick, images_since = t0, 0
    end = cfg.iters if stop_at is None else min(cfg.iters, stop_at)
    try:
        it = start
        for (images, groups, levels, *teacher), group_families in loader:
            if it >= end:
                break
            lr = _lr_at(cfg, it)
            for g in opt.param_groups:
                g["lr"] = lr
            scores = net(images.to(device, non_blocking=True).contiguous(memory_format=layout))
            result, parts = training_loss(cfg, it, scores.float(), groups.to(device), levels.to(device),
                                          teacher[0].to(device) if teacher else None, group_families)
            opt.zero_grad(set_to_none=True)
            result.loss.backward()
            opt.step()
            it += 1
            images_since += images.shape[0]
            loss_value = float(result.loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"loss became {loss_value} at iteration {it}; lower --lr")
            if rank == 0 and (it % cfg.log_every == 0 or it == end):
                now = time.perf_counter()
                row = {"iteration": it, "loss": f"{loss_value:.6g}", "pairs": result.num_pairs,
                       "violated": f"{result.violated:.4f}", "pair_accuracy": f"{result.accuracy:.4f}",
                       "cross_pair_accuracy": f"{parts['cross'].accuracy:.4f}" if "cross" in parts else "",
                       "teacher_pairs": parts["teacher"].num_pairs if "teacher" in parts else "",
                       "teacher_pair_accuracy": f"{parts['teacher'].accuracy:.4f}" if "teacher" in parts else "",
                       "lr": f"{lr:.3g}", "images_per_s": f"{images_since * world / (now - tick):.2f}",
                       "elapsed_s": f"{now - t0:.1f}",
                       "clean_tie_loss": f"{float(parts['tie'].loss.detach()):.4f}" if "tie" in parts else "",
                       "net_teacher_pairs": parts["net_teacher"].num_pairs if "net_teacher" in parts else "",
                       "net_teacher_pair_accuracy":
                           f"{parts['net_teacher'].accuracy:.4f}" if "net_teacher" in parts else "",
                       # the correlation itself, not the loss: 1 means the score follows the teacher exactly
                       "teacher_plcc":
                           f"{1 - float(parts['teacher_plcc'].loss.detach()):.4f}" if "teacher_plcc" in parts else ""}
                writer.writerow(row)
                log_file.flush()
                tick, images_since = now, 0
                bar.set_postfix(loss=row["loss"], acc=row["pair_accuracy"])
                if on_log:
                    on_log(row)
            bar.update(1)
            if rank == 0 and held is not None and (it % cfg.eval_every == 0 or it == cfg.iters):
                ev = evaluate_ranking(model, held, cfg.eval_groups, device)
                _append_csv(eval_path, eval_fields, {"iteration": it, **{k: ev[k] for k in eval_fields[1:]}})
            if rank == 0 and (it % cfg.checkpoint_every == 0 or it == cfg.iters):
                save_state(state_path, model, opt, it, cfg)
    finally:
        bar.close()
        if log_file:
            log_file.close()
        if world > 1:
            torch.distributed.barrier()
    model_path = out / MODEL_FILE
    if rank == 0 and it >= cfg.iters:
        card = _card(cfg, it, train_refs, held_refs)
        if held is not None:
            ev = evaluate_ranking(model, held, cfg.eval_groups, device)
            card["quality"] = {"heldout_ranking": {k: ev[k] for k in ("pair_accuracy", "srocc_level", "pairs")}
                               | {"per_family_accuracy": ev["per_family_accuracy"]}}
        save_checkpoint(model_path, model.state_dict(), card)
    if world > 1:
        torch.distributed.barrier()
    return model_path


def _append_csv(path: Path, fields: list[str], row: dict[str, Any]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fields)
        if new:
            w.writeheader()
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _card(cfg: PretrainConfig, iteration: int, train_refs: list[Path], held_refs: list[Path]) -> dict[str, Any]:
    families = resolve_set(cfg.families)
    return {
        "arch": cfg.arch,
        "arch_kwargs": cfg.arch_kwargs,
        "protocol": "paper",
        "crop_size": cfg.crop_size,
        "higher_is_better": True,
        "score_range": None,
        "score_meaning": "ranking score: higher = better; only differences and order are meaningful",
        "preprocessing": {"input": "RGB float in [0,1]", "normalize": "ImageNet mean/std inside the model"},
        "training": {
            "stage": "rank",
            "families": list(families),
            "iterations": iteration,
            "train_images": len(train_refs),
            "heldout_images": len(held_refs),
            "config": dataclasses.asdict(cfg) | {"out": None, "progress": None},
        },
    }



def export_state(state_path: str | Path, out_path: str | Path, num_crops: int | None = None,
                 pooling: str | None = None) -> Path:
    """Write the model of a training state (e.g. of an unfinished run) as a checkpoint; ``num_crops`` and
    ``pooling`` set its test-time protocol (default: the paper's 30 crops, mean pooling)."""
    from safetensors import safe_open

    with safe_open(str(state_path), framework="pt") as f:
        meta = json.loads(f.metadata()["rankiqa_state"])
    cfg = PretrainConfig(**meta["config"])
    tensors = load_file(str(state_path))
    state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    train_refs, held_refs = split_refs(cfg.refs, cfg.heldout, cfg.heldout_fraction)
    card = _card(cfg, int(meta["iteration"]), train_refs, held_refs)
    if num_crops is not None:
        if num_crops < 1:
            raise ValueError(f"num_crops must be at least 1, got {num_crops}")
        card["num_crops"] = int(num_crops)
    if pooling is not None:
        card["pooling"] = check_pooling(pooling)
    save_checkpoint(out_path, state, card)
    return Path(out_path)
