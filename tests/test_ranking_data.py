"""Ranked groups: same crop across levels, determinism, workers, small images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rankiqa.train.ranking_data import (GroupBatchSampler, RankedGroups, augment_photo, collate_groups, list_images,
                                        make_loader)


def test_group_structure_same_crop(refs_dir):
    ds = RankedGroups(list_images(refs_dir), "live", crop_size=48, seed=3)
    images, levels = ds[(1, 5)]  # item 1 = ref0 x 'wn'
    assert images.shape == (6, 3, 48, 48) and images.dtype == torch.uint8
    assert levels.tolist() == [0, 1, 2, 3, 4, 5]
    photo = np.asarray(Image.open(ds.refs[0]).convert("RGB"))
    clean = images[0].permute(1, 2, 0).numpy()
    hits = [(y, x) for y in range(photo.shape[0] - 47) for x in range(photo.shape[1] - 47)
            if np.array_equal(photo[y:y + 48, x:x + 48], clean)]
    assert len(hits) == 1  # the clean image is a true crop of the photo
    # Every level is the same place: the noisy versions stay centred on the clean crop.
    for k in range(1, 6):
        diff = images[k].float() - images[0].float()
        assert abs(float(diff.mean())) < 0.1 * 255


def test_deterministic_by_draw(refs_dir):
    ds = RankedGroups(list_images(refs_dir), "live", crop_size=32, seed=0)
    a, _ = ds[(2, 17)]
    b, _ = ds[(2, 17)]
    c, _ = ds[(2, 18)]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_small_images_are_mirror_padded(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    ds = RankedGroups([tmp_path / "s.png"], "jpeg", crop_size=64)
    images, _ = ds[(0, 0)]
    assert images.shape == (6, 3, 64, 64)


def test_sampler_resume_and_replicas():
    s = GroupBatchSampler(10, 3, seed=1, num_batches=8)
    full = list(s)
    assert len(full) == 8 and all(len(b) == 3 for b in full)
    resumed = list(GroupBatchSampler(10, 3, seed=1, start=5, num_batches=8))
    assert resumed == full[5:]
    # Each epoch visits every item once.
    draws = [item for b in full for item, _ in b][:10]
    assert sorted(draws) == list(range(10))
    r0 = GroupBatchSampler(10, 3, seed=1, rank=0, num_replicas=2).batch(0)
    r1 = GroupBatchSampler(10, 3, seed=1, rank=1, num_replicas=2).batch(0)
    assert {d for _, d in r0}.isdisjoint({d for _, d in r1})


def _slotted_batches(refs_dir, slot: int, **per) -> tuple[RankedGroups, list]:
    """Five batches of 6 groups in slots of ``slot`` (``per_photo=`` or ``per_family=``) over LIVE's families."""
    ds = RankedGroups(list_images(refs_dir), "live", crop_size=32, seed=2, family_weights={"gblur": 3})
    batches = list(GroupBatchSampler(len(ds), 6, seed=4, num_batches=5, families=ds.families, **per))
    # The first group of each slot is the one a plain sampler visits in that place.
    plain = [b for k in range(6 // slot) for b in GroupBatchSampler(len(ds), 1, seed=4).batch(k)]
    assert [b[0] for b in batches[0][::slot]] == [item for item, _ in plain]
    return ds, batches


def test_sampler_groups_per_photo(refs_dir):
    ds, batches = _slotted_batches(refs_dir, 3, per_photo=3)
    n = len(ds.families)  # gblur listed three times: weights repeat names
    for batch in batches:
        assert len(batch) == 6
        for slot in (batch[:3], batch[3:]):
            photos = {item // n for item, _ in slot}
            names = [ds.families[item % n] for item, _ in slot]
            assert len(photos) == 1 and len({d for _, d in slot}) == 1 and len(set(names)) == 3, slot
    assert list(GroupBatchSampler(len(ds), 6, seed=4, start=3, num_batches=5, per_photo=3,
                                  families=ds.families)) == batches[3:]
    # Shared draw: the groups of one slot are versions of the same clean crop.
    (a, d), (b, _) = batches[0][:2]
    assert torch.equal(ds[(a, d)][0][0], ds[(b, d)][0][0])
    with pytest.raises(ValueError, match="multiple of per_photo"):
        GroupBatchSampler(len(ds), 4, per_photo=3, families=ds.families)
    with pytest.raises(ValueError, match="at least 5 distinct"):
        GroupBatchSampler(len(ds), 5, per_photo=5, families=ds.families)


def test_sampler_groups_per_family(refs_dir):
    ds, batches = _slotted_batches(refs_dir, 2, per_family=2)
    n, photos = len(ds.families), len(ds) // len(ds.families)
    for batch in batches:
        assert len(batch) == 6
        for slot in (batch[0:2], batch[2:4], batch[4:6]):
            assert len({ds.families[item % n] for item, _ in slot}) == 1, slot
            assert len({item // n for item, _ in slot}) == 2 and len({d for _, d in slot}) == 1, slot
            assert all(0 <= item < len(ds) for item, _ in slot)
    assert list(GroupBatchSampler(len(ds), 6, seed=4, start=2, num_batches=5, per_family=2,
                                  families=ds.families)) == batches[2:]
    with pytest.raises(ValueError, match="multiple of per_family"):
        GroupBatchSampler(len(ds), 5, per_family=2, families=ds.families)
    with pytest.raises(ValueError, match="do not combine"):
        GroupBatchSampler(len(ds), 4, per_family=2, per_photo=2, families=ds.families)
    with pytest.raises(ValueError, match=f"at least {photos + 1} photos"):
        GroupBatchSampler(len(ds), photos + 1, per_family=photos + 1, families=ds.families)


def test_sampler_mixes_crop_sizes_per_batch(refs_dir):
    ds = RankedGroups(list_images(refs_dir), "live", crop_size=48, seed=2)
    s = GroupBatchSampler(len(ds), 3, seed=4, num_batches=12, crop_sizes=[32, 48])
    batches = list(s)
    sizes = [b[0][2] for b in batches]
    assert all({c for _, _, c in b} == {b[0][2]} for b in batches)  # one size per batch
    assert set(sizes) == {32, 48}
    assert list(GroupBatchSampler(len(ds), 3, seed=4, start=7, num_batches=12, crop_sizes=[32, 48])) == batches[7:]
    # Same items and draws as without mixing; only the crop size is added.
    assert [[(i, d) for i, d, _ in b] for b in batches] == list(GroupBatchSampler(len(ds), 3, seed=4, num_batches=12))
    images, _ = ds[batches[sizes.index(32)][0]]
    assert images.shape[-2:] == (32, 32)
    assert ds[batches[sizes.index(48)][0]][0].shape[-2:] == (48, 48)
    with pytest.raises(ValueError, match="outside"):
        ds[(0, 0, 64)]


def test_collate_group_ids():
    g = [(torch.zeros(3, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 2])),
         (torch.full((2, 3, 8, 8), 255, dtype=torch.uint8), torch.tensor([0, 1]))]
    x, ids, lv = collate_groups(g)
    assert x.shape == (5, 3, 8, 8) and float(x.max()) == 1.0
    assert ids.tolist() == [0, 0, 0, 1, 1] and lv.tolist() == [0, 1, 2, 0, 1]


def test_loader_with_workers_matches_single_process(refs_dir):
    ds = RankedGroups(list_images(refs_dir), "live", crop_size=32, seed=5)
    one = [b for b in make_loader(ds, GroupBatchSampler(len(ds), 2, 5, num_batches=3), workers=0)]
    two = [b for b in make_loader(ds, GroupBatchSampler(len(ds), 2, 5, num_batches=3), workers=2)]
    for (x1, g1, l1), (x2, g2, l2) in zip(one, two, strict=True):
        assert torch.equal(x1, x2) and torch.equal(g1, g2) and torch.equal(l1, l2)


def test_bad_arguments(refs_dir):
    with pytest.raises(ValueError, match="no reference photos"):
        RankedGroups([], "live")
    with pytest.raises(ValueError, match="did you mean"):
        RankedGroups(list_images(refs_dir), "tid2031")
    with pytest.raises(FileNotFoundError):
        list_images(refs_dir / "nope")


def test_family_weights_draw_weighted_families_more_often(refs_dir):
    refs = list_images(refs_dir)
    plain = RankedGroups(refs, "live", crop_size=32)
    weighted = RankedGroups(refs, "live", crop_size=32, family_weights={"jp2k": 3, "gblur": 2})
    assert plain.families == ("gblur", "wn", "jpeg", "jp2k")
    assert weighted.families == ("gblur", "gblur", "wn", "jpeg", "jp2k", "jp2k", "jp2k")
    assert len(weighted) == len(refs) * 7
    sampler = GroupBatchSampler(len(weighted), 7, seed=0)
    counts: dict[str, int] = {}
    for k in range(len(refs)):  # one epoch: every item exactly once
        for item, _ in sampler.batch(k):
            fam = weighted.families[item % len(weighted.families)]
            counts[fam] = counts.get(fam, 0) + 1
    assert counts == {"gblur": 2 * len(refs), "wn": len(refs), "jpeg": len(refs), "jp2k": 3 * len(refs)}
    # A set name weights each of its families; no weights leaves the old order untouched.
    assert RankedGroups(refs, "broad", crop_size=32, family_weights={"live_wide": 2}).families.count("jpeg_wide") == 2
    assert RankedGroups(refs, "live", crop_size=32, family_weights={}).families == plain.families


@pytest.mark.parametrize("weights,match", [({"jp2k": 0}, "positive integer"), ({"jp2k": 1.5}, "positive integer"),
                                           ({"jp2k": True}, "positive integer"),
                                           ({"kadid_jpeg": 2}, "not among the training families"),
                                           ({"jpgg": 2}, "did you mean")])
def test_family_weights_are_checked(refs_dir, weights, match):
    with pytest.raises(ValueError, match=match):
        RankedGroups(list_images(refs_dir), "live", crop_size=32, family_weights=weights)


def test_augment_photo_mirrors_and_downscales():
    photo = np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    rng = np.random.default_rng(1)
    assert augment_photo(photo, rng) is photo and rng.random() == np.random.default_rng(1).random()  # nothing drawn
    flips = [augment_photo(photo, np.random.default_rng(s), flip=True) for s in range(40)]
    mirrored = sum(np.array_equal(f, photo[:, ::-1]) for f in flips)
    assert 8 <= mirrored <= 32 and mirrored + sum(np.array_equal(f, photo) for f in flips) == 40
    sizes = [augment_photo(photo, np.random.default_rng(s), min_scale=0.5).shape for s in range(40)]
    assert all(30 <= h <= 60 and 45 <= w <= 90 and abs(w / h - 1.5) < 0.05 for h, w, _ in sizes)
    assert len({h for h, _, _ in sizes}) > 10  # a spread of scales, not one
    # Never below the crop: the shorter side stays >= min_size.
    assert min(augment_photo(photo, np.random.default_rng(s), min_scale=0.1, min_size=48).shape[0]
               for s in range(40)) >= 48
    with pytest.raises(ValueError, match="min_scale"):
        augment_photo(photo, rng, min_scale=0.0)


def test_augmented_groups_keep_crop_and_distortions(refs_dir):
    refs = list_images(refs_dir)
    plain = RankedGroups(refs, "wn", crop_size=32, seed=5)
    same = RankedGroups(refs, "wn", crop_size=32, seed=5, flip=False, min_scale=1.0)
    flipped = RankedGroups(refs, "wn", crop_size=32, seed=5, flip=True)
    a, b = plain[(2, 9)], same[(2, 9)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))  # off means the batches of before
    changed = 0
    for draw in range(12):
        x, lv = plain[(1, draw)]
        y, lv2 = flipped[(1, draw)]
        assert torch.equal(lv, lv2)
        if not torch.equal(x, y):
            changed += 1
            # the same crop position and noise, on the mirrored photo: the mildest level's noise (rarely
            # clipped) is unchanged
            noise_x, noise_y = x[1].float() - x[0].float(), y[1].float() - y[0].float()
            assert (noise_x - noise_y).abs().mean() < 1.0
    assert 2 <= changed <= 10
    scaled = RankedGroups(refs, "wn", crop_size=32, seed=5, min_scale=0.5)
    assert scaled[(1, 3)][0].shape == a[0].shape
    with pytest.raises(ValueError, match="min_scale"):
        RankedGroups(refs, "wn", min_scale=1.5)
