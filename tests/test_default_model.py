"""The embedded default checkpoint: offline scoring, protocol agreement, sensible rankings."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import rankiqa
from rankiqa.weights.manifest import default_id

ROOT = Path(__file__).resolve().parents[1]
BURST = sorted((ROOT / "examples" / "images" / "burst").glob("*.png"))

pytestmark = pytest.mark.skipif(default_id() is None, reason="no embedded default checkpoint ships yet")


@pytest.fixture(scope="module")
def distorted():
    sys.path.insert(0, str(ROOT / "examples"))
    from make_images import scene

    from rankiqa.train.distortions import apply_distortion

    img = scene()
    return [apply_distortion(f, img, lv, 0) for f in ("gblur", "jpeg") for lv in range(0, 5)]


def test_default_scores_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    s = rankiqa.score(ROOT / "examples" / "images" / "scene.png")
    assert isinstance(s, float) and math.isfinite(s)


def test_full_and_grid_agree_in_ranking(distorted):
    scorer = rankiqa.load_model("default", device="cpu")
    for family in range(2):
        versions = distorted[5 * family: 5 * family + 5]
        full = scorer.score(versions, protocol="full")
        grid = scorer.score(versions, protocol="grid")
        assert stats.kendalltau(full, grid).statistic >= 0.8


def test_quality_falls_with_distortion(distorted):
    scores = rankiqa.score(distorted)
    for family in range(2):
        s = scores[5 * family: 5 * family + 5]
        assert stats.spearmanr(s, -np.arange(5)).statistic >= 0.9, s


def test_best_shot_of_the_example_burst():
    ranked = rankiqa.rank(BURST)
    assert Path(ranked[0].path).name == "frame2_sharp.png"
