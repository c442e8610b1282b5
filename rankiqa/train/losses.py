"""Pairwise hinge ranking losses over one forward pass (RankIQA Eq. 1, 5-12).

A pair (i, j) is *comparable* when both images come from the same group
(photo and family) and their levels differ; the lower level is the better
image and should score higher by at least ``margin``:
``max(0, s_worse - s_better + margin)``.

:func:`all_pairs_ranking_loss` averages the hinge over every comparable pair
of the batch. Autograd of it is exactly the paper's P-matrix gradient
(Eq. 7-12): each image's gradient is the signed count of violated pairs it is
in, over the number of pairs. :func:`random_pairs_loss` (standard Siamese) and
:func:`hard_negative_loss` are the baselines the paper compares against.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["DEFAULT_MARGIN", "RankingLoss", "comparable_pairs", "all_pairs_ranking_loss",
           "random_pairs", "random_pairs_loss", "hard_negative_loss", "hard_fraction", "LOSSES",
           "cross_content_pairs", "cross_content_loss", "teacher_pairs", "mean_teacher", "teacher_loss",
           "clean_tie_loss", "correlation_loss", "NET_TEACHER_LOSSES"]

#: The margin of RankIQA's own LIVE loss layer (``netloss_live.py``).
DEFAULT_MARGIN = 10.0


class RankingLoss(NamedTuple):
    """Loss value and its bookkeeping for one batch."""

    loss: torch.Tensor
    num_pairs: int
    violated: float  # share of pairs whose hinge is active (margin not met)
    accuracy: float  # share of pairs ordered correctly (s_better > s_worse)


def _check(scores: torch.Tensor, **per_item: torch.Tensor) -> None:
    """Raise unless ``scores`` is 1-D and every named tensor of ``per_item`` has its shape."""
    if scores.dim() != 1:
        raise ValueError(f"scores must be 1-D [M], got shape {tuple(scores.shape)}")
    if any(t.shape != scores.shape for t in per_item.values()):
        names = ["scores", *per_item]
        raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} must have the same shape, got "
                         + ", ".join(str(tuple(t.shape)) for t in (scores, *per_item.values())))


def comparable_pairs(groups: torch.Tensor, levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors ``(better, worse)`` of every comparable pair."""
    same = groups[:, None] == groups[None, :]
    better_than = levels[:, None] < levels[None, :]
    return torch.nonzero(same & better_than, as_tuple=True)


def _hinge(scores: torch.Tensor, better: torch.Tensor, worse: torch.Tensor, margin: float | torch.Tensor
           ) -> RankingLoss:
    n = int(better.numel())
    if n == 0:
        return RankingLoss(scores.sum() * 0.0, 0, 0.0, 0.0)
    diff = scores[worse] - scores[better]
    hinge = torch.clamp(diff + margin, min=0.0)
    with torch.no_grad():
        violated = float((hinge > 0).float().mean())
        accuracy = float((diff < 0).float().mean())
    return RankingLoss(hinge.mean(), n, violated, accuracy)


def all_pairs_ranking_loss(scores: torch.Tensor, groups: torch.Tensor, levels: torch.Tensor,
                           margin: float = DEFAULT_MARGIN) -> RankingLoss:
    """Hinge ranking loss averaged over all comparable pairs of the batch."""
    _check(scores, groups=groups, levels=levels)
    better, worse = comparable_pairs(groups, levels)
    return _hinge(scores, better, worse, margin)


def random_pairs(groups: torch.Tensor, levels: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard Siamese sampling: up to M/2 random comparable pairs, each image in one pair.

    Images are shuffled and paired within their group; a pair of equal levels
    is dropped, and so is the odd one out of a group.
    """
    perm = torch.randperm(groups.numel(), generator=generator)
    order = perm[torch.argsort(groups[perm], stable=True)]  # shuffled within each group
    g = groups[order]
    # Pair positions (0,1), (2,3), ... of each group's run.
    starts = torch.ones_like(g, dtype=torch.bool)
    starts[1:] = g[1:] != g[:-1]
    run_start = torch.cummax(torch.where(starts, torch.arange(g.numel()), 0), 0).values
    pos = torch.arange(g.numel()) - run_start
    first = torch.nonzero((pos % 2 == 0), as_tuple=True)[0]
    first = first[first + 1 < g.numel()]
    first = first[g[first] == g[first + 1]]
    a, b = order[first], order[first + 1]
    keep = levels[a] != levels[b]
    a, b = a[keep], b[keep]
    swap = levels[a] > levels[b]
    return torch.where(swap, b, a), torch.where(swap, a, b)


def random_pairs_loss(scores: torch.Tensor, groups: torch.Tensor, levels: torch.Tensor,
                      margin: float = DEFAULT_MARGIN, generator: torch.Generator | None = None) -> RankingLoss:
    """Hinge loss over the pairs of :func:`random_pairs` (the standard Siamese baseline)."""
    _check(scores, groups=groups, levels=levels)
    better, worse = random_pairs(groups, levels, generator)
    return _hinge(scores, better, worse, margin)


def hard_fraction(iteration: int, every: int = 5000, step: float = 0.1, maximum: float = 0.5) -> float:
    """Share of hard pairs for hard-negative mining: grows by ``step`` every ``every`` iterations."""
    return min(maximum, step * (iteration // every))


def hard_negative_loss(scores: torch.Tensor, groups: torch.Tensor, levels: torch.Tensor,
                       fraction: float, margin: float = DEFAULT_MARGIN,
                       generator: torch.Generator | None = None) -> RankingLoss:
    """Hard-negative mining as in the paper: M/2 pairs, of which ``fraction`` are the
    comparable pairs with the largest current hinge and the rest random pairs."""
    _check(scores, groups=groups, levels=levels)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    rb, rw = random_pairs(groups, levels, generator)
    budget = int(rb.numel())
    n_hard = int(round(fraction * budget))
    if n_hard == 0:
        return _hinge(scores, rb, rw, margin)
    ab, aw = comparable_pairs(groups, levels)
    with torch.no_grad():
        hardness = scores[aw] - scores[ab]
    top = torch.topk(hardness, min(n_hard, hardness.numel())).indices
    better = torch.cat([ab[top], rb[: budget - top.numel()]])
    worse = torch.cat([aw[top], rw[: budget - top.numel()]])
    return _hinge(scores, better, worse, margin)


def cross_content_pairs(groups: torch.Tensor, levels: torch.Tensor, min_gap: int,
                        blocks: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors ``(better, worse)`` of pairs from *different* groups whose
    levels differ by at least ``min_gap``; with ``blocks`` (one id per item),
    only pairs inside one block.

    Not part of RankIQA: its loss only compares versions of one photo, so
    nothing ties the scores of two photos together and image content shifts
    the score. A large level gap (e.g. a clean photo against another photo
    at a severe level) is a safe order across content, and pins the scale.
    Level numbers mean little between families, so ``blocks`` marking the
    groups of one family (GroupBatchSampler's ``per_family``) keeps the
    comparison to one distortion at known settings on other content.
    """
    if min_gap < 1:
        raise ValueError(f"min_gap must be >= 1, got {min_gap}")
    pairs = (groups[:, None] != groups[None, :]) & (levels[None, :] - levels[:, None] >= min_gap)
    if blocks is not None:
        if blocks.shape != groups.shape:
            raise ValueError(f"blocks must match groups' shape {tuple(groups.shape)}, got {tuple(blocks.shape)}")
        pairs &= blocks[:, None] == blocks[None, :]
    return torch.nonzero(pairs, as_tuple=True)


def cross_content_loss(scores: torch.Tensor, groups: torch.Tensor, levels: torch.Tensor, min_gap: int,
                       margin: float = DEFAULT_MARGIN, blocks: torch.Tensor | None = None) -> RankingLoss:
    """Hinge loss averaged over :func:`cross_content_pairs`."""
    _check(scores, groups=groups, levels=levels)
    better, worse = cross_content_pairs(groups, levels, min_gap, blocks)
    return _hinge(scores, better, worse, margin)


def teacher_pairs(teacher: torch.Tensor, units: torch.Tensor, gap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors ``(better, worse)`` of the quality-discriminable pairs of a batch.

    ``teacher`` is ``[M, T]`` (full-reference scores, higher = better, see
    :mod:`rankiqa.train.teacher`), ``units`` ``[T]`` the scale of each column.
    A pair of *any* two items (other photos and families included) counts when
    every teacher prefers the same item by at least ``gap`` units (dipIQ's
    quality-discriminable pairs, Ma et al. 2017): where the teachers disagree
    or differ little, the order is left to the network. An item with a
    non-finite teacher score is in no pair.
    """
    if teacher.dim() != 2 or units.shape != teacher.shape[1:]:
        raise ValueError(f"teacher must be [M, T] and units [T], got {tuple(teacher.shape)}, {tuple(units.shape)}")
    if gap <= 0:
        raise ValueError(f"gap must be > 0, got {gap}")
    diff = (teacher[:, None, :] - teacher[None, :, :]) / units  # [i, j, t]: how much i beats j
    # A teacher can fail on a degenerate crop (HaarPSI is a logit, infinite at a perfect match): no pairs then.
    diff = diff.masked_fill(~torch.isfinite(diff), float("nan"))
    return torch.nonzero((diff >= gap).all(dim=2), as_tuple=True)


def mean_teacher(teacher: torch.Tensor, units: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Several teachers ``[M, T]`` as one ``[M, 1]``: the mean of their scores in their ``units``, in units of 1.

    Where :func:`teacher_pairs` keeps only the pairs every teacher agrees on, the
    mean lets one teacher's confidence outvote another's doubt: on KADID's human
    scale HaarPSI and VSI together (0.825) beat either alone (0.809, 0.794).
    """
    if teacher.dim() != 2 or units.shape != teacher.shape[1:]:
        raise ValueError(f"teacher must be [M, T] and units [T], got {tuple(teacher.shape)}, {tuple(units.shape)}")
    return (teacher / units).mean(dim=1, keepdim=True), units.new_ones(1)


def teacher_loss(scores: torch.Tensor, teacher: torch.Tensor, units: torch.Tensor, gap: float,
                 margin: float = DEFAULT_MARGIN, scaled: bool = False) -> RankingLoss:
    """Hinge loss averaged over :func:`teacher_pairs`.

    ``scaled``: each pair's margin is ``margin`` times the teachers' gap in
    units (the smallest over teachers), so that the score gap grows with the
    teacher's: a fixed margin only asks for the order, and leaves how far
    apart two distortion types sit to the within-family hinges.
    """
    if scores.dim() != 1 or teacher.shape[0] != scores.shape[0]:
        raise ValueError(f"scores [M] and teacher [M, T] must agree, got {tuple(scores.shape)}, "
                         f"{tuple(teacher.shape)}")
    better, worse = teacher_pairs(teacher, units, gap)
    if scaled:
        gaps = ((teacher[better] - teacher[worse]) / units).min(dim=1).values
        return _hinge(scores, better, worse, margin * gaps.to(scores.dtype))
    return _hinge(scores, better, worse, margin)


def clean_tie_loss(scores: torch.Tensor, levels: torch.Tensor, tolerance: float) -> RankingLoss:
    """Hinge ``max(0, |s_i - s_j| - tolerance)`` averaged over every pair of clean items (level 0) of a batch.

    Nothing else ties the clean crops of different photos (or of one photo's flat and
    textured regions) together: every ranking hinge is relative, and a teacher gives
    two clean crops the same score, so their pair never counts. Left alone, the
    network spreads clean crops by content (10-90% range) about as widely as the
    drop from clean to the severest level, and that offset moves every version of a photo.
    Reference photos are pristine by assumption (as LIVE's and KADID's are), so they
    should score alike. ``accuracy`` here is the share of pairs within ``tolerance``.
    """
    _check(scores, levels=levels)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    clean = torch.nonzero(levels == 0, as_tuple=True)[0]
    i, j = torch.triu_indices(len(clean), len(clean), offset=1, device=clean.device)
    n = int(i.numel())
    if n == 0:
        return RankingLoss(scores.sum() * 0.0, 0, 0.0, 0.0)
    excess = torch.clamp((scores[clean[i]] - scores[clean[j]]).abs() - tolerance, min=0.0)
    with torch.no_grad():
        violated = float((excess > 0).float().mean())
    return RankingLoss(excess.mean(), n, violated, 1.0 - violated)


LOSSES = ("all_pairs", "random_pairs", "hard_negative")
# What the cross-photo hinge compares: any two photos of a batch, or only photos under one family.
CROSS_SCOPES = ("batch", "family")


#: How the network teacher's scores are followed (``PretrainConfig.net_teacher_loss``).
NET_TEACHER_LOSSES = ("hinge", "plcc")


def correlation_loss(scores: torch.Tensor, target: torch.Tensor, gap: float) -> RankingLoss:
    """``1 - PLCC`` of ``scores`` with ``target`` (``[M]``) over the items whose target is finite.

    A hinge only asks pairs a gap apart to be ordered; a correlation asks the student to follow every step
    of the target, up to offset and scale, so that it is one unit-free term whatever the target's scale.
    Fewer than three items with a target give zero. The bookkeeping counts the target's pairs at ``gap``
    (:func:`teacher_pairs`) and how many the scores order.
    """
    _check(scores, target=target)
    keep = torch.isfinite(target)
    better, worse = teacher_pairs(target[:, None], target.new_ones(1), gap)
    with torch.no_grad():
        accuracy = float((scores[better] > scores[worse]).float().mean()) if better.numel() else 0.0
    if int(keep.sum()) < 3:
        return RankingLoss(scores.sum() * 0.0, int(better.numel()), 0.0, accuracy)
    s, t = scores[keep], target[keep].to(scores.dtype)
    s, t = s - s.mean(), t - t.mean()
    r = (s * t).sum() / (s.norm() * t.norm()).clamp_min(1e-12)
    return RankingLoss(1.0 - r, int(better.numel()), 0.0, accuracy)
