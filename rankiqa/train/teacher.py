"""Full-reference teachers: one quality scale across photos and distortion families.

RankIQA's loss only orders versions of one photo under one family, and level
numbers mean nothing between families. A *teacher* scores each training crop
against its own clean crop with full-reference metrics (from ``piq``, a
training-only dependency: ``pip install rankiqa[train]``), which puts every
item of a batch on one scale. The teacher hinge
(:func:`rankiqa.train.losses.teacher_loss`) then orders any two items of the
batch, different photos and families included, but only the
*quality-discriminable* pairs of dipIQ (Ma et al. 2017): every teacher must
agree on the order, each by at least ``gap`` of its :data:`UNITS`.

Teachers (higher = better here; GMSD-type metrics are negated):

============  =========================================================
``ms_gmsd``   multi-scale gradient magnitude similarity deviation
``gmsd``      gradient magnitude similarity deviation
``haarpsi``   Haar wavelet-based perceptual similarity
``vif``       visual information fidelity (pixel domain)
``fsim``      feature similarity (slow: ~30x ``haarpsi``)
``psnr``      peak signal-to-noise ratio, dB
============  =========================================================
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from rankiqa._names import unknown_name_message

__all__ = ["TEACHERS", "UNITS", "resolve_teachers", "teacher_scores"]

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _piq():
    try:
        import piq
    except ImportError:
        raise ImportError("the full-reference teachers need piq: pip install 'rankiqa[train]'") from None
    return piq


def _ms_gmsd(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return -_piq().multi_scale_gmsd(x, ref, data_range=1.0, reduction="none")


def _ms_gmsd_c(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    # MS-GMSD with its chromatic term (Zhang et al. 2017): sees colour faults that luminance gradients miss.
    return -_piq().multi_scale_gmsd(x, ref, data_range=1.0, chromatic=True, reduction="none")


def _mdsi(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    # Mean deviation similarity (Nafchi et al. 2016): gradient and chromaticity similarity; 0 = identical.
    return -_piq().mdsi(x, ref, data_range=1.0, reduction="none")


def _vsi(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return _piq().vsi(x, ref, data_range=1.0, reduction="none")


def _gmsd(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return -_piq().gmsd(x, ref, data_range=1.0, reduction="none")


def _haarpsi(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return _piq().haarpsi(x, ref, data_range=1.0, reduction="none")


def _vif(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return _piq().vif_p(x, ref, data_range=1.0, reduction="none")


def _fsim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return _piq().fsim(x, ref, data_range=1.0, reduction="none")


def _psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    # Capped at 60 dB so that a clean crop (infinite PSNR) stays finite.
    mse = ((x - ref) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-6))).clamp(max=60.0)


TEACHERS: dict[str, Metric] = {
    "ms_gmsd": _ms_gmsd, "gmsd": _gmsd, "haarpsi": _haarpsi, "vif": _vif, "fsim": _fsim, "psnr": _psnr,
    "ms_gmsd_c": _ms_gmsd_c, "mdsi": _mdsi, "vsi": _vsi,
}

#: One unit of each teacher for the pair gap: about the standard deviation of
#: the metric over 96 ranked groups of the ``broad`` set (128 px crops;
#: ``bench/teachers.py``; fsim not measured there, too slow), so that
#: a gap of 1 means "one typical spread apart" for every teacher.
UNITS: dict[str, float] = {"ms_gmsd": 0.072, "gmsd": 0.073, "haarpsi": 0.19, "vif": 0.28, "fsim": 0.1, "psnr": 6.9,
                           # over refs + refs_extra, 160 groups (bench/results/teachers.md, session 10)
                           "ms_gmsd_c": 0.078, "mdsi": 0.117, "vsi": 0.061}


def resolve_teachers(names: str | Sequence[str]) -> tuple[str, ...]:
    """Teacher names from a comma-separated string or a sequence; empty means none."""
    items = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    out = tuple(dict.fromkeys(n for n in items if n))
    for n in out:
        if n not in TEACHERS:
            raise ValueError(unknown_name_message("teacher", n, TEACHERS))
    return out


@torch.no_grad()
def teacher_scores(images: torch.Tensor, reference: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Scores ``[N, T]`` of ``images`` (``[N,3,H,W]`` in [0, 1]) against ``reference`` (``[3,H,W]``),
    one column per teacher in ``names``, each in its own units, higher = better."""
    if images.dim() != 4 or reference.shape != images.shape[1:]:
        raise ValueError(f"images must be [N,3,H,W] and reference [3,H,W] of the same size, got "
                         f"{tuple(images.shape)} and {tuple(reference.shape)}")
    ref = reference.unsqueeze(0).expand_as(images).contiguous()
    # Clip to [0, 1] exactly: piq checks the range, and float division can overshoot by an ulp.
    x = images.clamp(0.0, 1.0)
    return torch.stack([_run(n, x, ref) for n in names], dim=1)


def _run(name: str, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    try:
        return TEACHERS[name](x, ref).float()
    except (ValueError, AssertionError) as exc:  # piq validates sizes with both
        raise ValueError(f"teacher {name!r} cannot score {tuple(x.shape[-2:])} crops: {exc}") from None
