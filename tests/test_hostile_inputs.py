"""Hostile checkpoints and concurrent use: clear errors before anything is loaded, same scores from 8 threads."""

from __future__ import annotations

import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import rankiqa
from rankiqa import api
from rankiqa.weights.checkpoint import CARD_KEY, CheckpointError, network_from_checkpoint
from conftest import make_checkpoint, smooth_photo


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("good") / "good.safetensors")


def _rewrite(good: Path, out: Path, change) -> Path:
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(good))
    change(tensors)
    save_file(tensors, str(out), metadata=meta)
    return out


def _first_weight(t: dict) -> str:
    return next(k for k, v in t.items() if v.is_floating_point() and v.dim() == 4)


MUTATIONS = {
    "renamed": (lambda t: t.__setitem__("features.99.weight", t.pop(_first_weight(t))), "tensor names do not fit"),
    "extra": (lambda t: t.__setitem__("head.extra", torch.zeros(3)), "unexpected head.extra"),
    "shape": (lambda t: t.__setitem__(_first_weight(t), torch.zeros(2, 3, 3, 3)), "has shape"),
    "dtype": (lambda t: t.__setitem__(_first_weight(t), t[_first_weight(t)].to(torch.int32)), "has dtype"),
    "nan": (lambda t: t[_first_weight(t)].view(-1).__setitem__(0, float("nan")), "NaN or infinite"),
    "inf": (lambda t: t[_first_weight(t)].view(-1).__setitem__(0, float("inf")), "NaN or infinite"),
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_hostile_tensors_refused_before_loading(good, tmp_path, kind):
    change, match = MUTATIONS[kind]
    bad = _rewrite(good, tmp_path / f"{kind}.safetensors", change)
    with pytest.raises(CheckpointError, match=match) as info:
        rankiqa.load_model(bad)
    assert str(bad) in str(info.value) and isinstance(info.value, ValueError)
    assert not any(str(bad) == k[0] for k in api._CACHE)


def _header_len(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


@pytest.mark.parametrize("kind", ["truncated", "half-header", "lying-length", "lying-offsets", "garbage", "empty"])
def test_broken_files_refused(good, tmp_path, kind):
    data = good.read_bytes()
    n = _header_len(data)
    if kind == "truncated":
        data = data[: 8 + n + (len(data) - 8 - n) // 2]
    elif kind == "half-header":
        data = data[: 8 + n // 2]
    elif kind == "lying-length":
        data = struct.pack("<Q", n + 10_000_000) + data[8:]
    elif kind == "lying-offsets":
        header = data[8:8 + n].decode().replace('"data_offsets":[0,', '"data_offsets":[0,99999999', 1)
        data = struct.pack("<Q", len(header)) + header.encode() + data[8 + n:]
    elif kind == "garbage":
        data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    else:
        data = b""
    bad = tmp_path / f"{kind}.safetensors"
    bad.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        network_from_checkpoint(bad)
    assert str(bad) in str(info.value)


def test_card_without_buildable_architecture(good, tmp_path):
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        meta = f.metadata()
    bad = tmp_path / "arch.safetensors"
    save_file(load_file(str(good)), str(bad), metadata={CARD_KEY: meta[CARD_KEY].replace('"vgg16_slim"', '"vgg99"')})
    with pytest.raises(CheckpointError, match="did you mean"):
        network_from_checkpoint(bad)


def test_one_scorer_from_eight_threads(good):
    scorer = rankiqa.load_model(good)
    images = [smooth_photo(40 + 4 * i, 56, seed=i) for i in range(16)]
    serial = [scorer.score(im) for im in images]
    barrier = threading.Barrier(8)

    def work(k: int) -> list[float]:
        barrier.wait()  # all threads score at the same moment
        return [scorer.score(images[(k + j) % 16]) for j in range(16)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for k, res in enumerate(results):
        assert res == [serial[(k + j) % 16] for j in range(16)]


def test_module_cache_from_eight_threads_loads_once(good, monkeypatch):
    loads = []
    real = api.load_model

    def counting(*args, **kw):
        loads.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(api, "load_model", counting)
    monkeypatch.setattr(api, "_CACHE", {})
    image = smooth_photo(48, 48, seed=3)
    barrier = threading.Barrier(8)

    def work(_):
        barrier.wait()
        return rankiqa.score(image, model=good)

    with ThreadPoolExecutor(8) as pool:
        scores = list(pool.map(work, range(8)))
    assert len(set(scores)) == 1 and len(loads) == 1
