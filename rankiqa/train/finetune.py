"""Fine-tuning on human scores (RankIQA step 3, "RankIQA+FT").

MSE between the network output and the standardised human score
``(score - mean) / std`` of the training images; as in the paper, every epoch
takes one random crop of each training image. A ranking checkpoint's head is
first fitted by least squares to the targets, so fine-tuning starts from the
best linear calibration of the ranking score. After training the
standardisation is folded into the head's last linear layer, so the exported
model outputs the dataset's own scale (e.g. LIVE DMOS) and its card records
the direction (the scoring API turns DMOS into higher = better).

Checkpointing and exact resume work as in pre-training: batches are a pure
function of ``(seed, iteration)``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from rankiqa.models import build_model
from rankiqa.train.datasets import Dataset, Sample, load_dataset
from rankiqa.train.ranking_data import read_rgb
from rankiqa.api import select_device
from rankiqa.train.layout import training_layout
from rankiqa.train.state import load_state, save_state
from rankiqa.train.config import MODEL_FILE, STATE_FILE
from rankiqa.weights.checkpoint import network_from_checkpoint, save_checkpoint

__all__ = ["FinetuneConfig", "finetune", "reference_split"]

MIN_CALIBRATION_CORR = 0.2


@dataclass
class FinetuneConfig:
    """A fine-tuning run. ``init=None`` trains from random initialisation (the baseline)."""

    dataset: str
    out: str
    init: str | None = None
    arch: str = "vgg16_slim"
    arch_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    crop_size: int | None = None  # default: the init checkpoint's
    split: str = "all"  # "all", or "train" = the training part of a reference-disjoint split
    split_seed: int = 0
    train_fraction: float = 0.8
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    lr_step_epochs: int = 20
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    checkpoint_every: int = 100
    device: str | None = None
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.split not in ("all", "train"):
            raise ValueError(f"split must be 'all' or 'train', got {self.split!r}")
        if not 0 < self.train_fraction < 1:
            raise ValueError("train_fraction must be in (0, 1)")
        for name in ("epochs", "batch_size", "lr_step_epochs", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


def reference_split(samples: Sequence[Sample], seed: int, train_fraction: float = 0.8
                    ) -> tuple[list[int], list[int]]:
    """Indices of a train/test split that never shares a reference image (by ``seed``)."""
    refs = sorted({s.ref for s in samples})
    if len(refs) < 2:
        raise ValueError("need at least two reference images for a reference-disjoint split")
    perm = np.random.default_rng(seed).permutation(len(refs))
    n_train = min(len(refs) - 1, max(1, int(round(train_fraction * len(refs)))))
    train_refs = {refs[i] for i in perm[:n_train]}
    train = [i for i, s in enumerate(samples) if s.ref in train_refs]
    test = [i for i, s in enumerate(samples) if s.ref not in train_refs]
    return train, test


def _batch(images: list[np.ndarray], targets: np.ndarray, order: np.ndarray, it: int, cfg: FinetuneConfig,
           crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(images)
    per_epoch = math.ceil(n / cfg.batch_size)
    epoch, k = divmod(it, per_epoch)
    perm = np.random.default_rng([cfg.seed, 31, epoch]).permutation(n)
    idx = perm[k * cfg.batch_size:(k + 1) * cfg.batch_size]
    crops = []
    for i in idx:
        img = images[i]
        rng = np.random.default_rng([cfg.seed, epoch, int(order[i])])
        y = int(rng.integers(0, img.shape[0] - crop + 1))
        x = int(rng.integers(0, img.shape[1] - crop + 1))
        crops.append(img[y:y + crop, x:x + crop])
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
    return x, torch.from_numpy(targets[idx]).float()


def _fold_standardisation(model: torch.nn.Module, mean: float, std: float) -> None:
    last = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(std)
        last.bias.mul_(std).add_(mean)


@torch.no_grad()
def _calibrate_head(model: torch.nn.Module, images: list[np.ndarray], targets: np.ndarray, crop: int,
                    device: torch.device) -> None:
    """Least-squares fit of the last linear layer to the targets on centre crops.

    A ranking network's output has an arbitrary scale; starting MSE from it
    sends large gradients through features that already rank well. Starting
    from the best linear map of the ranking score avoids that.
    """
    model.eval()
    outs = []
    for img in images:
        y, x = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
        t = torch.from_numpy(np.ascontiguousarray(img[y:y + crop, x:x + crop])).permute(2, 0, 1)[None]
        outs.append(float(model(t.float().div(255.0).to(device))[0]))
    model.train()
    s = np.asarray(outs)
    # Only a score that carries signal is worth calibrating; a near-constant one
    # (an untrained net) would get an exploding slope.
    if np.ptp(s) == 0 or abs(np.corrcoef(s, targets)[0, 1]) < MIN_CALIBRATION_CORR:
        return
    a, b = np.polyfit(s, targets, 1)
    last = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    last.weight.mul_(float(a))
    last.bias.mul_(float(a)).add_(float(b))


def finetune(cfg: FinetuneConfig, resume: bool = False, dataset: Dataset | None = None) -> Path:
    """Run (or resume) fine-tuning; returns the exported checkpoint path."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = select_device(cfg.device)
    data = dataset or load_dataset(cfg.dataset)
    indices = list(range(len(data.samples)))
    if cfg.split == "train":
        indices = reference_split(data.samples, cfg.split_seed, cfg.train_fraction)[0]
    samples = [data.samples[i] for i in indices]
    torch.manual_seed(cfg.seed)
    if cfg.init:
        from rankiqa.weights.hub import resolve_checkpoint

        model, init_card = network_from_checkpoint(resolve_checkpoint(cfg.init)[0])
        arch, arch_kwargs = init_card["arch"], init_card.get("arch_kwargs", {})
        crop = cfg.crop_size or int(init_card.get("crop_size", 224))
    else:
        arch, arch_kwargs, init_card = cfg.arch, cfg.arch_kwargs, {}
        model = build_model(arch, **arch_kwargs)
        crop = cfg.crop_size or 224
    layout = training_layout(device)
    model = model.to(device, memory_format=layout).train()
    raw = np.array([s.score for s in samples], dtype=np.float64)
    mean, std = float(raw.mean()), float(raw.std() or 1.0)
    targets = ((raw - mean) / std).astype(np.float32)
    images = [read_rgb(s.path, crop) for s in samples]
    order = np.array(indices)
    per_epoch = math.ceil(len(images) / cfg.batch_size)
    total = cfg.epochs * per_epoch

    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE_FILE
    start = 0
    if resume and state_path.exists():
        start = load_state(state_path, model, opt, device)
    elif state_path.exists():
        raise FileExistsError(f"{state_path} exists: pass resume=True (--resume) or use a new --out")
    elif cfg.init:
        _calibrate_head(model, images, targets, crop, device)
    log_path = out / "log.csv"
    new_log = not log_path.exists() or start == 0
    log = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["iteration", "epoch", "mse", "lr"])
    bar = tqdm(total=total, initial=start, disable=not cfg.progress, file=sys.stderr, desc="finetune")
    try:
        for it in range(start, total):
            lr = cfg.lr * cfg.lr_gamma ** ((it // per_epoch) // cfg.lr_step_epochs)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = _batch(images, targets, order, it, cfg, crop)
            loss = torch.nn.functional.mse_loss(model(x.to(device).contiguous(memory_format=layout)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} at iteration {it + 1}; lower --lr")
            if (it + 1) % per_epoch == 0:
                writer.writerow([it + 1, (it + 1) // per_epoch, f"{value:.5g}", f"{lr:.3g}"])
                log.flush()
            if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == total:
                save_state(state_path, model, opt, it + 1, cfg)
            bar.update(1)
    finally:
        bar.close()
        log.close()
    model.eval()
    _fold_standardisation(model, mean, std)
    card = {
        "arch": arch, "arch_kwargs": arch_kwargs, "protocol": "paper", "crop_size": crop,
        "higher_is_better": data.higher_is_better, "score_range": [float(raw.min()), float(raw.max())],
        "score_meaning": f"predicts {data.name} {data.score_name} "
                         f"({'higher' if data.higher_is_better else 'lower'} = better on that scale)",
        "preprocessing": {"input": "RGB float in [0,1]", "normalize": "ImageNet mean/std inside the model"},
        "training": {"stage": "finetune", "init": cfg.init, "init_training": init_card.get("training"),
                     "dataset": data.name, "images": len(samples), "references": len({s.ref for s in samples}),
                     "config": dataclasses.asdict(cfg) | {"out": None, "progress": None}},
    }
    path = out / MODEL_FILE
    save_checkpoint(path, model.state_dict(), card)
    (out / "target.json").write_text(json.dumps({"mean": mean, "std": std}))
    return path
