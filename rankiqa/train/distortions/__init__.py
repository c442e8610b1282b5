"""Synthetic distortions with known quality order (RankIQA supplementary section 3, KADID-10k, capture).

Every family is a plain function ``(image, level, rng) -> image`` registered in
:data:`DISTORTIONS`. Images are HxWx3 ``uint8`` RGB arrays in and out; ``level``
runs from 1 (mildest) to :func:`num_levels` (strongest); ``rng`` is a
``numpy.random.Generator``. Use :func:`apply_distortion` for checked arguments,
seeds given as ints, and level 0 (the clean image).

The families live in modules by kind: :mod:`.blur`, :mod:`.noise`,
:mod:`.compression`, :mod:`.colour`, :mod:`.tone` (brightness and contrast),
:mod:`.spatial` and :mod:`.compound`; each holds its parameter tables
(merged into :data:`LEVELS`). Where the paper lists a TID2013 table from
strongest to mildest it is stored mildest first, so quality always falls
with the level.

Named sets (:data:`SETS`): ``live`` (4 families x 5 levels), ``live_wide``
(the same at 8 levels over LIVE's range), ``tid2013`` (the 17 synthesisable
TID2013 types, 19 families x 4 levels), ``mlive`` (2 combined families x 9
versions), ``kadid`` (the 25 KADID-10k types, 27 families x 5 levels: mean
shift and contrast change in both directions), ``capture`` (camera shake,
defocus, sensor noise, under- and over-exposure, resampling,
over-sharpening), ``compound`` (the camera-like chain and MLIVE's two),
``broad`` (live_wide + kadid + capture + the camera chain; the default
checkpoint adds ``kadid_color_diffusion_gain``) and ``all``.

Shared draws: for the families in :data:`SHARED_DRAW` (the newer ones), the
random part (noise pattern, blur path, block positions, chain order) is meant
to be drawn once per ranked group and only scaled by the level, so the
versions of a group differ in strength alone. :func:`apply_distortion` with
the same int seed does exactly that; the ranked-batch loader seeds each level
alike for these families. The older families keep one generator running
across the levels, so that their recipes reproduce.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from rankiqa._names import unknown_name_message
from rankiqa.train.distortions import blur, colour, compound, compression, noise, spatial, tone
from rankiqa.train.distortions._common import Distortion
from rankiqa.train.distortions.blur import gaussian_blur
from rankiqa.train.distortions.compression import (JP2K_MIN_SIDE, decode_rgb, jp2k_compress, jp2k_compress_bpp,
                                                   jpeg_compress)

__all__ = [
    "DISTORTIONS", "LEVELS", "SETS", "STOCHASTIC", "SHARED_DRAW", "Distortion",
    "apply_distortion", "num_levels", "rank_level", "resolve_set", "weighted_families", "level_rng",
    "gaussian_blur", "jpeg_compress", "jp2k_compress", "jp2k_compress_bpp", "decode_rgb", "JP2K_MIN_SIDE",
]

_MODULES = (blur, noise, compression, colour, tone, spatial, compound)
_ALL: dict[str, Distortion] = {name: fn for m in _MODULES for name, fn in m.FAMILIES.items()}

LEVELS: dict[str, tuple] = {name: table for m in _MODULES for name, table in m.LEVELS.items()}

# Registry order decides the item index of a ranked group, so the families
# of the first release keep their order (their recipes reproduce exactly).
_FIRST_RELEASE = (
    "gblur", "wn", "jpeg", "jp2k", "gblur_wide", "wn_wide", "jpeg_wide", "jp2k_wide",
    "tid_awgn", "tid_color_noise", "tid_hf_noise", "tid_impulse_noise", "tid_quantization_noise", "tid_gblur",
    "tid_denoising", "tid_jpeg", "tid_jp2k", "tid_pattern_noise", "tid_block", "tid_mean_shift_down",
    "tid_mean_shift_up", "tid_contrast_down", "tid_contrast_up", "tid_saturation", "tid_multiplicative_noise",
    "tid_color_quantization", "tid_chromatic_aberration", "mlive_gblur_jpeg", "mlive_gblur_wn",
)
_KADID = (
    "kadid_gblur", "kadid_lens_blur", "kadid_motion_blur", "kadid_color_diffusion", "kadid_color_shift",
    "kadid_color_quantization", "kadid_saturation_down", "kadid_saturation_up", "kadid_jp2k", "kadid_jpeg",
    "kadid_white_noise", "kadid_color_noise", "kadid_impulse_noise", "kadid_multiplicative_noise", "kadid_denoise",
    "kadid_brighten", "kadid_darken", "kadid_mean_shift_up", "kadid_mean_shift_down", "kadid_jitter", "kadid_patch",
    "kadid_pixelate", "kadid_quantization", "kadid_color_block", "kadid_high_sharpen", "kadid_contrast_down",
    "kadid_contrast_up",
)
_CAPTURE = ("camera_shake", "defocus", "sensor_noise", "underexposure", "overexposure", "resample", "oversharpen")

DISTORTIONS: dict[str, Distortion] = {name: _ALL[name] for name in _FIRST_RELEASE + _KADID + _CAPTURE}
DISTORTIONS.update({name: fn for name, fn in _ALL.items() if name not in DISTORTIONS})

#: Families whose output depends on ``rng`` (the others are deterministic).
STOCHASTIC = frozenset().union(*(getattr(m, "STOCHASTIC", frozenset()) for m in _MODULES))
#: Families whose random draw is one per ranked group (see the module docstring).
SHARED_DRAW = frozenset().union(*(getattr(m, "SHARED_DRAW", frozenset()) for m in _MODULES))

SETS: dict[str, tuple[str, ...]] = {
    "live": ("gblur", "wn", "jpeg", "jp2k"),
    "tid2013": tuple(n for n in _FIRST_RELEASE if n.startswith("tid_")),
    "mlive": ("mlive_gblur_jpeg", "mlive_gblur_wn"),
    "live_wide": ("gblur_wide", "wn_wide", "jpeg_wide", "jp2k_wide"),
    "kadid": _KADID,
    "capture": _CAPTURE,
    "compound": ("camera_chain", "mlive_gblur_jpeg", "mlive_gblur_wn"),
}
SETS["broad"] = SETS["live_wide"] + _KADID + _CAPTURE + ("camera_chain",)
SETS["all"] = tuple(DISTORTIONS)


def num_levels(name: str) -> int:
    """Number of distortion levels of a family (level 0, the clean image, not counted)."""
    _check_name(name)
    return len(LEVELS[name])


def rank_level(name: str, level: int) -> int:
    """The rank of a level used to decide which versions are comparable.

    Single distortions, and the camera chain (every stage grows with the
    level), rank by level. The MLIVE families rank their 3x3 versions by
    combined severity ``b + s - 1`` (blur level b, second stage s, 1..3
    each), as the supplementary orders them: versions of equal combined
    severity are not compared, any two of different combined severity are
    (the one with the larger blur+second-stage sum is the worse one).
    """
    if name.startswith("mlive_") and level > 0:
        b, s = divmod(level - 1, 3)
        return b + s + 1
    return level


def level_rng(family: str, group_seed: int | Sequence[int], running: np.random.Generator) -> np.random.Generator:
    """The generator for one level of a group of versions of one image.

    For :data:`SHARED_DRAW` families a fresh generator from ``group_seed``, the
    same at every level (one random draw, scaled by the level); for the others
    ``running``, the caller's generator (one stream across the levels).
    """
    return np.random.default_rng(group_seed) if family in SHARED_DRAW else running


def resolve_set(name_or_names: str | Sequence[str]) -> tuple[str, ...]:
    """Family names of a named set (see :data:`SETS`), a comma-separated list
    of sets/families, or a sequence of family names."""
    items = name_or_names.split(",") if isinstance(name_or_names, str) else list(name_or_names)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if item in SETS:
            out.extend(SETS[item])
        else:
            if item not in DISTORTIONS:
                raise ValueError(unknown_name_message("distortion set or family", item,
                                                      list(SETS) + list(DISTORTIONS)))
            out.append(item)
    if not out:
        raise ValueError("no distortion family given")
    return tuple(dict.fromkeys(out))


def weighted_families(families: Sequence[str], weights: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """``families`` with each one repeated by its integer sampling weight.

    ``weights`` maps set or family names (see :func:`resolve_set`) to a
    positive integer; a family named by several keys takes the largest, the
    others keep weight 1. A ranked dataset over the result draws a weighted
    family ``w`` times as often; without weights the order (and so every old
    recipe's batch stream) is unchanged.
    """
    if not weights:
        return tuple(families)
    per_family: dict[str, int] = {}
    for key, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"family weight of {key!r} must be a positive integer, got {w!r}")
        for name in resolve_set(key):
            if name not in families:
                raise ValueError(f"family weight {key!r}: {name!r} is not among the training families")
            per_family[name] = max(per_family.get(name, 1), w)
    return tuple(name for name in families for _ in range(per_family.get(name, 1)))


def _check_name(name: str) -> None:
    if name not in DISTORTIONS:
        raise ValueError(unknown_name_message("distortion family", name, list(DISTORTIONS)))


def apply_distortion(name: str, image: np.ndarray, level: int,
                     rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Distort ``image`` (HxWx3 uint8 RGB) with family ``name`` at ``level``.

    Level 0 returns a copy of the clean image. ``rng`` is a Generator, an int
    seed or None (fresh entropy); the same seed gives identical output.
    """
    _check_name(name)
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape HxWx3, got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise ValueError(f"level must be an int, got {level!r}")
    n = len(LEVELS[name])
    if not 0 <= level <= n:
        raise ValueError(f"level {level} out of range for {name!r}: 0..{n}")
    if level == 0:
        return image.copy()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return DISTORTIONS[name](np.ascontiguousarray(image), int(level), gen)
