"""Public API: return types, determinism, protocols, errors, batch behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rankiqa
from rankiqa.api import Scorer, load_model
from rankiqa.errors import BatchScoringError, ImageLoadError, WeightsError
from rankiqa.protocols import FULL_MAX_PIXELS, make_crops, pad_to_min_size
from conftest import make_checkpoint, smooth_photo


@pytest.fixture(scope="module")
def scorer(tiny_ckpt) -> Scorer:
    return load_model(tiny_ckpt, device="cpu")


def test_public_surface():
    assert set(rankiqa.__all__) == {"score", "rank", "load_model", "list_models", "report", "QualityMetric",
                                    "__version__"}
    assert rankiqa.report.__module__ == "rankiqa.html_report"
    assert rankiqa.QualityMetric.__module__ == "rankiqa.metric"
    assert isinstance(rankiqa.list_models(), list)


def test_single_and_many(scorer, photo):
    one = scorer.score(photo)
    assert isinstance(one, float)
    many = scorer.score([photo, photo[:40]])
    assert isinstance(many, list) and len(many) == 2 and many[0] == one
    batch = scorer.score(torch.from_numpy(photo).permute(2, 0, 1).float().div(255)[None].repeat(2, 1, 1, 1))
    assert isinstance(batch, list) and len(batch) == 2


@pytest.mark.parametrize("protocol", ["paper", "grid", "full"])
def test_deterministic_per_protocol(scorer, photo, protocol):
    a = scorer.score(photo, protocol=protocol)
    b = load_model(scorer.name, device="cpu").score(photo, protocol=protocol)
    assert a == b


def test_batch_size_does_not_change_scores(scorer, photo):
    imgs = [photo, smooth_photo(50, 70, seed=3), smooth_photo(120, 90, seed=4)]
    assert np.allclose(scorer.score(imgs, batch_size=1), scorer.score(imgs, batch_size=64), atol=1e-5)


def test_small_and_tiny_images(scorer):
    assert math.isfinite(scorer.score(np.zeros((1, 1, 3), np.uint8)))
    assert math.isfinite(scorer.score(np.zeros((5, 300, 3), np.uint8), protocol="grid"))


def test_direction_flip(tmp_path, photo):
    up = load_model(make_checkpoint(tmp_path / "up.safetensors", seed=1), device="cpu").score(photo)
    down = load_model(make_checkpoint(tmp_path / "dn.safetensors", seed=1, higher_is_better=False),
                      device="cpu").score(photo)
    assert down == pytest.approx(-up)


def test_rank_best_first(scorer, photo, tmp_path):
    imgs = [photo, smooth_photo(80, 80, seed=9), smooth_photo(90, 64, seed=2)]
    ranked = scorer.rank(imgs)
    scores = scorer.score(imgs)
    assert [r.index for r in ranked] == sorted(range(3), key=lambda i: -scores[i])
    assert all(r.path is None for r in ranked)


def test_rank_accepts_one_image_and_generators(scorer, photo, tmp_path):
    from PIL import Image

    Image.fromarray(photo).save(tmp_path / "one.png")
    one = rankiqa.rank(str(tmp_path / "one.png"), model=scorer)
    assert len(one) == 1 and one[0].path == str(tmp_path / "one.png")
    assert len(rankiqa.rank(photo, model=scorer)) == 1  # an HxWx3 array is one image, not its rows
    assert len(rankiqa.rank((p for p in [photo, photo[:50]]), model=scorer)) == 2
    assert isinstance(scorer.score(x for x in [photo]), list)


def test_batch_errors_keep_other_results(scorer, photo):
    with pytest.raises(BatchScoringError) as info:
        scorer.score([photo, "does/not/exist.png", np.full((4, 4), np.nan)])
    err = info.value
    assert set(err.errors) == {1, 2} and math.isfinite(err.scores[0]) and math.isnan(err.scores[1])
    assert "does/not/exist.png" in str(err)
    out = scorer.score([photo, "does/not/exist.png"], on_error="nan")
    assert math.isfinite(out[0]) and math.isnan(out[1])
    ranked = scorer.rank([photo, "does/not/exist.png"], on_error="nan")
    assert ranked[-1].index == 1 and math.isnan(ranked[-1].score)


def test_single_bad_input_raises_clear_error(scorer):
    with pytest.raises(ImageLoadError, match="nope.jpg: no such file"):
        scorer.score("nope.jpg")


def test_argument_errors(scorer, photo):
    with pytest.raises(ValueError, match="did you mean 'paper'"):
        scorer.score(photo, protocol="papr")
    with pytest.raises(ValueError, match="batch_size"):
        scorer.score(photo, batch_size=0)
    with pytest.raises(ValueError, match="on_error"):
        scorer.score(photo, on_error="ignore")


def test_model_errors(tmp_path):
    with pytest.raises(WeightsError, match="pickle"):
        load_model(tmp_path / "weights.pth")
    with pytest.raises(WeightsError, match="no such checkpoint file"):
        load_model(tmp_path / "missing.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_model(garbage)
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(WeightsError, match="no rankiqa card"):
        load_model(plain)



def test_unknown_checkpoint_did_you_mean(monkeypatch):
    from rankiqa.weights import manifest as manifest_mod

    rec = {"id": "vgg16.rank-live", "arch": "vgg16", "filename": "m.safetensors", "sha256": "0" * 64, "size": 1,
           "repo_id": "rankiqa/vgg16", "revision": "a" * 40}
    monkeypatch.setattr(manifest_mod, "_packaged_manifest",
                        lambda: {"schema_version": 1, "default": None, "checkpoints": [rec]})
    with pytest.raises(WeightsError, match="did you mean 'vgg16.rank-live'"):
        load_model("vgg16.rank-liv")
    with pytest.raises(WeightsError, match="no embedded default"):
        load_model("default")


def test_protocol_crops():
    img = torch.rand(3, 300, 500)
    paper = make_crops(img, "paper", 224)
    assert len(paper.tensors) == 30 and all(t.shape == (3, 224, 224) for t in paper.tensors)
    grid = make_crops(img, "grid", 224)
    assert len(grid.tensors) == 2 * 3
    assert make_crops(img, "full").tensors[0].shape == (3, 300, 500)
    big = torch.rand(3, 1500, 2100)
    tiles = make_crops(big, "full")
    assert len(tiles.tensors) > 1 and sum(tiles.weights) == 1500 * 2100
    assert all(t.shape[1] * t.shape[2] <= FULL_MAX_PIXELS for t in tiles.tensors)


def test_mirror_padding_any_amount():
    x = torch.arange(6.0).view(1, 2, 3)
    y = pad_to_min_size(x, 8)
    assert y.shape == (1, 8, 8)
    assert set(y.unique().tolist()) == set(range(6))
