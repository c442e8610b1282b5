"""What a ranking run depends on (``PretrainConfig``, saved into its checkpoints) and its file names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.train.distortions import resolve_set, weighted_families
from rankiqa.train.losses import CROSS_SCOPES, DEFAULT_MARGIN, LOSSES, NET_TEACHER_LOSSES
from rankiqa.train.ranking_data import MIN_CROP, check_min_scale, list_images
from rankiqa.train.net_teacher import check_net_teacher
from rankiqa.train.teacher import resolve_teachers

__all__ = ["PretrainConfig", "split_refs", "STATE_FILE", "MODEL_FILE", "HELDOUT_SPLIT_SEED"]

STATE_FILE = "state.safetensors"
MODEL_FILE = "model.safetensors"
HELDOUT_SPLIT_SEED = 20170101  # fixed, so every run holds out the same photos


@dataclass
class PretrainConfig:
    """Everything a ranking run depends on; saved into its checkpoints."""

    refs: list[str]
    out: str
    families: str = "live"
    # Sampling weights of the full set's families (set or family name ->
    # integer; the warm-up stage and the held-out check stay unweighted).
    family_weights: dict[str, int] = field(default_factory=dict)
    # Curriculum: the first warmup_iters iterations train on warmup_families
    # (e.g. live_wide, which a random network learns to order in ~100
    # iterations) before the full set; 0 = off.
    warmup_families: str = ""
    warmup_iters: int = 0
    arch: str = "vgg16"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    iters: int = 50000
    groups_per_batch: int = 8
    # Groups of a batch that share one photo and crop under different families
    # (1 = every group its own photo, as the paper); see GroupBatchSampler.
    groups_per_photo: int = 1
    # Groups of a batch that share one family and its draw on different photos (1 = off); see
    # GroupBatchSampler. Does not combine with groups_per_photo.
    groups_per_family: int = 1
    crop_size: int = 224
    # Several training crop sizes, one per batch drawn from the seed (GroupBatchSampler); crop_size stays
    # the held-out check's and the card's. Empty = crop_size alone.
    train_crops: list[int] = field(default_factory=list)
    lr: float = 1e-4
    lr_step: int = 10000
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    margin: float = DEFAULT_MARGIN
    loss: str = "all_pairs"
    hard_every: int = 5000
    # Extra hinge over pairs of different photos at least this many levels
    # apart (0 = off, the paper's loss); see losses.cross_content_pairs.
    cross_gap: int = 0
    cross_weight: float = 1.0
    # "batch": any two photos of a batch; "family": only photos under one family (needs groups_per_family > 1
    # or cross_families).
    cross_scope: str = "batch"
    # Families (set or family names, comma-separated; "" = every family) whose items take part in the cross-photo
    # hinge: the families whose level numbers mean one quality on any photo. Scope "batch": with every group's
    # clean crop, across these families; "family": only photos under one of them, whatever the sampler drew.
    cross_families: str = ""
    # Extra hinge over any two items of a batch that full-reference teachers
    # (comma-separated names, "" = off) agree on by >= teacher_gap units;
    # see losses.teacher_pairs.
    teacher: str = ""
    teacher_gap: float = 1.0
    teacher_weight: float = 1.0
    # Teacher margin proportional to the teachers' gap (losses.teacher_loss(scaled=True)).
    teacher_scaled: bool = False
    # Several teachers as one: the mean of their scores in units (losses.mean_teacher) instead of
    # pairs that every teacher agrees on.
    teacher_mean: bool = False
    # Weight of 1 - the correlation of the score with the teachers (their mean in units) over every item of the
    # batch (losses.correlation_loss; 0 = off): the hinge leaves pairs under teacher_gap free, this asks the score
    # to follow the teacher's every step across photos and families, up to offset and scale.
    teacher_plcc: float = 0.0
    # Extra term over the items of the net_teacher_families (other photos included), ordered by the score of
    # frozen networks (comma-separated checkpoint ids, averaged in their calibrated logit units; "" = off); see
    # rankiqa.train.net_teacher.
    net_teacher: str = ""
    net_teacher_families: str = ""
    net_teacher_gap: float = 0.5
    net_teacher_weight: float = 1.0
    # Checkpoints that score the items of every other family ("" = those items stay out of the term): the
    # student is then held where these put the other families while net_teacher moves its own.
    net_teacher_rest: str = ""
    # "hinge": pairs apart by net_teacher_gap ordered with the margin; "plcc": 1 - the correlation with the
    # teacher's scores over those items (losses.correlation_loss), which follows its every step.
    net_teacher_loss: str = "hinge"
    # Weight of a hinge pulling the batch's clean crops to one score, within clean_tie_tolerance
    # (losses.clean_tie_loss; 0 = off).
    clean_tie: float = 0.0
    clean_tie_tolerance: float = 0.5
    # Content augmentation of the training photos (ranking_data.augment_photo): mirror images, and
    # downscales by a random factor in [min_scale, 1]; the held-out check sees the photos as they are.
    flip: bool = False
    min_scale: float = 1.0
    init: str | None = None  # checkpoint (file or manifest id) to start from instead of random weights
    # Grow the --init network to arch_kwargs' wider layers, keeping its function (rankiqa.train.widen).
    widen: bool = False
    seed: int = 0
    heldout: list[str] = field(default_factory=list)
    heldout_fraction: float = 0.1
    eval_every: int = 1000
    eval_groups: int = 64
    checkpoint_every: int = 500
    log_every: int = 10
    workers: int = 0
    device: str | None = None
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        for name in ("iters", "groups_per_batch", "lr_step", "checkpoint_every", "log_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("groups_per_photo", "groups_per_family"):
            if getattr(self, name) < 1 or self.groups_per_batch % getattr(self, name):
                raise ValueError(f"groups_per_batch ({self.groups_per_batch}) must be a multiple of {name} "
                                 f"({getattr(self, name)})")
        if self.groups_per_photo > 1 and self.groups_per_family > 1:
            raise ValueError("groups_per_photo and groups_per_family do not combine: set one to 1")
        if self.cross_scope not in CROSS_SCOPES:
            raise ValueError(f"unknown cross_scope {self.cross_scope!r}; choose from {', '.join(CROSS_SCOPES)}")
        if (self.cross_gap and self.cross_scope == "family" and self.groups_per_family < 2
                and not self.cross_families):
            raise ValueError("cross_scope 'family' compares photos under one family: set groups_per_family >= 2 "
                             "or name the families (cross_families)")
        if self.cross_families:
            if not self.cross_gap:
                raise ValueError("cross_families picks the items of the cross-photo hinge: set cross_gap >= 1")
            resolve_set(self.cross_families)  # names checked here, not at the first batch
        if not 0 <= self.heldout_fraction < 1:
            raise ValueError("heldout_fraction must be in [0, 1)")
        if self.cross_gap < 0 or self.cross_weight < 0:
            raise ValueError(f"cross_gap and cross_weight must be >= 0, got {self.cross_gap}, {self.cross_weight}")
        if self.clean_tie < 0 or self.clean_tie_tolerance < 0:
            raise ValueError(f"clean_tie and clean_tie_tolerance must be >= 0, got {self.clean_tie}, "
                             f"{self.clean_tie_tolerance}")
        check_min_scale(self.min_scale)
        if self.teacher_gap <= 0 or self.teacher_weight < 0:
            raise ValueError(f"teacher_gap must be > 0 and teacher_weight >= 0, got {self.teacher_gap}, "
                             f"{self.teacher_weight}")
        if self.teacher_plcc < 0 or (self.teacher_plcc and not self.teacher):
            raise ValueError(f"teacher_plcc must be >= 0 and needs a teacher, got {self.teacher_plcc}, "
                             f"teacher {self.teacher!r}")
        weighted_families(resolve_set(self.families), self.family_weights)
        if self.warmup_iters < 0 or bool(self.warmup_iters) != bool(self.warmup_families):
            raise ValueError("warmup_families and warmup_iters > 0 go together "
                             f"(got {self.warmup_families!r}, {self.warmup_iters})")
        if self.warmup_families:
            resolve_set(self.warmup_families)
        resolve_teachers(self.teacher)
        check_net_teacher(self.net_teacher, self.net_teacher_families, self.net_teacher_rest)
        if self.net_teacher_loss not in NET_TEACHER_LOSSES:
            raise ValueError(f"unknown net_teacher_loss {self.net_teacher_loss!r}; choose from "
                             f"{', '.join(NET_TEACHER_LOSSES)}")
        if self.net_teacher_gap <= 0 or self.net_teacher_weight < 0:
            raise ValueError(f"net_teacher_gap must be > 0 and net_teacher_weight >= 0, got {self.net_teacher_gap}, "
                             f"{self.net_teacher_weight}")
        if any(int(c) < MIN_CROP for c in self.train_crops):
            raise ValueError(f"train_crops must all be >= {MIN_CROP}, got {self.train_crops}")
        if self.widen and not self.init:
            raise ValueError("widen grows the --init network: pass --init")


def split_refs(refs: list[str], heldout: list[str], fraction: float) -> tuple[list[Path], list[Path]]:
    """Training and held-out photos: ``heldout`` if given, else a fixed ``fraction`` of ``refs``."""
    train = [p for r in refs for p in list_images(r)]
    if not train:
        raise ValueError(f"no images found in {refs}")
    if heldout:
        held = [p for r in heldout for p in list_images(r)]
        held_set = set(held)
        return [p for p in train if p not in held_set], held
    n_held = int(round(fraction * len(train)))
    perm = np.random.default_rng(HELDOUT_SPLIT_SEED).permutation(len(train))
    held_idx = set(perm[:n_held].tolist())
    return ([p for i, p in enumerate(train) if i not in held_idx],
            [p for i, p in enumerate(train) if i in held_idx])
