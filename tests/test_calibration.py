"""The 0-100 output scale: fitted to human scores, monotone, never changes the ranking; --raw / raw=True."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import rankiqa
from rankiqa.calibration import calibrate, check_calibration
from rankiqa.train.calibrate import calibrate_checkpoint, fit_calibration, human_quality, record_calibration
from rankiqa.train.datasets import load_dataset
from rankiqa.weights.checkpoint import CARD_KEY
from conftest import make_checkpoint


def test_fit_recovers_a_logistic_and_is_monotone():
    rng = np.random.default_rng(0)
    raw = rng.uniform(-4, 4, 300)
    quality = 100 / (1 + np.exp(-(raw - 0.5) / 1.5)) + rng.normal(0, 2, 300)
    cal = fit_calibration(raw, quality)
    assert cal["center"] == pytest.approx(0.5, abs=0.2) and cal["scale"] == pytest.approx(1.5, rel=0.15)
    grid = np.linspace(-50, 50, 2001)
    mapped = [calibrate(float(x), cal) for x in grid]
    assert all(b > a or (a == b and a in (0.0, 100.0)) for a, b in zip(mapped, mapped[1:]))
    assert 0.0 <= min(mapped) and max(mapped) <= 100.0
    assert math.isnan(calibrate(float("nan"), cal))


@pytest.mark.parametrize("bad", [{"kind": "spline"}, {"kind": "logistic", "center": 0, "scale": 0},
                                 {"kind": "logistic", "center": float("nan"), "scale": 1}])
def test_bad_calibration_records(bad):
    with pytest.raises(ValueError):
        check_calibration(bad)


def _with_calibration(src, dst, cal):
    with safe_open(str(src), framework="pt") as f:
        card = json.loads(f.metadata()[CARD_KEY])
    card["calibration"] = cal
    save_file(load_file(str(src)), str(dst), metadata={CARD_KEY: json.dumps(card)})
    return dst


def test_calibrated_scores_keep_the_ranking(rated, tmp_path):
    ckpt = make_checkpoint(tmp_path / "m.safetensors", crop_size=32)
    cal = calibrate_checkpoint(ckpt, f"csv:{rated}", progress=False)
    assert cal["n"] == 16 and "100 - DMOS" in cal["fitted_on"] and "--dataset csv:" in cal["command"]
    calibrated = _with_calibration(ckpt, tmp_path / "cal.safetensors", cal)
    paths = [s.path for s in load_dataset(f"csv:{rated}").samples]
    raw = rankiqa.score(paths, model=calibrated, raw=True)
    out = rankiqa.score(paths, model=calibrated)
    assert raw == rankiqa.score(paths, model=ckpt)  # raw=True is the network's value
    assert all(0.0 <= s <= 100.0 for s in out)
    assert np.array_equal(np.argsort(raw, kind="stable"), np.argsort(out, kind="stable"))
    assert [r.index for r in rankiqa.rank(paths, model=calibrated)] == \
        [r.index for r in rankiqa.rank(paths, model=calibrated, raw=True)]
    metric = rankiqa.QualityMetric(calibrated)
    x = torch.stack([rankiqa.io.load_image(p) for p in paths[:3]])
    assert torch.allclose(metric(x), torch.tensor(out[:3]), atol=1e-3)
    cli = subprocess.run([sys.executable, "-m", "rankiqa.cli", "score", "--model", str(calibrated), "--json",
                          "--raw", "--no-progress", str(paths[0])], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)[0]["score"] == pytest.approx(raw[0], abs=1e-5)


def test_human_quality_directions(rated):
    ds = load_dataset(f"csv:{rated}")  # DMOS-like (lower is better)
    q = human_quality(ds)
    assert q.max() <= 100 and np.corrcoef(q, [s.score for s in ds.samples])[0, 1] < -0.99


def test_record_calibration_writes_the_manifest(tmp_path):
    from rankiqa.weights.manifest import load_manifest

    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"schema_version": 1, "default": None, "checkpoints": [
        {"id": "vgg16_slim.x", "arch": "vgg16_slim", "filename": "x.safetensors", "sha256": "0" * 64, "size": 1,
         "embedded": True}]}))
    record_calibration("vgg16_slim.x", {"kind": "logistic", "center": 1.0, "scale": 2.0}, manifest)
    rec = load_manifest(json.loads(manifest.read_text()))["vgg16_slim.x"]
    assert rec.calibration["scale"] == 2.0 and rec.score_range == [0.0, 100.0]
    with pytest.raises(ValueError, match="no manifest entry"):
        record_calibration("vgg16_slim.y", {"kind": "logistic", "center": 1.0, "scale": 2.0}, manifest)
