"""Quality maps: local scores that find the damaged half, the two methods agree, the drawing, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from conftest import REFS, smooth_photo
from rankiqa.api import load_model
from rankiqa.cli import main
from rankiqa.heatmap import colormap, render_map, save_quality_map
from rankiqa.io import load_image
from rankiqa.protocols import make_crops

SCENE = Path(__file__).resolve().parents[1] / "examples" / "images" / "scene.png"


@pytest.fixture(scope="module")
def default():
    return load_model("default", device="cpu")


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    with Image.open(SCENE) as im:
        return im.convert("RGB")


def _damage_left(im: Image.Image, kind: str) -> Image.Image:
    w, h = im.size
    left = im.crop((0, 0, w // 2, h))
    if kind == "blur":
        left = left.filter(ImageFilter.GaussianBlur(3))
    else:
        rng = np.random.default_rng(0)
        arr = np.asarray(left).astype(np.float64) + rng.normal(0, 30, (h, w // 2, 3))
        left = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    out = im.copy()
    out.paste(left, (0, 0))
    return out


@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_damaged_left_half_scores_lower(default, kind, real_photo):
    # A real photo: the default judges photos, and rates a procedurally generated texture
    # (conftest.smooth_photo) as mediocre whether noised or not (46.6 clean, 48.7 with noise).
    qmap = default.quality_map(_damage_left(Image.fromarray(real_photo), kind))
    cols = qmap.scores.shape[1]
    # Windows that straddle the seam see both halves: compare the clean sides only.
    straddle = int(np.ceil(qmap.window / qmap.stride))
    left = qmap.scores[:, : cols // 2 - straddle]
    right = qmap.scores[:, cols // 2 + 1:]
    assert left.size and right.size
    assert left.mean() < right.mean() - 5, (left.mean(), right.mean())
    # Not just on average: most rows show it.
    assert np.mean(left.mean(axis=1) < right.mean(axis=1)) >= 0.8


def test_methods_agree_and_match_grid(default, real_photo):
    offsets, corrs = [], []
    # Four photos, as one photo's agreement moves from checkpoint to checkpoint (offset 0.11-0.17 of
    # its spread on the first photo, 0.06-0.10 on the next three, for the last four defaults;
    # correlation 0.88 on the third with vgg16_slim.rank-broad-teacher, 0.96 before, 0.93-0.98 elsewhere).
    for path in sorted(REFS.glob("bsds500/*.jpg"))[:4]:
        with Image.open(path) as im:
            image = load_image(_damage_left(im.convert("RGB"), "blur"))
        fast = default.quality_map(image, stride=64)
        slow = default.quality_map(image, stride=64, method="crops")
        assert fast.scores.shape == slow.scores.shape
        # They differ only at window borders (context vs zero padding): the same pattern, and an
        # offset small against the map's own spread (points depend on the checkpoint's calibration).
        corrs.append(np.corrcoef(fast.scores.ravel(), slow.scores.ravel())[0, 1])
        offsets.append(np.abs(fast.scores - slow.scores).mean() / np.ptp(fast.scores))
    assert np.mean(corrs) > 0.9 and min(corrs) > 0.8, corrs
    assert np.mean(offsets) < 0.15, offsets
    image = load_image(_damage_left(Image.fromarray(smooth_photo(384, 512, seed=3)), "blur"))
    # A crops map at stride = window is the grid protocol's crops (when they tile exactly), pooled
    # with the checkpoint's weights.
    tile = default.quality_map(image[:, :256, :384], stride=128, method="crops", raw=True)
    grid = default.score(image[:, :256, :384], protocol="grid", raw=True)
    weights = make_crops(image[:, :256, :384], "grid", 128, pooling=default.pooling).weights
    assert np.average(tile.scores.ravel(), weights=weights) == pytest.approx(grid, rel=1e-4, abs=1e-4)


def test_map_shape_scale_and_small_images(default):
    image = torch.rand(3, 200, 300)
    qmap = default.quality_map(image)
    assert qmap.scores.shape == ((200 - 128) // 32 + 1, (300 - 128) // 32 + 1)
    assert qmap.per_pixel().shape == (200, 300)
    assert 0 <= qmap.scores.min() <= qmap.scores.max() <= 100  # the calibrated 0-100 scale
    tiny = default.quality_map(torch.rand(3, 40, 50))  # mirror-padded to one window
    assert tiny.scores.shape == (1, 1) and tiny.image_size == (128, 128)


def test_strips_give_the_same_map(default, monkeypatch):
    import rankiqa.maps as maps

    image = torch.rand(3, 320, 256)
    whole = default.quality_map(image).scores
    monkeypatch.setattr(maps, "_STRIP_PIXELS", 256 * 150)  # forces one window row per strip
    strips = default.quality_map(image).scores
    assert strips.shape == whole.shape
    # Only context beyond each strip's 64 px halo is lost: a small fraction of a point (1.3 without the halo).
    assert np.abs(strips - whole).max() < 0.1


def test_map_argument_errors(default, tmp_path):
    with pytest.raises(ValueError, match="multiple of the network's feature stride"):
        default.quality_map(torch.rand(3, 200, 200), stride=20)
    with pytest.raises(ValueError, match="larger than the window"):
        default.quality_map(torch.rand(3, 200, 200), stride=256, method="crops")
    with pytest.raises(ValueError, match="method must be one of"):
        default.quality_map(torch.rand(3, 200, 200), method="pixels")
    with pytest.raises(ValueError, match="positive int"):
        default.quality_map(torch.rand(3, 200, 200), stride=0)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="bad.jpg: not an image"):
        default.quality_map(str(bad))


def test_colormap_and_render(default, scene):
    c = colormap(np.array([0.0, 0.5, 1.0, 2.0, np.nan]))
    assert c.dtype == np.uint8 and c.shape == (5, 3)
    assert c[2].sum() > c[0].sum()  # bright = better
    assert (c[3] == c[2]).all() and (c[4] == c[0]).all()
    image = load_image(scene)
    qmap = default.quality_map(image)
    pic = render_map(image, qmap, title="t")
    assert pic.size[0] > scene.size[0] and pic.size[1] > scene.size[1]
    with pytest.raises(ValueError, match="computed on"):
        render_map(torch.rand(3, 10, 10), qmap)


def test_cli_map(tmp_path, scene, capsys):
    src = tmp_path / "half.png"
    _damage_left(scene, "blur").save(src)
    out = tmp_path / "map.png"
    assert main(["map", str(src), "-o", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert out.is_file() and Image.open(out).size[0] > 0
    assert info["stride"] == 32 and len(info["scores"]) == info["rows"]
    assert info["min"] <= info["mean"] <= info["max"]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG junk")
    assert main(["map", str(bad), "-o", str(tmp_path / "m.png")]) == 1
    assert "bad.png" in capsys.readouterr().err
    assert main(["map", str(src), "-o", str(tmp_path / "m.txt")]) == 2
    assert main(["map", str(src), "-o", str(tmp_path / "m.png"), "--stride", "20"]) == 2
    assert "feature stride" in capsys.readouterr().err


def test_save_quality_map_pads_small_inputs(default, tmp_path):
    qmap = save_quality_map(default, np.zeros((50, 60, 3), np.uint8) + 128, tmp_path / "m.png")
    assert qmap.image_size == (128, 128) and (tmp_path / "m.png").is_file()
