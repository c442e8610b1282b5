"""Frozen networks as a teacher: their crop scores order items across photos and families.

The full-reference teachers (:mod:`rankiqa.train.teacher`) compare each crop with its own
clean crop, an order a blind network cannot fully learn: on new content it does not reach
them (``docs/default_history.md``, sessions 13-21). A trained blind network is a teacher
of the student's own kind. Scored side by side on LIVE's types on unseen photos
(``bench/live_unseen.py``), the broad default and the LIVE-only ``rank-live-wide-cross``
make different errors across content, and their mean beats both.

Each network's raw crop score (higher = better) is put in the logit units of its own
calibration (``(raw - center) / scale``), so that one unit means the same
step of the human scale for every network, and the networks are averaged. Items of families
outside the chosen ones get the score of the ``net_teacher_rest`` networks (which hold them
where those networks put them), or NaN, which leaves them out of the teacher's term: a hinge over
pairs a gap apart (:func:`losses.teacher_pairs`) or a correlation (:func:`losses.correlation_loss`).
On the default, the hinge changed nothing and the correlation part of the way
(``bench/results/broad_session22.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from rankiqa.train.distortions import resolve_set

__all__ = ["net_teacher_scores", "parse_net_teacher", "check_net_teacher"]


def parse_net_teacher(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Checkpoint ids or files, from a comma-separated string or a sequence; empty = off."""
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else [str(n).strip() for n in spec]
    if any(not n for n in names) and any(names):
        raise ValueError(f"empty name in network teacher list {spec!r}")
    return tuple(n for n in names if n)


def check_net_teacher(net_teacher: str | Sequence[str], families: str,
                      rest: str | Sequence[str] = ()) -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """The network teacher's three settings, parsed and checked together: ``(teachers, families, rest)``.

    ``families`` is a family set (:func:`rankiqa.train.distortions.resolve_set`) and must be given exactly when
    ``net_teacher`` is; ``rest`` scores the families outside it, so it needs ``net_teacher``.
    """
    teachers, held = parse_net_teacher(net_teacher), parse_net_teacher(rest)
    if bool(teachers) != bool(families):
        raise ValueError(f"net_teacher and net_teacher_families go together (got {net_teacher!r}, {families!r})")
    if held and not teachers:
        raise ValueError(f"net_teacher_rest scores the families outside net_teacher_families: set net_teacher "
                         f"too (got net_teacher_rest {rest!r})")
    return teachers, frozenset(resolve_set(families) if families else ()), held


@lru_cache(maxsize=None)  # once per process: DataLoader workers load their own copy
def _load(name: str) -> tuple[torch.nn.Module, float, float, float]:
    """A frozen network (as ``rankiqa.load_model`` runs it) and ``(sign, center, scale)`` of its calibration."""
    from rankiqa.api import load_model

    scorer = load_model(name, device="cpu", precision="float32")
    if scorer.calibration is None:
        raise ValueError(f"network teacher {name}: it has no calibration, so its scores share no unit with "
                         "other networks (fit one: python -m rankiqa.train calibrate)")
    for p in scorer.model.parameters():
        p.requires_grad_(False)
    return (scorer.model.eval(), 1.0 if scorer.higher_is_better else -1.0, float(scorer.calibration["center"]),
            float(scorer.calibration["scale"]))


@torch.inference_mode()
def net_teacher_scores(names: Sequence[str], images: torch.Tensor) -> torch.Tensor:
    """``[N]`` scores of ``images`` (``[N,3,H,W]`` in [0, 1]) by the networks ``names``, higher = better."""
    if not names:
        raise ValueError("a network teacher needs at least one checkpoint")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [N,3,H,W], got {tuple(images.shape)}")
    out = torch.zeros(images.shape[0], dtype=torch.float32)
    for name in names:
        model, sign, center, scale = _load(name)
        raw = model(images.contiguous(memory_format=torch.channels_last)).float().reshape(-1)
        out += (sign * raw - center) / scale
    return out / len(names)
