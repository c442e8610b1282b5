"""Checkpoint download from a local server speaking the hub's file protocol (never the internet)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from rankiqa.errors import ChecksumError, WeightsError
from rankiqa.weights import manifest as manifest_mod
from rankiqa.weights.hub import fetch_record
from rankiqa.weights.manifest import CheckpointRecord

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _record(data: bytes, **kw) -> CheckpointRecord:
    base = dict(id="vgg16_slim.test", arch="vgg16_slim", filename="model.safetensors",
                sha256=hashlib.sha256(data).hexdigest(), size=len(data), repo_id="rankiqa/test",
                revision=REVISION)
    base.update(kw)
    return CheckpointRecord(**base)


@pytest.fixture
def served(hub, tiny_ckpt):
    data = tiny_ckpt.read_bytes()
    hub.add("rankiqa/test", REVISION, "model.safetensors", data)
    return hub, data


def test_download_then_cache_hit_without_requests(served, tmp_path):
    hub, data = served
    rec = _record(data)
    path = fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)
    assert path.read_bytes() == data and REVISION in str(path)
    n = len(hub.requests)
    assert n >= 1 and any(m == "GET" for m, _ in hub.requests)
    again = fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)
    assert again == path and len(hub.requests) == n  # pinned commit: served from cache


def test_offline_mode(served, tmp_path, monkeypatch):
    hub, data = served
    rec = _record(data)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="offline"):
        fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)
    assert hub.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)
    n = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint).read_bytes() == data
    assert len(hub.requests) == n


def test_corrupt_cached_blob_is_refetched(served, tmp_path):
    hub, data = served
    rec = _record(data)
    path = fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)
    blob = path.resolve()
    blob.write_bytes(bytes(b ^ 0xFF for b in data))  # same size, wrong bytes
    n = len(hub.requests)
    again = fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)
    assert again.read_bytes() == data and len(hub.requests) > n


def test_server_with_wrong_bytes_raises(served, tmp_path):
    hub, data = served
    rec = _record(data, sha256="0" * 64)
    with pytest.raises(ChecksumError, match="even after a fresh download"):
        fetch_record(rec, cache_dir=tmp_path, endpoint=hub.endpoint)


@pytest.mark.parametrize("kw, match", [
    (dict(filename="other.safetensors"), "file 'other.safetensors' not found"),
    (dict(repo_id="rankiqa/missing"), "repository 'rankiqa/missing' not found"),
    (dict(revision="f" * 40), "revision"),
])
def test_clear_errors(served, tmp_path, kw, match):
    hub, data = served
    with pytest.raises(WeightsError, match=match):
        fetch_record(_record(data, **kw), cache_dir=tmp_path, endpoint=hub.endpoint)


def test_load_model_by_id_through_manifest(served, tmp_path, monkeypatch, photo):
    from rankiqa.api import load_model

    hub, data = served
    rec = _record(data)
    fake = {"schema_version": 1, "default": None, "checkpoints": [rec.to_dict()]}
    monkeypatch.setattr(manifest_mod, "_packaged_manifest", lambda: fake)
    scorer = load_model("vgg16_slim.test", cache_dir=tmp_path, endpoint=hub.endpoint, device="cpu")
    assert scorer.name == "vgg16_slim.test" and isinstance(scorer.score(photo), float)


def test_embedded_checkpoints_verify(tmp_path, monkeypatch, tiny_ckpt):
    from rankiqa.weights import hub as hub_mod

    data = tiny_ckpt.read_bytes()
    shutil.copy(tiny_ckpt, tmp_path / "model.safetensors")
    monkeypatch.setattr(hub_mod, "_embedded_path", lambda rec: tmp_path / rec.filename)
    rec = _record(data, embedded=True, repo_id=None, revision=None)
    assert fetch_record(rec) == tmp_path / "model.safetensors"
    (tmp_path / "model.safetensors").write_bytes(data[:-1] + b"\x00")
    with pytest.raises(ChecksumError, match="reinstall"):
        fetch_record(rec)
