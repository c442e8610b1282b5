"""Frozen networks as a teacher: calibrated units, score direction, family scope, the hinge in training."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import smooth_photo

from rankiqa.api import load_model
from rankiqa.models import build_model
from rankiqa.train.__main__ import main
from rankiqa.train.distortions import apply_distortion
from rankiqa.train.losses import correlation_loss
from rankiqa.train.net_teacher import net_teacher_scores, parse_net_teacher
from rankiqa.train.ranking_data import RankedGroups, list_images
from rankiqa.train.trainer import PretrainConfig, training_loss
from rankiqa.weights.checkpoint import read_card, save_checkpoint

BROAD, LIVE_ONLY, DMOS = "vgg16_slim.rank-broad-haarpsi", "vgg16_slim.rank-live-wide-cross", "vgg16_slim.live"


def _versions(family: str = "wn") -> torch.Tensor:
    """A 128-px photo-like image and its five levels of ``family``, ``[6,3,128,128]`` in [0, 1]."""
    photo = smooth_photo(128, 128)
    rng = np.random.default_rng(0)
    images = [photo] + [apply_distortion(family, photo, level, rng) for level in range(1, 6)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def test_scores_are_the_mean_calibrated_logit():
    x = _versions()
    both = net_teacher_scores((BROAD, LIVE_ONLY), x)
    one = [net_teacher_scores((n,), x) for n in (BROAD, LIVE_ONLY)]
    assert torch.allclose(both, (one[0] + one[1]) / 2, atol=1e-5)
    scorer = load_model(BROAD, precision="float32")
    with torch.inference_mode():
        raw = scorer.model(x).float().reshape(-1)
    cal = scorer.calibration
    # One unit is one logit of the checkpoint's own 0-100 map: sigmoid of the teacher's score is the score / 100.
    assert torch.allclose(torch.sigmoid(one[0]), torch.sigmoid((raw - cal["center"]) / cal["scale"]), atol=1e-5)


@pytest.mark.parametrize("name", [LIVE_ONLY, DMOS])
def test_noise_scores_lower_whatever_the_checkpoints_direction(name):
    # The .live checkpoint outputs DMOS (lower = better); the teacher's scores are higher = better for both.
    s = net_teacher_scores((name,), _versions())
    assert s[0] > s[5] + 1  # one logit: 0-100 scores some 20 points apart


def test_errors(tmp_path):
    x = _versions()
    with pytest.raises(ValueError, match="at least one checkpoint"):
        net_teacher_scores((), x)
    with pytest.raises(ValueError, match=r"\[N,3,H,W\]"):
        net_teacher_scores((BROAD,), x[0])
    assert parse_net_teacher(f" {BROAD}, {LIVE_ONLY} ") == (BROAD, LIVE_ONLY) and parse_net_teacher("") == ()
    with pytest.raises(ValueError, match="empty name"):
        parse_net_teacher(f"{BROAD},,{LIVE_ONLY}")
    bare = tmp_path / "uncalibrated.safetensors"
    save_checkpoint(bare, build_model("vgg16_slim", width=0.05, hidden=8).state_dict(),
                    {"arch": "vgg16_slim", "arch_kwargs": {"width": 0.05, "hidden": 8}, "crop_size": 32})
    with pytest.raises(ValueError, match="no calibration"):
        net_teacher_scores((str(bare),), x)


def test_ranked_groups_carry_the_network_teacher_for_its_families_only(refs_dir):
    refs = list_images(refs_dir)
    ds = RankedGroups(refs, "gblur,jpeg", crop_size=48, seed=0, net_teacher=LIVE_ONLY, net_teacher_families="gblur")
    families = ds.families
    for item in (families.index("gblur"), families.index("jpeg")):
        images, levels, t = ds[(item, 3)]
        assert t.shape == (6, 1)
        assert torch.isfinite(t).all() if families[item] == "gblur" else torch.isnan(t).all()
    plain = RankedGroups(refs, "gblur,jpeg", crop_size=48, seed=0)
    assert torch.equal(plain[(0, 3)][0], ds[(0, 3)][0])  # the teacher does not change the batch
    with pytest.raises(ValueError, match="go together"):
        RankedGroups(refs, "gblur", crop_size=48, net_teacher=LIVE_ONLY)


def test_other_families_scored_by_the_rest(refs_dir, tmp_path):
    refs = list_images(refs_dir)
    ds = RankedGroups(refs, "gblur,jpeg", crop_size=48, seed=0, net_teacher=f"{LIVE_ONLY},{BROAD}",
                      net_teacher_families="gblur", net_teacher_rest=BROAD)
    for family, names in (("gblur", (LIVE_ONLY, BROAD)), ("jpeg", (BROAD,))):
        images, _, t = ds[(ds.families.index(family), 3)]
        assert torch.allclose(t[:, 0], net_teacher_scores(names, images.float() / 255.0), atol=1e-5)
    with pytest.raises(ValueError, match="net_teacher_rest"):
        RankedGroups(refs, "gblur", crop_size=48, net_teacher_rest=BROAD)
    with pytest.raises(ValueError, match="net_teacher_rest"):
        PretrainConfig(refs=[str(refs_dir)], out=str(tmp_path), families="gblur", net_teacher_rest=BROAD)


def test_network_teacher_hinge_in_the_loss(refs_dir, tmp_path):
    cfg = PretrainConfig(refs=[str(refs_dir)], out=str(tmp_path), arch="vgg16_slim", families="gblur,jpeg",
                         net_teacher=LIVE_ONLY, net_teacher_families="gblur", net_teacher_gap=0.5)
    # Items 0-2 judged by the network teacher (two pairs apart by >= 0.5), item 3 outside its families.
    teacher = torch.tensor([[2.0], [1.0], [0.8], [float("nan")]])
    scores, groups, levels = torch.zeros(4), torch.tensor([0, 1, 2, 3]), torch.zeros(4, dtype=torch.long)
    _, parts = training_loss(cfg, 0, scores, groups, levels, teacher)
    assert parts["net_teacher"].num_pairs == 2 and "teacher" not in parts
    assert float(parts["net_teacher"].loss) == pytest.approx(cfg.margin)  # equal scores violate every pair
    with_fr = dataclasses.replace(cfg, teacher="psnr", teacher_gap=1.0)
    fr = torch.tensor([[40.0], [30.0], [20.0], [10.0]])  # dB, every two items more than PSNR's unit apart
    _, parts = training_loss(with_fr, 0, scores, groups, levels, torch.cat([fr, teacher], dim=1))
    # The full-reference columns come first and keep all their pairs, the network's NaN item included.
    assert parts["net_teacher"].num_pairs == 2 and parts["teacher"].num_pairs == 6
    with pytest.raises(ValueError, match="carries no teacher"):
        training_loss(cfg, 0, scores, groups, levels)


def test_correlation_loss_follows_every_step_up_to_offset_and_scale():
    target = torch.tensor([2.0, 1.0, float("nan"), 0.9, -1.0])
    exact = correlation_loss(3 * torch.nan_to_num(target, 7.0) + 5, target, gap=0.5)
    assert float(exact.loss) == pytest.approx(0.0, abs=1e-6) and exact.accuracy == 1.0
    assert exact.num_pairs == 5  # pairs of finite targets apart by >= 0.5: (2,1) (2,0.9) (2,-1) (1,-1) (0.9,-1)
    scores = torch.tensor([2.0, 0.9, 0.0, 1.0, -1.0], requires_grad=True)  # the close pair swapped
    swapped = correlation_loss(scores, target, gap=0.5)
    assert 0 < float(swapped.loss) < 0.05 and swapped.accuracy == 1.0  # a hinge at gap 0.5 would not see it
    swapped.loss.backward()
    assert scores.grad[2] == 0 and scores.grad[1] < 0 < scores.grad[3]  # descent swaps them back; NaN ignored
    few = correlation_loss(torch.zeros(5), torch.tensor([1.0, 0.0] + [float("nan")] * 3), gap=0.5)
    assert float(few.loss) == 0.0 and few.num_pairs == 1


def test_pretrain_with_a_network_teacher(refs_dir, tmp_path, capsys):
    base = ["pretrain", "--refs", str(refs_dir), "--set", "gblur,jpeg", "--arch", "vgg16_slim",
            "--arch-kwargs", '{"width": 0.05, "hidden": 8}', "--crop", "32", "--groups", "4", "--iters", "3",
            "--workers", "0", "--eval-every", "3", "--eval-groups", "2"]
    out = tmp_path / "a"
    assert main(base + ["--net-teacher", LIVE_ONLY, "--net-teacher-families", "gblur,jpeg", "--net-teacher-gap",
                        "0.25", "--net-teacher-weight", "2", "--out", str(out)]) == 0
    rows = [r.split(",") for r in (out / "log.csv").read_text().splitlines()]
    col = rows[0].index("net_teacher_pairs")
    assert rows[0][col + 1] == "net_teacher_pair_accuracy"
    assert all(int(r[col]) > 0 for r in rows[1:])  # both families judged: every batch has pairs
    cfg = read_card(out / "model.safetensors")["training"]["config"]
    assert (cfg["net_teacher"], cfg["net_teacher_families"], cfg["net_teacher_gap"], cfg["net_teacher_weight"]) \
        == (LIVE_ONLY, "gblur,jpeg", 0.25, 2.0)
    assert json.loads((out / "config.json").read_text())["net_teacher"] == LIVE_ONLY
    assert main(base + ["--net-teacher", LIVE_ONLY, "--out", str(tmp_path / "b")]) == 2
    assert "go together" in capsys.readouterr().err
    assert main(base + ["--net-teacher", LIVE_ONLY, "--net-teacher-families", "gblurr",
                        "--out", str(tmp_path / "c")]) == 2
    assert "did you mean" in capsys.readouterr().err
    assert main(base + ["--net-teacher", LIVE_ONLY, "--net-teacher-families", "gblur", "--net-teacher-gap", "0",
                        "--out", str(tmp_path / "d")]) == 2
    assert "net_teacher_gap" in capsys.readouterr().err
    assert main(base + ["--net-teacher", LIVE_ONLY, "--net-teacher-families", "gblur", "--net-teacher-loss", "plcc",
                        "--out", str(tmp_path / "e")]) == 0
    assert json.loads((tmp_path / "e" / "config.json").read_text())["net_teacher_loss"] == "plcc"
    with pytest.raises(ValueError, match="unknown net_teacher_loss"):
        PretrainConfig(refs=[str(refs_dir)], out=str(tmp_path / "f"), net_teacher=LIVE_ONLY,
                       net_teacher_families="gblur", net_teacher_loss="mse")
