"""The scoring pipeline: same scores as scoring each image alone, input order, errors in place, bounded lookahead."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from conftest import smooth_photo
from rankiqa.api import load_model
from rankiqa.io import load_image
from rankiqa.pipeline import ScoreAccumulator, prepared_views
from rankiqa.protocols import PAPER_CROPS, PAPER_SEED, PROTOCOLS, make_crops


@pytest.fixture(scope="module")
def scorer(tiny_ckpt):
    return load_model(tiny_ckpt, device="cpu")


def reference(scorer, x, protocol: str, pooling: str = "mean") -> float:
    """The plain definition: each view alone through the network, weighted mean."""
    views = make_crops(load_image(x), protocol, scorer.crop_size, PAPER_CROPS, PAPER_SEED, pooling)
    with torch.inference_mode():
        s = [float(scorer.model(v.unsqueeze(0))[0]) for v in views.tensors]
    return float(np.average(s, weights=views.weights))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    d = tmp_path_factory.mktemp("mixed")
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    items = [smooth_photo(48, 64, seed=1), str(d / "bad.png"), smooth_photo(48, 64, seed=2),
             smooth_photo(70, 50, seed=3), np.zeros((5, 5, 9), np.uint8), smooth_photo(48, 64, seed=4),
             smooth_photo(20, 30, seed=5), str(d / "missing.jpg"), smooth_photo(70, 50, seed=6)]
    return items, {1, 4, 7}


@pytest.mark.parametrize("pooling", ["mean", "activity"])  # activity: weights measured on the network's batch
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("workers,batch_size,lanes", [(0, 32, 1), (1, 7, 3), (2, 1, 1), (2, 32, None), (0, 5, 2)])
def test_same_scores_order_and_errors(tiny_ckpt, mixed, protocol, workers, batch_size, lanes, pooling):
    scorer = load_model(tiny_ckpt, device="cpu", pooling=pooling)
    items, bad = mixed
    scores, errors = scorer.score_with_errors(items, protocol, batch_size, workers=workers, lanes=lanes)
    assert list(errors) == sorted(bad) and len(scores) == len(items)
    for i, x in enumerate(items):
        if i in bad:
            assert math.isnan(scores[i])
            assert errors[i].source in (f"input #{i} (numpy array (5, 5, 9) uint8)", str(x))
        else:
            assert scores[i] == pytest.approx(reference(scorer, x, protocol, pooling), abs=1e-5)


def test_full_protocol_batches_same_sized_images(scorer):
    calls = []
    acc = ScoreAccumulator(lambda crops: calls.append(len(crops)) or [0.0] * len(crops), batch_size=8, crop_size=32)
    for i in range(5):
        acc.add(i, make_crops(torch.rand(3, 64, 64), "full", 32))  # 4 crops' worth of pixels each
    acc.flush()
    assert calls == [2, 2, 1]  # the pixel budget (8 crops of 32 px) holds two 64x64 images


def photos(n: int, pulled: list[int]):
    """``n`` small photos, noting in ``pulled`` each index as it is taken."""
    for i in range(n):
        pulled.append(i)
        yield smooth_photo(40, 40, seed=i)


def test_generator_input_is_streamed(scorer):
    pulled: list[int] = []
    it = prepared_views(photos(50, pulled), "paper", 32, workers=2, lookahead=3)
    for k in range(10):
        idx, _ = next(it)
        assert idx == k
        assert len(pulled) <= k + 1 + 3 + 1  # never more than the lookahead ahead of the consumer
    it.close()  # abandoning it cancels what is queued
    scores, errors = scorer.score_with_errors((smooth_photo(40, 40, seed=i) for i in range(5)), "grid")
    assert len(scores) == 5 and not errors


def test_workers_argument_checked(scorer):
    with pytest.raises(ValueError, match="workers"):
        list(prepared_views([smooth_photo()], "paper", 32, workers=-1))
    for lanes in (0, 1.5, True):
        with pytest.raises(ValueError, match="lanes"):
            scorer.score_with_errors([smooth_photo()], lanes=lanes)


def test_lanes_share_one_generator_and_restore_threads(scorer):
    pulled: list[int] = []
    before = torch.get_num_threads()
    scores, errors = scorer.score_with_errors(photos(9, pulled), "paper", lanes=3)
    assert pulled == list(range(9)) and len(scores) == 9 and not errors  # each input taken once
    alone = [scorer.score_with_errors([smooth_photo(40, 40, seed=i)], "paper", lanes=1)[0][0] for i in range(9)]
    assert scores == pytest.approx(alone, abs=1e-5)
    assert torch.get_num_threads() == before


def test_concurrent_calls_restore_the_thread_count(scorer):
    before = torch.get_num_threads()
    with ThreadPoolExecutor(3) as pool:
        runs = [pool.submit(scorer.score_with_errors, [smooth_photo(40, 40, seed=i) for i in range(6)], "paper",
                            lanes=2) for _ in range(3)]
        assert all(len(r.result()[0]) == 6 for r in runs)
    assert torch.get_num_threads() == before


def test_a_failing_lane_stops_the_others(tiny_ckpt):
    scorer = load_model(tiny_ckpt, device="cpu")
    calls = []
    name = "_forward_weighed" if scorer.pooling == "activity" else "_forward"
    original = getattr(scorer, name)

    def forward(crops):
        calls.append(len(crops))
        if len(calls) == 2:
            raise RuntimeError("network broke")
        return original(crops)

    setattr(scorer, name, forward)
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="network broke"):
        scorer.score_with_errors((smooth_photo(40, 40, seed=i) for i in range(200)), "paper", batch_size=1, lanes=2)
    assert torch.get_num_threads() == before
    assert len(calls) <= 3 * scorer.num_crops  # the other lane stopped after its current image, not at the end


def test_num_crops_from_the_scorer(tiny_ckpt, capsys):
    few = load_model(tiny_ckpt, device="cpu", num_crops=5)
    x = smooth_photo(64, 80, seed=9)
    views = make_crops(load_image(x), "paper", few.crop_size, 5, PAPER_SEED)
    with torch.inference_mode():
        expected = float(np.mean([float(few.model(v.unsqueeze(0))[0]) for v in views.tensors]))
    assert few.score(x, raw=True) == pytest.approx(expected, abs=1e-5)
    assert "num_crops=5" in repr(few)
    with pytest.raises(ValueError, match="num_crops"):
        load_model(tiny_ckpt, device="cpu", num_crops=0)
    from rankiqa.cli import main

    with pytest.raises(SystemExit):
        main(["score", "x.png", "--crops", "0"])
    assert "must be >= 1" in capsys.readouterr().err
