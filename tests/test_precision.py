"""Inference precision: float32, bfloat16, auto; bfloat16 agrees with float32 and keeps errors per file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from conftest import smooth_photo
from rankiqa.api import load_model
from rankiqa.cli import main
from rankiqa.io import load_image
from rankiqa.precision import native_bf16, resolve_precision


def test_resolve_precision():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"
    assert resolve_precision("auto", cpu) == ("bfloat16" if native_bf16() else "float32")
    assert resolve_precision("auto", torch.device("cuda")) == "float32"
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="not mps"):
        resolve_precision("bfloat16", torch.device("mps"))


def test_bfloat16_agrees_with_float32(tmp_path):
    # Distorted versions of a few photos scored by the trained default: the
    # ordering is what bfloat16 must keep, and the values must stay close.
    images = []
    for seed in range(4):
        photo = smooth_photo(160, 200, seed=seed).astype(np.float32)
        for sigma in (0.0, 8.0, 20.0, 40.0):
            noise = np.random.default_rng(seed).normal(0, sigma, photo.shape)
            images.append(np.clip(photo + noise, 0, 255).astype(np.uint8))
    images.append(str(tmp_path / "missing.png"))
    f32 = load_model(device="cpu", precision="float32")
    bf16 = load_model(device="cpu", precision="bfloat16")
    assert "precision='bfloat16'" in repr(bf16)
    for protocol in ("paper", "full"):
        a, err_a = f32.score_with_errors(images, protocol)
        b, err_b = bf16.score_with_errors(images, protocol)
        assert set(err_a) == set(err_b) == {len(images) - 1}
        a, b = np.array(a[:-1]), np.array(b[:-1])
        assert not np.array_equal(a, b)  # it really ran in bfloat16
        assert a.std() > 0.3  # the noise levels spread the scores
        # bfloat16 keeps 8 bits of mantissa: per-image differences of a few percent of the spread,
        # far below what separates these noise levels.
        assert np.abs(a - b).mean() < 0.04 * a.std() and np.abs(a - b).max() < 0.1 * a.std()
        assert spearmanr(a, b)[0] > 0.98
    # The same scorer gives the same number every time.
    assert bf16.score(images[:3]) == bf16.score(images[:3])


def test_bfloat16_quality_map():
    image = torch.from_numpy(smooth_photo(192, 256).transpose(2, 0, 1).copy()).float() / 255
    a = load_model(device="cpu", precision="float32").quality_map(image, raw=True).scores
    b = load_model(device="cpu", precision="bfloat16").quality_map(image, raw=True).scores
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert np.abs(a - b).max() < 0.05 * np.ptp(a) + 0.05


def test_channels_last_decode_is_the_same_image(tmp_path):
    from PIL import Image

    path = tmp_path / "p.png"
    Image.fromarray(smooth_photo(40, 56)).save(path)
    plain, cl = load_image(path), load_image(path, channels_last=True)
    assert cl.shape == plain.shape == (3, 40, 56) and torch.equal(cl, plain)
    assert cl.permute(1, 2, 0).is_contiguous() and plain.is_contiguous()


def test_cli_precision(tiny_ckpt, tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "p.png"
    Image.fromarray(smooth_photo(96, 128)).save(path)
    code = main(["score", str(path), "--model", str(tiny_ckpt), "--precision", "bfloat16", "--json",
                 "--no-progress", "--raw"])
    out = json.loads(capsys.readouterr().out)
    expected = load_model(tiny_ckpt, device="cpu", precision="bfloat16").score(str(path), raw=True)
    assert code == 0 and out[0]["score"] == pytest.approx(expected)
    with pytest.raises(SystemExit) as e:
        main(["score", str(path), "--precision", "fp16"])
    assert e.value.code == 2 and "unknown precision 'fp16'" in capsys.readouterr().err


def test_quality_metric_stays_float32_unless_asked(tiny_ckpt):
    from rankiqa.metric import QualityMetric
    from rankiqa.precision import _Bfloat16

    plain = QualityMetric(tiny_ckpt, device="cpu")
    assert not any(isinstance(m, _Bfloat16) for m in plain.modules())
    low = QualityMetric(tiny_ckpt, device="cpu", precision="bfloat16")
    assert any(isinstance(m, _Bfloat16) for m in low.modules())


def test_score_caches_one_model_per_precision_used(tiny_ckpt):
    import rankiqa
    from rankiqa import api

    image = smooth_photo(64, 64)
    used = resolve_precision("auto", torch.device("cpu"))
    rankiqa.score(image, model=tiny_ckpt, device="cpu", precision="auto")
    rankiqa.score(image, model=tiny_ckpt, device="cpu", precision=used)
    keys = [k for k in api._CACHE if k[0] == str(tiny_ckpt)]
    assert keys == [(str(tiny_ckpt), "cpu", used)]
    with pytest.raises(ValueError, match="precision must be one of"):
        rankiqa.score(image, model=tiny_ckpt, device="cpu", precision="half")
