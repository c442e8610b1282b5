"""Ranked batches: groups of one photo under one distortion family at every level.

A *group* is one reference photo, one family, the clean image (level 0) plus
every level, all cropped at the **same** random location. The distortion is
applied to the crop plus a margin (:data:`MARGIN` pixels, clipped to the
photo), so blur spreads and JPEG blocks sit exactly as in the full image:
the region is aligned to the 16-pixel JPEG MCU grid of the photo.

Photos smaller than the crop are mirror-padded to the crop size
(:func:`rankiqa.protocols.pad_to_min_size`): no resampling, which would add
blur of its own.

Randomness is a pure function of ``(seed, draw index)``: a batch depends on
its position in the stream only, whichever DataLoader worker makes it. This
is what lets a resumed training run see exactly the batches it would have.
Families in :data:`~rankiqa.train.distortions.SHARED_DRAW` get the same
random numbers at every level of a group (one noise pattern or blur path,
scaled by the level); the others one generator running across the levels.

``flip`` and ``min_scale`` vary a photo's content between draws: a mirror
image, and a downscale by a random factor in ``[min_scale, 1]`` (antialiased,
before the crop and the distortions, so a level means what it meant). Both
come from their own stream of the draw, so turning them on leaves the crop
position and the distortions' random numbers of every group as they were.

With ``teachers`` each group also carries full-reference scores of every
image against its clean crop (:mod:`rankiqa.train.teacher`), computed here,
in the loader's workers, so the training step does not wait for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from rankiqa.io import IMAGE_SUFFIXES
from rankiqa.protocols import pad_to_min_size
from rankiqa.train.distortions import (LEVELS, apply_distortion, level_rng, rank_level, resolve_set,
                                        weighted_families)
from rankiqa.train.net_teacher import check_net_teacher, net_teacher_scores
from rankiqa.train.teacher import resolve_teachers, teacher_scores

__all__ = ["list_images", "read_rgb", "augment_photo", "check_min_scale", "RankedGroups", "GroupBatchSampler",
           "collate_groups", "make_loader", "MARGIN", "MIN_CROP"]

MARGIN = 32
_MCU = 16
MIN_CROP = 16  # smallest training crop


def list_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (sorted, by extension), or ``[root]`` if it is a file."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no such file or folder: {root}")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_rgb(path: str | Path, min_size: int = 0) -> np.ndarray:
    """An image file as an HxWx3 uint8 RGB array, mirror-padded to at least ``min_size`` a side."""
    with Image.open(path) as im:
        image = np.asarray(im.convert("RGB"))
    return pad_to_min_size(image, min_size, channels_last=True) if min_size else image


def check_min_scale(min_scale: float) -> None:
    """Raise ``ValueError`` unless ``min_scale`` is a downscale factor in (0, 1]."""
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")


def augment_photo(photo: np.ndarray, rng: np.random.Generator, flip: bool = False, min_scale: float = 1.0,
                  min_size: int = 0) -> np.ndarray:
    """``photo`` mirrored (with probability 1/2 if ``flip``) and downscaled by a factor in ``[min_scale, 1]``.

    The factor never takes the shorter side under ``min_size``; ``rng`` is drawn
    from only for what is turned on.
    """
    check_min_scale(min_scale)
    if flip and rng.random() < 0.5:
        photo = photo[:, ::-1]
    if min_scale < 1:
        h, w = photo.shape[:2]
        factor = max(float(rng.uniform(min_scale, 1.0)), min_size / min(h, w))
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        if factor < 1 and size != (w, h):
            photo = np.asarray(Image.fromarray(np.ascontiguousarray(photo)).resize(size, Image.Resampling.BICUBIC))
    return photo


class RankedGroups(Dataset):
    """Map-style dataset of ranked groups over ``refs`` x ``families``.

    An index is a ``(item, draw)`` pair from :class:`GroupBatchSampler`:
    ``item`` picks the (photo, family), ``draw`` seeds the crop position and
    the stochastic distortions; a third entry, when the sampler mixes crop
    sizes, is this group's crop size (at most ``crop_size``). Each item
    returns ``(images, levels)``: uint8 ``[n, 3, crop, crop]`` and the rank
    level of each image; with ``teachers``, ``(images, levels, teacher
    scores float [n, T])``.
    ``net_teacher`` (checkpoint ids) adds one more teacher column, the frozen
    networks' score (:mod:`rankiqa.train.net_teacher`), for items of the
    families in ``net_teacher_families``; items of the other families get the
    score of the networks ``net_teacher_rest``, or NaN without them.
    ``family_weights`` (set or family name -> integer) draws those families
    more often (:func:`~rankiqa.train.distortions.weighted_families`).
    ``flip`` and ``min_scale`` augment the photo (:func:`augment_photo`).
    """

    def __init__(self, refs: Sequence[str | Path], families: str | Sequence[str] = "live",
                 crop_size: int = 224, seed: int = 0, cache_images: bool = False,
                 teachers: str | Sequence[str] = (), family_weights: Mapping[str, int] | None = None,
                 flip: bool = False, min_scale: float = 1.0, net_teacher: str | Sequence[str] = (),
                 net_teacher_families: str = "", net_teacher_rest: str | Sequence[str] = ()):
        check_min_scale(min_scale)
        self.flip, self.min_scale = flip, min_scale
        self.refs = [Path(r) for r in refs]
        if not self.refs:
            raise ValueError("no reference photos given")
        self.families = weighted_families(resolve_set(families), family_weights)
        if crop_size < MIN_CROP:
            raise ValueError(f"crop_size must be >= {MIN_CROP}, got {crop_size}")
        self.crop_size = crop_size
        self.seed = seed
        self.teachers = resolve_teachers(teachers)
        self.net_teacher, self.net_teacher_families, self.net_teacher_rest = check_net_teacher(
            net_teacher, net_teacher_families, net_teacher_rest)
        self._cache: dict[int, np.ndarray] | None = {} if cache_images else None

    def __len__(self) -> int:
        return len(self.refs) * len(self.families)

    def _photo(self, i: int) -> np.ndarray:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        img = read_rgb(self.refs[i], self.crop_size)
        if self._cache is not None:
            self._cache[i] = img
        return img

    def __getitem__(self, index: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        item, draw, *crop = index
        c = int(crop[0]) if crop else self.crop_size
        if not MIN_CROP <= c <= self.crop_size:
            raise ValueError(f"crop size {c} outside [{MIN_CROP}, {self.crop_size}] (the dataset's crop_size)")
        ref_i, fam_i = divmod(int(item), len(self.families))
        family = self.families[fam_i]
        photo = self._photo(ref_i)
        if self.flip or self.min_scale < 1:
            photo = augment_photo(photo, np.random.default_rng([self.seed, int(draw), 2]), self.flip,
                                  self.min_scale, self.crop_size)
        rng = np.random.default_rng([self.seed, int(draw)])
        region, (oy, ox) = _region_around_crop(photo, c, rng)
        images = [region[oy:oy + c, ox:ox + c]]
        levels = [0]
        for level in range(1, len(LEVELS[family]) + 1):
            out = apply_distortion(family, region, level, level_rng(family, [self.seed, int(draw), 1], rng))
            images.append(out[oy:oy + c, ox:ox + c])
            levels.append(rank_level(family, level))
        stack = torch.from_numpy(np.ascontiguousarray(np.stack(images))).permute(0, 3, 1, 2).contiguous()
        levels_t = torch.tensor(levels, dtype=torch.long)
        if not self.teachers and not self.net_teacher:
            return stack, levels_t
        x = stack.float().div_(255.0)
        columns = [teacher_scores(x, x[0], self.teachers)] if self.teachers else []
        if self.net_teacher:
            names = self.net_teacher if family in self.net_teacher_families else self.net_teacher_rest
            columns.append((net_teacher_scores(names, x) if names
                            else torch.full((len(x),), float("nan"))).unsqueeze(1))
        return stack, levels_t, torch.cat(columns, dim=1)


def _region_around_crop(photo: np.ndarray, crop: int, rng: np.random.Generator
                        ) -> tuple[np.ndarray, tuple[int, int]]:
    """Pick a crop, return the MCU-aligned region around it and the crop's offset in it."""
    h, w = photo.shape[:2]
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    y0 = max(0, (y - MARGIN) // _MCU * _MCU)
    x0 = max(0, (x - MARGIN) // _MCU * _MCU)
    y1 = min(h, y + crop + MARGIN)
    x1 = min(w, x + crop + MARGIN)
    return photo[y0:y1, x0:x1], (y - y0, x - x0)


class GroupBatchSampler(Sampler[list[tuple[int, ...]]]):
    """Yields batches of ``groups_per_batch`` ``(item, draw)`` pairs, forever or ``num_batches``.

    Items are visited in per-epoch permutations; batch ``k`` is a pure function
    of ``(seed, k)``, so ``start`` resumes the stream exactly. With
    ``num_replicas > 1`` (DDP) each rank takes every ``num_replicas``-th group.

    ``per_photo > 1`` (with ``families``, the dataset's family list) makes each
    visited item bring ``per_photo - 1`` other families of the same photo, at
    the same crop (one shared draw): the batch then holds versions of one
    scene under different distortions, the pairs a cross-type teacher can
    order without the photos' content getting in the way.

    ``per_family > 1`` (with ``families``) makes each visited item bring
    ``per_family - 1`` other photos under the same family, with the same draw
    (the same distortion parameters and realisation on other content, as LIVE
    applies one setting to every reference): pairs of one family across
    photos, which a level-gap hinge can order (losses.cross_content_pairs with
    ``blocks``). ``per_photo`` and ``per_family`` do not combine.

    ``crop_sizes`` gives each batch one of them, drawn from
    ``(seed, k)``, as a third entry of every index (the dataset's
    ``crop_size`` must be their maximum): one network learns every scale.
    """

    def __init__(self, num_items: int, groups_per_batch: int, seed: int = 0, start: int = 0,
                 num_batches: int | None = None, rank: int = 0, num_replicas: int = 1,
                 per_photo: int = 1, families: Sequence[str] = (), crop_sizes: Sequence[int] = (),
                 per_family: int = 1):
        if groups_per_batch < 1:
            raise ValueError("groups_per_batch must be >= 1")
        for name, n in (("per_photo", per_photo), ("per_family", per_family)):
            if n < 1 or groups_per_batch % n:
                raise ValueError(f"groups_per_batch ({groups_per_batch}) must be a multiple of {name} ({n})")
        if per_photo > 1 and per_family > 1:
            raise ValueError(f"per_photo ({per_photo}) and per_family ({per_family}) do not combine: set one to 1")
        if per_photo > 1 and (len(set(families)) < per_photo or num_items % len(families)):
            raise ValueError(f"per_photo={per_photo} needs the dataset's families, at least {per_photo} distinct")
        if per_family > 1 and (not families or num_items % len(families) or num_items // len(families) < per_family):
            raise ValueError(f"per_family={per_family} needs the dataset's families and at least {per_family} photos")
        self.crop_sizes = [int(c) for c in crop_sizes]
        self.num_items = num_items
        self.groups = groups_per_batch
        self.seed = seed
        self.start = start
        self.num_batches = num_batches
        self.rank = rank
        self.replicas = num_replicas
        self.per_photo = per_photo
        self.per_family = per_family
        self.families = list(families)

    def __len__(self) -> int:
        if self.num_batches is None:
            raise TypeError("infinite sampler has no length")
        return max(0, self.num_batches - self.start)

    def batch(self, k: int) -> list[tuple[int, ...]]:
        """The ``k``-th batch of this rank."""
        slots = self.groups // (self.per_photo * self.per_family)
        first = (k * self.replicas + self.rank) * slots
        out = []
        for draw in range(first, first + slots):
            epoch, pos = divmod(draw, self.num_items)
            perm = np.random.default_rng([self.seed, 7919, epoch]).permutation(self.num_items)
            item = int(perm[pos])
            out.append((item, draw))
            if self.per_photo > 1:
                out.extend((item - item % len(self.families) + f, draw) for f in self._other_families(item, draw))
            if self.per_family > 1:
                out.extend((p * len(self.families) + item % len(self.families), draw)
                           for p in self._other_photos(item, draw))
        if self.crop_sizes:
            pick = np.random.default_rng([self.seed, 15485863, k]).integers(len(self.crop_sizes))
            crop = self.crop_sizes[int(pick)]
            out = [(item, draw, crop) for item, draw in out]
        return out

    def _other_families(self, item: int, draw: int) -> list[int]:
        """``per_photo - 1`` family indices (weighted like the dataset's list), none named like another."""
        fams = self.families
        rng = np.random.default_rng([self.seed, 104729, draw])
        taken, out = {fams[item % len(fams)]}, []
        for f in rng.permutation(len(fams)):
            if fams[f] not in taken and len(out) < self.per_photo - 1:
                taken.add(fams[f])
                out.append(int(f))
        return out

    def _other_photos(self, item: int, draw: int) -> list[int]:
        """``per_family - 1`` photo indices other than ``item``'s, drawn without replacement."""
        photos = self.num_items // len(self.families)
        rng = np.random.default_rng([self.seed, 130363, draw])
        own = item // len(self.families)
        return [int(p) for p in rng.permutation(photos) if p != own][: self.per_family - 1]

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        k = self.start
        while self.num_batches is None or k < self.num_batches:
            yield self.batch(k)
            k += 1


def collate_groups(groups: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Concatenate groups into ``(images float [M,3,c,c] in [0,1], group ids [M], levels [M])``,
    plus ``teacher scores [M, T]`` when the groups carry them."""
    images = torch.cat([g[0] for g in groups]).float().div_(255.0)
    levels = torch.cat([g[1] for g in groups])
    ids = torch.cat([torch.full((len(g[1]),), i, dtype=torch.long) for i, g in enumerate(groups)])
    if len(groups[0]) > 2:
        return images, ids, levels, torch.cat([g[2] for g in groups])
    return images, ids, levels


def _seed_worker(worker_id: int) -> None:
    # Distortion randomness comes from each draw's own seed; this only tames
    # libraries that read the global state.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    torch.set_num_threads(1)


def make_loader(dataset: RankedGroups, sampler: GroupBatchSampler, workers: int = 0
                ) -> torch.utils.data.DataLoader:
    """DataLoader over ranked batches; each worker is seeded and single-threaded."""
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, collate_fn=collate_groups, num_workers=workers,
        worker_init_fn=_seed_worker if workers > 0 else None, persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )
