"""synthesize (resumable), preview, evaluate-ranking and the architectures."""

from __future__ import annotations

import csv

import pytest
import torch
from PIL import Image

from rankiqa.models import build_model
from rankiqa.train.__main__ import main


def test_synthesize_writes_all_and_resumes(refs_dir, tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synthesize", "--refs", str(refs_dir), "--set", "jpeg,wn", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "index.csv")))
    assert len(rows) == 6 * 2 * 6  # photos x families x (clean + 5 levels)
    assert all((out / r["file"]).is_file() for r in rows)
    victim = out / rows[7]["file"]
    before = victim.read_bytes()
    victim.unlink()
    stamp = (out / rows[8]["file"]).stat().st_mtime_ns
    assert main(["synthesize", "--refs", str(refs_dir), "--set", "jpeg,wn", "--out", str(out), "--workers", "2"]) == 0
    assert victim.read_bytes() == before  # regenerated identically
    assert (out / rows[8]["file"]).stat().st_mtime_ns == stamp  # finished files are skipped


def test_preview_sheet(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "p.png")
    assert main(["preview", "--image", str(tmp_path / "p.png"), "--set", "live", "--out", str(tmp_path / "s.png"),
                 "--thumb", "48"]) == 0
    sheet = Image.open(tmp_path / "s.png")
    assert sheet.width > 6 * 48 and sheet.height > 4 * 48


def test_evaluate_ranking_with_plot(tiny_ckpt, refs_dir, tmp_path, capsys):
    assert main(["evaluate-ranking", "--model", str(tiny_ckpt), "--refs", str(refs_dir), "--groups", "8",
                 "--plot", str(tmp_path / "fig2.png")]) == 0
    assert "pair accuracy" in capsys.readouterr().out
    assert Image.open(tmp_path / "fig2.png").height > 0


def test_usage_errors(capsys):
    with pytest.raises(SystemExit):
        main(["pretrain", "--refs", "x", "--out", "y", "--iters", "0"])
    assert main(["synthesize", "--refs", "/nonexistent", "--out", "/tmp/x"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrian", "--refs", "x"])
    assert "did you mean 'pretrain'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--model", "default", "--datset", "live-replica:x"])
    assert "'--datset': did you mean '--dataset'?" in capsys.readouterr().err


def test_vgg16_keys_match_torchvision():
    from torchvision.models import vgg16

    ours = {k for k in build_model("vgg16").state_dict() if k.startswith("features.")}
    theirs = {k for k in vgg16(weights=None).state_dict() if k.startswith("features.")}
    assert ours == theirs


def test_shallow_matches_table5():
    net = build_model("shallow")
    x = torch.zeros(1, 3, 224, 224)
    assert net.features(x).shape == (1, 32, 1, 1)
    assert net(x).shape == (1,)
    assert build_model("shallow")(torch.zeros(2, 3, 300, 400)).shape == (2,)  # any size >= 224


@pytest.mark.parametrize("arch", ["vgg16_slim", "mobilenet_v3_small"])
def test_any_input_size(arch):
    net = build_model(arch).eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, 64, 96)).shape == (2,)


def test_unknown_arch():
    with pytest.raises(ValueError, match="did you mean 'vgg16'"):
        build_model("vgg61")
    with pytest.raises(ValueError, match="bad arguments"):
        build_model("vgg16_slim", depth=3)


def test_pretrain_family_weights_from_the_command_line(refs_dir, tmp_path, capsys):
    import json

    base = ["pretrain", "--refs", str(refs_dir), "--set", "gblur,jpeg", "--arch", "vgg16_slim",
            "--arch-kwargs", '{"width": 0.05, "hidden": 8}', "--crop", "32", "--groups", "2", "--iters", "2",
            "--workers", "0", "--eval-every", "2", "--eval-groups", "2"]
    assert main(base + ["--family-weights", '{"jpeg": 2}', "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "config.json").read_text())["family_weights"] == {"jpeg": 2}
    assert main(base + ["--family-weights", '{"wn": 2}', "--out", str(tmp_path / "b")]) == 2
    assert "not among the training families" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base + ["--family-weights", "[2]", "--out", str(tmp_path / "c")])
    assert main(base + ["--flip", "--min-scale", "0.7", "--teacher", "psnr", "--teacher-mean",
                        "--out", str(tmp_path / "d")]) == 0
    cfg = json.loads((tmp_path / "d" / "config.json").read_text())
    assert (cfg["flip"], cfg["min_scale"], cfg["teacher_mean"]) == (True, 0.7, True)
    assert main(base + ["--min-scale", "2", "--out", str(tmp_path / "e")]) == 2
    assert "min_scale must be in (0, 1]" in capsys.readouterr().err
    assert main(base + ["--groups-per-family", "2", "--cross-gap", "2", "--cross-scope", "family",
                        "--out", str(tmp_path / "f")]) == 0
    cfg = json.loads((tmp_path / "f" / "config.json").read_text())
    assert (cfg["groups_per_family"], cfg["cross_gap"], cfg["cross_scope"]) == (2, 2, "family")
    assert main(base + ["--cross-gap", "2", "--cross-scope", "family", "--out", str(tmp_path / "g")]) == 2
    assert "groups_per_family >= 2" in capsys.readouterr().err


@pytest.mark.parametrize("value, message", [("128,x", "not an integer"), ("128,0", "must be >= 1")])
def test_pretrain_rejects_bad_train_crops(value, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["pretrain", "--refs", str(tmp_path), "--out", str(tmp_path / "o"), "--train-crops", value])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_export_a_state_with_its_protocol_and_calibrate_the_file(refs_dir, rated, tmp_path, capsys):
    import rankiqa
    from rankiqa.train.trainer import PretrainConfig, pretrain

    run = tmp_path / "run"
    pretrain(PretrainConfig(refs=[str(refs_dir)], out=str(run), arch="vgg16_slim",
                            arch_kwargs={"width": 0.05, "hidden": 8}, iters=4, groups_per_batch=2, crop_size=32,
                            checkpoint_every=2, heldout_fraction=0.34, progress=False), stop_at=3)
    snap = tmp_path / "snap.safetensors"
    assert main(["export", "--state", str(run / "state.safetensors"), "--out", str(snap), "--num-crops", "5",
                 "--pooling", "activity"]) == 0
    scorer = rankiqa.load_model(str(snap))
    assert (scorer.num_crops, scorer.pooling, scorer.calibration) == (5, "activity", None)
    images = sorted(str(p) for p in rated.glob("*.png"))
    raw = scorer.score(images)
    assert main(["calibrate", "--model", str(snap), "--dataset", f"csv:{rated}", "--write"]) == 0
    scorer = rankiqa.load_model(str(snap))
    assert scorer.calibration is not None and scorer.card["score_range"] == [0.0, 100.0]
    calibrated = scorer.score(images)
    assert all(0.0 <= s <= 100.0 for s in calibrated)
    assert sorted(range(len(raw)), key=raw.__getitem__) == sorted(range(len(raw)), key=calibrated.__getitem__)
    with pytest.raises(SystemExit):
        main(["export", "--state", str(run / "state.safetensors"), "--out", str(snap), "--num-crops", "0"])
    assert "--num-crops: must be >= 1" in capsys.readouterr().err
