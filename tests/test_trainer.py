"""Pretraining: exact resume (also after SIGKILL), DDP with two CPU processes, CLI."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankiqa.train.teacher import UNITS
from rankiqa.train.trainer import STATE_FILE, PretrainConfig, pretrain, split_refs, training_loss
from rankiqa.weights.checkpoint import read_card

ROOT = Path(__file__).resolve().parents[1]


def _cfg(refs_dir: Path, out: Path, **kw) -> PretrainConfig:
    base = dict(refs=[str(refs_dir)], out=str(out), arch="vgg16_slim", arch_kwargs={"width": 0.05, "hidden": 8},
                iters=6, groups_per_batch=2, crop_size=32, lr=0.05, lr_step=4, checkpoint_every=2, eval_every=3,
                eval_groups=4, log_every=1, heldout_fraction=0.34, progress=False, margin=1.0)
    base.update(kw)
    return PretrainConfig(**base)


def _weights(path: Path) -> dict:
    return load_file(str(path))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_resume_equals_uninterrupted(refs_dir, tmp_path):
    full = pretrain(_cfg(refs_dir, tmp_path / "a"))
    pretrain(_cfg(refs_dir, tmp_path / "b"), stop_at=3)  # "crash" after iteration 3; last checkpoint at 2
    resumed = pretrain(_cfg(refs_dir, tmp_path / "b"), resume=True)
    assert _same(_weights(full), _weights(resumed))
    log = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in log[1:]] == ["1", "2", "3", "4", "5", "6"]  # rows past the checkpoint redone
    card = read_card(full)
    assert card["arch"] == "vgg16_slim" and card["training"]["iterations"] == 6
    assert 0.0 <= card["quality"]["heldout_ranking"]["pair_accuracy"] <= 1.0


def test_resume_keeps_an_older_logs_columns(refs_dir, tmp_path):
    pretrain(_cfg(refs_dir, tmp_path / "b"), stop_at=3)
    log = tmp_path / "b" / "log.csv"
    rows = [r.split(",") for r in log.read_text().splitlines()]
    newer = rows[0].index("clean_tie_loss")  # this column and those after it came later
    assert rows[0][newer:] == ["clean_tie_loss", "net_teacher_pairs", "net_teacher_pair_accuracy", "teacher_plcc"]
    log.write_text("".join(",".join(r[:newer]) + "\n" for r in rows))  # as a run logged before they existed
    pretrain(_cfg(refs_dir, tmp_path / "b"), resume=True)
    rows = [r.split(",") for r in log.read_text().splitlines()]
    assert rows[0] == rows[0][:newer] and {len(r) for r in rows} == {newer}
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]


def test_refuses_to_overwrite_without_resume(refs_dir, tmp_path):
    pretrain(_cfg(refs_dir, tmp_path / "a", iters=2))
    with pytest.raises(FileExistsError, match="--resume"):
        pretrain(_cfg(refs_dir, tmp_path / "a", iters=2))


def test_resume_after_sigkill(refs_dir, tmp_path):
    args = ["--refs", str(refs_dir), "--arch", "vgg16_slim", "--arch-kwargs", '{"width": 0.05, "hidden": 8}',
            "--iters", "16", "--groups", "2", "--crop", "32", "--lr", "0.05", "--lr-step", "8",
            "--checkpoint-every", "1", "--eval-every", "1000", "--workers", "0", "--margin", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "rankiqa.train", "pretrain", *args]
    ref = subprocess.run(cmd + ["--out", str(tmp_path / "ref")], env=env, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    victim = subprocess.Popen(cmd + ["--out", str(tmp_path / "kill")], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    state = tmp_path / "kill" / STATE_FILE
    deadline = time.time() + 120
    while time.time() < deadline and not state.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "kill" / "model.safetensors").exists(), "run finished before it could be killed"
    res = subprocess.run(cmd + ["--out", str(tmp_path / "kill"), "--resume"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert _same(_weights(tmp_path / "ref" / "model.safetensors"), _weights(tmp_path / "kill" / "model.safetensors"))


def test_ddp_two_cpu_processes(refs_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "rankiqa.train", "pretrain", "--refs", str(refs_dir), "--arch", "vgg16_slim",
           "--arch-kwargs", '{"width": 0.05, "hidden": 8}', "--iters", "3", "--groups", "2", "--crop", "32",
           "--workers", "0", "--device", "cpu", "--out", str(tmp_path / "ddp"), "--checkpoint-every", "3"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "ddp" / "model.safetensors").exists()
    rows = (tmp_path / "ddp" / "log.csv").read_text().splitlines()
    assert rows[-1].startswith("3,")


def test_split_refs_is_fixed_and_disjoint(refs_dir):
    a_train, a_held = split_refs([str(refs_dir)], [], 0.34)
    b_train, b_held = split_refs([str(refs_dir)], [], 0.34)
    assert a_held == b_held and len(a_held) == 2 and not set(a_train) & set(a_held)


def test_config_validation(refs_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown loss"):
        _cfg(refs_dir, tmp_path, loss="triplet")
    with pytest.raises(ValueError, match="did you mean"):
        _cfg(refs_dir, tmp_path, families="liv")


def test_init_from_checkpoint_and_cross_content_hinge(refs_dir, tmp_path, tiny_ckpt):
    from conftest import TINY_ARCH

    tiny = dict(arch=TINY_ARCH["arch"], arch_kwargs=TINY_ARCH["arch_kwargs"])
    # lr 0: the exported weights are the --init weights (batch-norm statistics aside, which
    # training updates), so the run really started from them
    path = pretrain(_cfg(refs_dir, tmp_path / "a", iters=2, lr=0.0, init=str(tiny_ckpt), cross_gap=2, **tiny))
    learned = {k: v for k, v in _weights(path).items() if "running_" not in k and "num_batches" not in k}
    assert _same(learned, {k: v for k, v in _weights(tiny_ckpt).items() if k in learned})
    rows = (tmp_path / "a" / "log.csv").read_text().splitlines()
    assert rows[0].split(",")[5] == "cross_pair_accuracy" and rows[1].split(",")[5] != ""
    assert read_card(path)["training"]["config"]["cross_gap"] == 2
    with pytest.raises(ValueError, match="pass the checkpoint's --arch"):
        pretrain(_cfg(refs_dir, tmp_path / "b", iters=2, init=str(tiny_ckpt), arch_kwargs={"width": 0.1}))
    with pytest.raises(ValueError, match="cross_gap"):
        _cfg(refs_dir, tmp_path / "c", cross_gap=-1)


def test_init_widened_function_preservingly(refs_dir, tmp_path, tiny_ckpt):
    from conftest import TINY_ARCH

    from rankiqa.models import build_model

    tiny = build_model(TINY_ARCH["arch"], **TINY_ARCH["arch_kwargs"])
    narrow_convs = [m.out_channels for m in tiny.features if isinstance(m, torch.nn.Conv2d)]
    wider = {"channels": narrow_convs[:10] + [c + 4 for c in narrow_convs[10:]], "hidden": 12}
    with pytest.raises(ValueError, match="or --widen"):
        pretrain(_cfg(refs_dir, tmp_path / "a", iters=2, init=str(tiny_ckpt), arch_kwargs=wider))
    with pytest.raises(ValueError, match="pass --init"):
        _cfg(refs_dir, tmp_path / "a", widen=True, arch_kwargs=wider)
    path = pretrain(_cfg(refs_dir, tmp_path / "a", iters=2, lr=0.0, init=str(tiny_ckpt), widen=True,
                         arch_kwargs=wider))
    card, got, narrow = read_card(path), _weights(path), _weights(tiny_ckpt)
    assert card["arch_kwargs"] == wider and card["training"]["config"]["widen"] is True
    assert got["head.1.weight"].shape == (12, wider["channels"][-1])
    assert narrow["head.1.weight"].shape == (8, narrow_convs[-1])
    # the first blocks keep their width and, at lr 0, their weights
    assert torch.equal(got["features.0.weight"], narrow["features.0.weight"])

def test_teacher_hinge_in_training(refs_dir, tmp_path):
    pytest.importorskip("piq")
    path = pretrain(_cfg(refs_dir, tmp_path / "t", iters=3, crop_size=48, families="live,kadid_motion_blur",
                         teacher="ms_gmsd,haarpsi", teacher_gap=0.5, teacher_scaled=True, cross_gap=2))
    rows = [r.split(",") for r in (tmp_path / "t" / "log.csv").read_text().splitlines()]
    col = rows[0].index("teacher_pairs")
    assert rows[0][col + 1] == "teacher_pair_accuracy"
    assert all(int(r[col]) > 0 for r in rows[1:])  # every batch had quality-discriminable pairs
    cfg = read_card(path)["training"]["config"]
    assert (cfg["teacher"], cfg["teacher_gap"], cfg["teacher_scaled"]) == ("ms_gmsd,haarpsi", 0.5, True)
    with pytest.raises(ValueError, match="did you mean"):
        _cfg(refs_dir, tmp_path / "u", teacher="ms_gmsdd")
    with pytest.raises(ValueError, match="teacher_gap"):
        _cfg(refs_dir, tmp_path / "v", teacher="gmsd", teacher_gap=0)


def test_batches_do_not_depend_on_the_network(refs_dir, tmp_path):
    # bench/paired_logs.py pairs two runs iteration by iteration: that needs the same crops whatever the width.
    pytest.importorskip("piq")

    def logged(name: str, **kw) -> list[tuple[str, str]]:
        pretrain(_cfg(refs_dir, tmp_path / name, iters=4, crop_size=48, families="live,kadid_motion_blur",
                      teacher="haarpsi", teacher_gap=0.2, **kw))
        rows = [r.split(",") for r in (tmp_path / name / "log.csv").read_text().splitlines()]
        cols = [rows[0].index(c) for c in ("pairs", "teacher_pairs")]
        return [tuple(r[c] for c in cols) for r in rows[1:]]

    narrow = logged("narrow")
    assert logged("wide", arch_kwargs={"width": 0.1, "hidden": 8}) == narrow
    assert logged("reseeded", seed=5) != narrow  # the counts do follow the batch's content


def test_mean_teacher_in_training(refs_dir, tmp_path):
    cfg = _cfg(refs_dir, tmp_path / "t", teacher="gmsd,haarpsi", teacher_gap=1.0)
    # Teacher [M, 2]: item 0 far better by gmsd, a little worse by haarpsi; agreement makes no pair, the mean one.
    teacher = torch.tensor([[0.3, 0.70], [0.0, 0.75]])
    scores, groups, levels = torch.tensor([0.0, 0.0]), torch.tensor([0, 1]), torch.tensor([0, 0])
    _, agree = training_loss(cfg, 0, scores, groups, levels, teacher)
    _, mean = training_loss(PretrainConfig(**{**cfg.__dict__, "teacher_mean": True}), 0, scores, groups, levels,
                            teacher)
    assert agree["teacher"].num_pairs == 0 and mean["teacher"].num_pairs == 1
    pytest.importorskip("piq")
    path = pretrain(_cfg(refs_dir, tmp_path / "r", iters=2, crop_size=48, families="gblur,jpeg",
                         teacher="gmsd,haarpsi", teacher_mean=True))
    assert read_card(path)["training"]["config"]["teacher_mean"] is True


def test_teacher_correlation_in_training(refs_dir, tmp_path):
    cfg = _cfg(refs_dir, tmp_path / "t", teacher="gmsd,haarpsi", teacher_plcc=2.0)
    # Two photos, two teachers in their units; the clean items' infinite scores stay out of the correlation.
    teacher = torch.tensor([[math.inf, math.inf], [-0.01, 0.9], [-0.1, 0.5], [math.inf, math.inf],
                            [-0.05, 0.8], [-0.2, 0.3]])
    groups, levels = torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([0, 1, 2, 0, 1, 2])
    target = (teacher[[1, 2, 4, 5]] / torch.tensor([UNITS["gmsd"], UNITS["haarpsi"]])).mean(dim=1)
    follows = torch.tensor([9.0, 3.0 * target[0], 3.0 * target[1], -9.0, 3.0 * target[2], 3.0 * target[3]])
    with_plcc, parts = training_loss(cfg, 0, follows, groups, levels, teacher)
    without, plain = training_loss(dataclasses.replace(cfg, teacher_plcc=0.0), 0, follows, groups, levels, teacher)
    assert "teacher_plcc" not in plain and float(parts["teacher_plcc"].loss) == pytest.approx(0.0, abs=1e-6)
    assert with_plcc.loss.item() == pytest.approx(without.loss.item(), abs=1e-5)
    # swapping the scores of two items of different photos keeps every within-photo order but breaks the correlation
    swapped = follows[[0, 4, 2, 3, 1, 5]]
    worse, parts = training_loss(cfg, 0, swapped, groups, levels, teacher)
    assert float(parts["teacher_plcc"].loss) > 0.01
    assert worse.loss.item() == pytest.approx(training_loss(dataclasses.replace(cfg, teacher_plcc=0.0), 0, swapped,
                                                            groups, levels, teacher)[0].loss.item()
                                              + 2.0 * float(parts["teacher_plcc"].loss), abs=1e-5)
    with pytest.raises(ValueError, match="teacher_plcc"):
        _cfg(refs_dir, tmp_path / "u", teacher_plcc=1.0)
    with pytest.raises(ValueError, match="teacher_plcc"):
        _cfg(refs_dir, tmp_path / "v", teacher="gmsd", teacher_plcc=-1.0)
    pytest.importorskip("piq")
    path = pretrain(_cfg(refs_dir, tmp_path / "r", iters=2, crop_size=48, families="gblur,jpeg",
                         teacher="haarpsi", teacher_plcc=3.0))
    assert read_card(path)["training"]["config"]["teacher_plcc"] == 3.0
    rows = [r.split(",") for r in (tmp_path / "r" / "log.csv").read_text().splitlines()]
    col = rows[0].index("teacher_plcc")
    assert all(-1.0 <= float(r[col]) <= 1.0 for r in rows[1:])


def test_clean_tie_in_training(refs_dir, tmp_path):
    path = pretrain(_cfg(refs_dir, tmp_path / "t", iters=3, groups_per_batch=3, clean_tie=2.0,
                         clean_tie_tolerance=0.25))
    rows = [r.split(",") for r in (tmp_path / "t" / "log.csv").read_text().splitlines()]
    col = rows[0].index("clean_tie_loss")
    assert all(float(r[col]) >= 0 for r in rows[1:])
    cfg = read_card(path)["training"]["config"]
    assert (cfg["clean_tie"], cfg["clean_tie_tolerance"]) == (2.0, 0.25)
    scores = torch.tensor([0.0, -1.0, 3.0, 2.0])
    groups, levels = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    tied = PretrainConfig(**cfg)
    plain = PretrainConfig(**{**cfg, "clean_tie": 0.0})
    with_tie, parts = training_loss(tied, 0, scores, groups, levels)
    without, plain_parts = training_loss(plain, 0, scores, groups, levels)
    assert "tie" in parts and "tie" not in plain_parts
    assert with_tie.loss.item() == pytest.approx(without.loss.item() + 2.0 * (3.0 - 0.25))
    with pytest.raises(ValueError, match="clean_tie"):
        _cfg(refs_dir, tmp_path / "u", clean_tie=-1.0)


def test_content_augmentation_changes_training_and_is_recorded(refs_dir, tmp_path):
    kw = dict(families="gblur,jpeg", iters=3)
    plain = pretrain(_cfg(refs_dir, tmp_path / "a", **kw))
    aug = pretrain(_cfg(refs_dir, tmp_path / "b", flip=True, min_scale=0.6, **kw))
    assert not _same(_weights(plain), _weights(aug))
    cfg = read_card(aug)["training"]["config"]
    assert (cfg["flip"], cfg["min_scale"]) == (True, 0.6)
    with pytest.raises(ValueError, match="min_scale"):
        _cfg(refs_dir, tmp_path / "c", min_scale=0.0)


def test_warmup_curriculum_and_resume_across_stages(refs_dir, tmp_path):
    kw = dict(families="kadid_motion_blur,jpeg", warmup_families="gblur", warmup_iters=3, checkpoint_every=2)
    full = pretrain(_cfg(refs_dir, tmp_path / "a", **kw))
    pretrain(_cfg(refs_dir, tmp_path / "b", **kw), stop_at=3)  # last checkpoint at 2, inside the warm-up
    resumed = pretrain(_cfg(refs_dir, tmp_path / "b", **kw), resume=True)
    assert _same(_weights(full), _weights(resumed))
    # The warm-up changes the run: the same recipe without it ends elsewhere.
    plain = pretrain(_cfg(refs_dir, tmp_path / "c", families=kw["families"]))
    assert not _same(_weights(full), _weights(plain))
    assert read_card(full)["training"]["config"]["warmup_families"] == "gblur"
    with pytest.raises(ValueError, match="go together"):
        _cfg(refs_dir, tmp_path / "d", warmup_iters=2)
    with pytest.raises(ValueError, match="did you mean"):
        _cfg(refs_dir, tmp_path / "e", warmup_families="gblr", warmup_iters=2)


def test_family_weights_change_the_batches_and_are_recorded(refs_dir, tmp_path):
    kw = dict(families="gblur,jpeg", iters=3)
    plain = pretrain(_cfg(refs_dir, tmp_path / "a", **kw))
    weighted = pretrain(_cfg(refs_dir, tmp_path / "b", family_weights={"jpeg": 3}, **kw))
    assert not _same(_weights(plain), _weights(weighted))
    assert read_card(weighted)["training"]["config"]["family_weights"] == {"jpeg": 3}
    with pytest.raises(ValueError, match="not among the training families"):
        _cfg(refs_dir, tmp_path / "c", families="gblur", family_weights={"jpeg": 2})


def test_train_crops_mix_sizes_and_are_recorded(refs_dir, tmp_path):
    kw = dict(families="gblur,jpeg", iters=4, groups_per_batch=2, crop_size=32)
    plain = pretrain(_cfg(refs_dir, tmp_path / "a", **kw))
    mixed = pretrain(_cfg(refs_dir, tmp_path / "b", train_crops=[32, 48], **kw))
    assert not _same(_weights(plain), _weights(mixed))
    card = read_card(mixed)
    assert card["training"]["config"]["train_crops"] == [32, 48] and card["crop_size"] == 32
    with pytest.raises(ValueError, match="train_crops"):
        _cfg(refs_dir, tmp_path / "c", train_crops=[8, 32])


def test_groups_per_photo_trains_and_is_recorded(refs_dir, tmp_path):
    kw = dict(families="gblur,jpeg,wn", iters=3, groups_per_batch=4)
    plain = pretrain(_cfg(refs_dir, tmp_path / "a", **kw))
    paired = pretrain(_cfg(refs_dir, tmp_path / "b", groups_per_photo=2, **kw))
    assert not _same(_weights(plain), _weights(paired))
    assert read_card(paired)["training"]["config"]["groups_per_photo"] == 2
    with pytest.raises(ValueError, match="multiple of groups_per_photo"):
        _cfg(refs_dir, tmp_path / "c", groups_per_batch=3, groups_per_photo=2)


def test_family_scoped_cross_hinge_compares_photos_under_one_family(refs_dir, tmp_path):
    cfg = _cfg(refs_dir, tmp_path / "a", families="gblur,jpeg", iters=2, groups_per_batch=4, groups_per_family=2,
               cross_gap=2, cross_scope="family")
    groups = torch.repeat_interleave(torch.arange(4), 3)
    levels = torch.arange(3).repeat(4)
    _, parts = training_loss(cfg, 0, torch.zeros(12), groups, levels)
    assert parts["cross"].num_pairs == 4  # (clean, level 2) both ways inside groups {0, 1} and {2, 3}
    _, parts = training_loss(dataclasses.replace(cfg, cross_scope="batch"), 0, torch.zeros(12), groups, levels)
    assert parts["cross"].num_pairs == 12
    model = pretrain(cfg)
    assert read_card(model)["training"]["config"]["cross_scope"] == "family"
    with pytest.raises(ValueError, match="groups_per_family >= 2"):
        _cfg(refs_dir, tmp_path / "b", cross_gap=2, cross_scope="family")
    with pytest.raises(ValueError, match="unknown cross_scope"):
        _cfg(refs_dir, tmp_path / "b", cross_scope="photo")
    with pytest.raises(ValueError, match="do not combine"):
        _cfg(refs_dir, tmp_path / "b", groups_per_batch=4, groups_per_photo=2, groups_per_family=2)


def test_cross_families_limit_the_cross_photo_hinge(refs_dir, tmp_path):
    # Three groups (gblur, jpeg, gblur) of levels 0, 1 and 3; every score 0, so every pair counts as violated.
    groups = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    levels = torch.tensor([0, 1, 3, 0, 1, 3, 0, 1, 3])
    scores = torch.zeros(9)
    families = ["gblur", "jpeg", "gblur"]
    cfg = _cfg(refs_dir, tmp_path / "x", families="gblur,jpeg", cross_gap=2, cross_families="gblur")
    _, parts = training_loss(cfg, 0, scores, groups, levels, group_families=families)
    # Pairs across groups 2+ levels apart among gblur items and every clean crop: each level-3 gblur item
    # against the other gblur group's levels 0 and 1 and jpeg's clean crop; jpeg's levels 1 and 3 are in none.
    assert parts["cross"].num_pairs == 6
    _, every = training_loss(dataclasses.replace(cfg, cross_families=""), 0, scores, groups, levels)
    assert every["cross"].num_pairs == 12  # jpeg's level 3 against gblur's levels 0 and 1, and jpeg's level 1
    by_family = dataclasses.replace(cfg, cross_scope="family")
    _, within = training_loss(by_family, 0, scores, groups, levels, group_families=families)
    assert within["cross"].num_pairs == 4  # gblur's two photos only: level 3 against the other's levels 0 and 1
    with pytest.raises(ValueError, match="family of each group"):
        training_loss(cfg, 0, scores, groups, levels)
    with pytest.raises(ValueError, match="cross_gap"):
        _cfg(refs_dir, tmp_path / "y", cross_families="gblur")
    with pytest.raises(ValueError, match="unknown"):
        _cfg(refs_dir, tmp_path / "z", cross_gap=2, cross_families="gblurr")
    path = pretrain(_cfg(refs_dir, tmp_path / "r", iters=2, groups_per_batch=3, families="gblur,jpeg",
                         cross_gap=1, cross_families="gblur"))
    assert read_card(path)["training"]["config"]["cross_families"] == "gblur"
    rows = [r.split(",") for r in (tmp_path / "r" / "log.csv").read_text().splitlines()]
    col = rows[0].index("cross_pair_accuracy")
    assert all(r[col] != "" for r in rows[1:])
