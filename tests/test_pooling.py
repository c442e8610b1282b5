"""Crop pooling: ``mean`` (the paper) and ``activity`` (crops weighted by their detail), end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rankiqa
from conftest import smooth_photo
from rankiqa.api import load_model
from rankiqa.errors import WeightsError
from rankiqa.io import load_image
from rankiqa.protocols import ACTIVITY_FLOOR, PAPER_SEED, activity_weights, make_crops
from rankiqa.train.publish import publish
from rankiqa.weights.manifest import CheckpointRecord, load_manifest


def half_flat(h: int = 64, w: int = 128) -> np.ndarray:
    """Left half one flat grey, right half a photo with fine texture: the case activity pooling is for."""
    img = smooth_photo(h, w, seed=3).astype(np.int16)
    img += np.random.default_rng(0).integers(-40, 41, size=img.shape, dtype=np.int16)
    img[:, : w // 2] = 120
    return img.clip(0, 255).astype(np.uint8)


def test_activity_is_the_mean_neighbour_difference():
    flat = torch.full((3, 16, 16), 0.4)
    stripes = torch.zeros(3, 16, 16)
    stripes[:, :, ::2] = 1.0  # every horizontal neighbour differs by 1, no vertical one
    weights = activity_weights([flat, stripes, 0.5 * stripes])
    assert weights == pytest.approx([ACTIVITY_FLOOR, 1.0 + ACTIVITY_FLOOR, 0.5 + ACTIVITY_FLOOR])


def test_activity_weights_are_relative():
    # A change that scales every crop's detail alike (contrast) leaves the pooling alike.
    x = torch.from_numpy(smooth_photo(96, 128, seed=5)).permute(2, 0, 1).float() / 255
    a = np.array(make_crops(x, "paper", 32, 12, PAPER_SEED, "activity").weights)
    b = np.array(make_crops(0.5 + 0.5 * (x - 0.5), "paper", 32, 12, PAPER_SEED, "activity").weights)
    assert np.ptp(a) > 0.2 * a.mean()  # the crops do differ in detail
    np.testing.assert_allclose(a / a.sum(), b / b.sum(), atol=0.01)


@pytest.mark.parametrize("protocol", ["paper", "grid"])
def test_make_crops_weights(protocol):
    x = load_image(half_flat())
    mean = make_crops(x, protocol, 32, 10, PAPER_SEED)
    act = make_crops(x, protocol, 32, 10, PAPER_SEED, "activity")
    assert mean.weights == [1.0] * len(mean.tensors)
    assert all(torch.equal(a, b) for a, b in zip(mean.tensors, act.tensors))  # the same crops
    assert act.weights == pytest.approx(activity_weights(act.tensors))
    assert max(act.weights) > 50 * ACTIVITY_FLOOR
    if protocol == "grid":  # its first crop lies wholly in the flat half: it counts for almost nothing
        assert act.weights[0] == pytest.approx(ACTIVITY_FLOOR)


@pytest.mark.parametrize("channels_last", [False, True])  # the scoring pipeline's crops are channels-last views
def test_activity_of_paper_crops_is_the_definition(channels_last):
    rng = np.random.default_rng(1)
    x = load_image(rng.integers(0, 256, size=(64, 96, 3), dtype=np.uint8), channels_last=channels_last)
    crops = make_crops(x, "paper", 32, 12, PAPER_SEED, "activity")

    def definition(c: torch.Tensor) -> float:
        y = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
        return float((y[:, 1:] - y[:, :-1]).abs().mean() + (y[1:] - y[:-1]).abs().mean()) + ACTIVITY_FLOOR

    assert crops.weights == pytest.approx([definition(c) for c in crops.tensors], rel=1e-5)


def test_full_keeps_area_weights():
    x = torch.rand(3, 40, 60)
    assert make_crops(x, "full", 32, pooling="activity").weights == make_crops(x, "full", 32).weights == [1.0]


def test_unknown_pooling_rejected(tiny_ckpt):
    with pytest.raises(ValueError, match="did you mean 'activity'"):
        make_crops(torch.rand(3, 40, 40), "paper", 32, pooling="activty")
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        load_model(tiny_ckpt, device="cpu", pooling="max")


def test_scorer_pools_by_activity():
    # The embedded default, not the random tiny network: its crop scores differ between flat and textured crops.
    x = half_flat(160, 320)
    scorer = load_model("default", device="cpu", precision="float32", pooling="activity")
    assert scorer.pooling == "activity" and "pooling='activity'" in repr(scorer)
    views = make_crops(load_image(x), "paper", scorer.crop_size, scorer.num_crops, PAPER_SEED, "activity")
    with torch.inference_mode():
        s = [float(scorer.model(v.unsqueeze(0))[0]) for v in views.tensors]
    want = float(np.average(s, weights=views.weights))
    assert scorer.score(x, raw=True) == pytest.approx(want, abs=1e-5)
    plain = load_model("default", device="cpu", precision="float32", pooling="mean")
    assert plain.score(x, raw=True) == pytest.approx(float(np.mean(s)), abs=1e-5)
    assert abs(float(np.mean(s)) - want) > 0.05  # the flat half's crops no longer count alike
    # Crops of several images share a forward pass (and its activity measurement) and still pool per image.
    others = [np.ascontiguousarray(x[:, ::-1]), x[::-1].copy()]
    alone = [scorer.score(y, raw=True) for y in (x, *others)]
    assert scorer.score([x, *others], raw=True, batch_size=20) == pytest.approx(alone, abs=1e-5)
    assert max(alone) - min(alone) > 0.05
    # the metric pools the same way, and still differentiates through the crops
    metric = rankiqa.QualityMetric("default", pooling="activity", raw=True)
    t = torch.from_numpy(x).permute(2, 0, 1).float().unsqueeze(0).div(255).requires_grad_(True)
    out = metric(t)
    assert out.detach().item() == pytest.approx(want, abs=1e-5)
    out.sum().backward()
    assert t.grad is not None and t.grad.abs().sum() > 0


def test_checkpoint_file_pools_by_mean(tiny_ckpt):
    assert load_model(tiny_ckpt, device="cpu").pooling == "mean"  # no manifest entry: the paper's


def test_views_label(tiny_ckpt):
    act = load_model(tiny_ckpt, device="cpu", num_crops=7, pooling="activity")
    assert act.views_label() == "paper, 7 crops, activity pooling"
    assert act.views_label("grid") == "grid, activity pooling"
    assert act.views_label("full") == "full"  # area weights whatever the pooling
    assert load_model(tiny_ckpt, device="cpu").views_label() == "paper, 30 crops"
    with pytest.raises(ValueError, match="unknown protocol"):
        act.views_label("ful")


def test_cli_pooling(tiny_ckpt, tmp_path, capsys):
    from PIL import Image

    from rankiqa.cli import main

    path = tmp_path / "half.png"
    Image.fromarray(half_flat()).save(path)
    assert main(["score", str(path), "--model", str(tiny_ckpt), "--pooling", "activity", "--json", "--raw",
                 "--precision", "float32", "--no-progress"]) == 0
    got = json.loads(capsys.readouterr().out)[0]["score"]
    want = load_model(tiny_ckpt, device="cpu", precision="float32", pooling="activity").score(str(path), raw=True)
    assert got == pytest.approx(want, abs=1e-5)
    with pytest.raises(SystemExit) as exc:
        main(["score", str(path), "--pooling", "max"])
    assert exc.value.code == 2
    assert "unknown pooling 'max'; did you mean 'mean'?" in capsys.readouterr().err


def test_manifest_and_publish_carry_pooling(tmp_path, tiny_ckpt):
    manifest = tmp_path / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "default": None, "checkpoints": []}))
    rec = publish(tiny_ckpt, "vgg16_slim.tiny", embed=True, manifest=manifest)
    assert rec["pooling"] == "mean"
    publish(tiny_ckpt, "vgg16_slim.tiny", embed=True, pooling="activity", manifest=manifest)
    assert load_manifest(json.loads(manifest.read_text()))["vgg16_slim.tiny"].pooling == "activity"
    with pytest.raises(ValueError, match="did you mean 'mean'"):
        publish(tiny_ckpt, "vgg16_slim.tiny", embed=True, pooling="meen", manifest=manifest)
    bad = {**rec, "pooling": "max"}
    with pytest.raises(WeightsError, match="manifest entry 'vgg16_slim.tiny': unknown pooling 'max'"):
        CheckpointRecord.from_dict(bad)
