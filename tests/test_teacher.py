"""Full-reference teachers, the teacher hinge, teacher scores in ranked batches, cross-type agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("piq")

from rankiqa.train.crosstype import cross_type_agreement  # noqa: E402
from rankiqa.train.distortions import SHARED_DRAW, apply_distortion  # noqa: E402
from rankiqa.train.losses import mean_teacher, teacher_loss, teacher_pairs  # noqa: E402
from rankiqa.train.ranking_data import RankedGroups, collate_groups, list_images  # noqa: E402
from rankiqa.train.teacher import TEACHERS, UNITS, resolve_teachers, teacher_scores  # noqa: E402


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1).float() / 255.0


@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_teachers_prefer_milder_distortion(name, photo):
    clean = photo[:64, :64]
    versions = torch.stack([_tensor(apply_distortion("gblur", clean, lv)) for lv in range(0, 4)])
    q = teacher_scores(versions, _tensor(clean), [name])[:, 0]
    assert q.shape == (4,) and torch.isfinite(q).all()
    assert all(a > b for a, b in zip(q.tolist(), q.tolist()[1:])), (name, q)


def test_teacher_errors(photo):
    with pytest.raises(ValueError, match="did you mean 'haarpsi'"):
        resolve_teachers("haarpsy")
    assert resolve_teachers("") == () and resolve_teachers("ms_gmsd, haarpsi") == ("ms_gmsd", "haarpsi")
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(ValueError, match="same size"):
        teacher_scores(x, torch.rand(3, 16, 16), ["gmsd"])
    with pytest.raises(ValueError, match="teacher 'vif' cannot score"):
        teacher_scores(x, x[0], ["vif"])


def test_teacher_pairs_need_agreement_and_gap():
    units = torch.tensor([1.0, 1.0])
    # item 0 beats 1 by 2 units in both teachers; 0 vs 2: teachers disagree; 1 vs 2: gap too small in one
    t = torch.tensor([[3.0, 3.0], [1.0, 1.0], [1.0, 5.0]])
    better, worse = teacher_pairs(t, units, gap=1.0)
    assert sorted(zip(better.tolist(), worse.tolist())) == [(0, 1)]
    better, worse = teacher_pairs(t, units * 4, gap=0.1)  # units rescale the gap
    assert (0, 1) in set(zip(better.tolist(), worse.tolist()))
    t_bad = torch.tensor([[3.0, 3.0], [1.0, 1.0], [float("inf"), 9.0], [float("nan"), 9.0]])
    assert teacher_pairs(t_bad, units, gap=1.0)[0].tolist() == [0]  # non-finite items make no pair
    with pytest.raises(ValueError, match="gap"):
        teacher_pairs(t, units, gap=0)
    with pytest.raises(ValueError, match="units"):
        teacher_pairs(t, torch.ones(3), gap=1.0)


def test_mean_teacher_lets_a_confident_teacher_outvote_a_doubtful_one():
    units = torch.tensor([1.0, 0.5])
    # 0 vs 1: the first teacher is sure (+3 units), the second mildly against (-0.5 units); 1 vs 2: both agree
    t = torch.tensor([[4.0, 1.0], [1.0, 1.25], [0.0, 0.0]])
    assert sorted(zip(*[x.tolist() for x in teacher_pairs(t, units, gap=1.0)])) == [(0, 2), (1, 2)]
    mean, one = mean_teacher(t, units)
    assert mean.shape == (3, 1) and one.tolist() == [1.0]
    assert mean[:, 0].tolist() == pytest.approx([3.0, 1.75, 0.0])  # (4/1 + 1/0.5) / 2, ...
    assert sorted(zip(*[x.tolist() for x in teacher_pairs(mean, one, gap=1.0)])) == [(0, 1), (0, 2), (1, 2)]
    inf = mean_teacher(torch.tensor([[float("inf"), 1.0], [0.0, 0.0]]), units)
    assert teacher_pairs(*inf, gap=1.0)[0].numel() == 0  # a non-finite teacher still makes no pair
    with pytest.raises(ValueError, match="units"):
        mean_teacher(t, torch.ones(3))


def test_teacher_loss_orders_across_groups():
    teacher = torch.tensor([[0.0], [-2.0]])
    scores = torch.tensor([0.0, 0.5], requires_grad=True)  # wrong order
    r = teacher_loss(scores, teacher, torch.tensor([1.0]), gap=1.0, margin=1.0)
    assert r.num_pairs == 1 and r.accuracy == 0.0 and float(r.loss.detach()) == pytest.approx(1.5)
    r.loss.backward()
    assert scores.grad.tolist() == [-1.0, 1.0]


def test_scaled_teacher_margin_grows_with_the_gap():
    # items 0 > 1 by 3 units, 0 > 2 by 1 (the smaller of the two teachers' gaps), 1 vs 2 below the gap
    teacher = torch.tensor([[6.0, 3.0], [0.0, 0.0], [4.0, 0.25]])
    units = torch.tensor([2.0, 1.0])
    scores = torch.tensor([2.0, 0.0, 0.0], requires_grad=True)  # right order, score gap 2 for both pairs
    fixed = teacher_loss(scores, teacher, units, gap=0.5, margin=1.0)
    scaled = teacher_loss(scores, teacher, units, gap=0.5, margin=1.0, scaled=True)
    assert fixed.num_pairs == scaled.num_pairs == 2 and fixed.accuracy == scaled.accuracy == 1.0
    assert float(fixed.loss.detach()) == 0.0  # the order is all a fixed margin of 1 asks for
    # scaled: margins 3 and 1; only the 3-unit pair is short of its margin, by 1
    assert float(scaled.loss.detach()) == pytest.approx(0.5) and scaled.violated == 0.5
    scaled.loss.backward()
    assert scores.grad.tolist() == [-0.5, 0.5, 0.0]


def test_ranked_groups_carry_teacher_scores(refs_dir):
    ds = RankedGroups(list_images(refs_dir), "live", crop_size=48, seed=0, teachers="ms_gmsd,haarpsi")
    images, levels, t = ds[(0, 3)]
    assert t.shape == (6, 2) and t.dtype == torch.float32
    # The clean crop is its own perfect reference; blur only gets worse.
    assert t[0, 0] == pytest.approx(0.0, abs=1e-6) and t[0, 1] == pytest.approx(1.0, abs=1e-4)
    assert all(a > b for a, b in zip(t[:, 0].tolist(), t[1:, 0].tolist()))
    x, g, lv, tt = collate_groups([ds[(0, 3)], ds[(1, 4)]])
    assert tt.shape == (12, 2) and x.shape[0] == 12
    plain = RankedGroups(list_images(refs_dir), "live", crop_size=48, seed=0)
    assert torch.equal(plain[(0, 3)][0], images)  # the teacher does not change the batch


def test_shared_draw_scales_one_pattern(refs_dir):
    # Noise of a shared-draw family is one pattern grown with the level: the
    # level-2 residual is a scaled copy of level 1's (correlation near 1).
    assert "kadid_white_noise" in SHARED_DRAW and "wn" not in SHARED_DRAW
    ds = RankedGroups(list_images(refs_dir), "kadid_white_noise", crop_size=48, seed=0)
    images, _ = ds[(0, 0)]
    r1 = (images[1].float() - images[0].float()).flatten()
    r2 = (images[2].float() - images[0].float()).flatten()
    assert np.corrcoef(r1, r2)[0, 1] > 0.9
    old = RankedGroups(list_images(refs_dir), "wn", crop_size=48, seed=0)
    images, _ = old[(0, 0)]
    o1 = (images[1].float() - images[0].float()).flatten()
    o2 = (images[2].float() - images[0].float()).flatten()
    assert abs(np.corrcoef(o1, o2)[0, 1]) < 0.3  # the old families keep independent draws


def test_cross_type_agreement_is_one_for_the_teacher_itself(refs_dir):
    refs = list_images(refs_dir)[:2]
    ds = RankedGroups(refs, "live", crop_size=48, seed=99)
    for i in range(2):
        # The crop cross_type_agreement cuts from the first (here only) photo: draw 0.
        clean = ds[(i * 4, 0)][0][0].float() / 255.0

        def psnr_net(x, clean=clean):
            """A 'network' that knows the clean crop and returns the PSNR teacher's score."""
            return teacher_scores(x, clean, ["psnr"])[:, 0]

        net = torch.nn.Module()
        net.forward = psnr_net
        r = cross_type_agreement(net, [refs[i]], "live", "psnr", crop_size=48)
        assert r["photos"] == 1 and r["srocc_mean"] == pytest.approx(1.0)
        # Trust falls when the student reverses one family: JPEG scored upside down.
        assert cross_type_agreement(net, [refs[i]], "live", "ms_gmsd", crop_size=48)["srocc_mean"] > 0.8
    torch.manual_seed(0)
    rand = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 48 * 48, 1), torch.nn.Flatten(0))
    assert cross_type_agreement(rand, refs, "live", "psnr", crop_size=48)["srocc_mean"] < 0.9
    assert UNITS.keys() == TEACHERS.keys()
