"""Ray Data integration on a local 2-CPU Ray instance: the scores of rankiqa.score, bad files in their rows."""

from __future__ import annotations

import math
import os

import pytest
from PIL import Image

from conftest import smooth_photo

ray = pytest.importorskip("ray")

import rankiqa  # noqa: E402
from rankiqa.integrations.ray import RayScorer, score_dataset  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_scores_equal_local_scores(local_ray, tmp_path, tiny_ckpt):
    paths = []
    for i in range(24):
        p = tmp_path / f"img{i:02d}.png"
        Image.fromarray(smooth_photo(40 + i, 48, seed=i)).save(p)
        paths.append(str(p))
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    paths.insert(5, str(bad))
    ds = ray.data.from_items([{"path": p} for p in paths])
    rows = sorted(score_dataset(ds, tiny_ckpt, concurrency=2, batch_size=4).take_all(), key=lambda r: r["path"])
    local = dict(zip(paths, rankiqa.score(paths, model=tiny_ckpt, on_error="nan")))
    assert len(rows) == 25
    for r in rows:
        if r["path"] == str(bad):
            assert math.isnan(r["score"]) and "not an image" in r["error"]
        else:
            assert r["error"] == "" and r["score"] == pytest.approx(local[r["path"]], abs=1e-6)


def test_scorer_names_a_missing_column(tiny_ckpt):
    with pytest.raises(ValueError, match="no column 'path'"):
        RayScorer(tiny_ckpt)({"image": []})


def test_example_script(local_ray, tmp_path, tiny_ckpt):
    import csv
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    import score_with_ray

    for i in range(6):
        Image.fromarray(smooth_photo(40, 40 + i, seed=i)).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff junk")
    out = tmp_path / "scores.csv"
    assert score_with_ray.main([str(tmp_path), str(out), "--model", str(tiny_ckpt), "--batch-size", "3"]) == 1
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 7 and [r["path"].endswith("broken.jpg") for r in rows if r["error"]] == [True]
