"""Hostile and broken downloads against the tests' own 127.0.0.1 hub: each ends in a clear
WeightsError that says what to do, leaves nothing corrupt in the cache, and the next call recovers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankiqa.errors import ChecksumError, WeightsError
from rankiqa.weights.hub import fetch_record
from rankiqa.weights.manifest import CheckpointRecord

REVISION = "89abcdef0123456789abcdef0123456789abcdef"
DATA = hashlib.sha256(b"seed").digest() * 8192  # 256 KiB, enough to be cut mid-file
ROOT = Path(__file__).resolve().parents[1]


def _record(**kw) -> CheckpointRecord:
    base = dict(id="vgg16_slim.hostile", arch="vgg16_slim", filename="model.safetensors",
                sha256=hashlib.sha256(DATA).hexdigest(), size=len(DATA), repo_id="rankiqa/hostile",
                revision=REVISION)
    return CheckpointRecord(**(base | kw))


@pytest.fixture
def served(hub):
    hub.add("rankiqa/hostile", REVISION, "model.safetensors", DATA)
    return hub


def _cached_files(cache: Path) -> list[Path]:
    """Files in the cache that a later call could take for the checkpoint (locks and tags aside)."""
    if not cache.exists():
        return []
    return [p for p in cache.rglob("*") if p.is_file() and ".locks" not in p.parts and p.name != "CACHEDIR.TAG"
            and not p.name.endswith(".incomplete")]


def _fails_cleanly_then_recovers(hub, cache: Path, match: str) -> WeightsError:
    with pytest.raises(WeightsError, match=match) as info:
        fetch_record(_record(), cache_dir=cache, endpoint=hub.endpoint)
    assert "try again" in str(info.value) or "update rankiqa" in str(info.value)
    assert all(p.read_bytes() == DATA for p in _cached_files(cache)), "a corrupt file was left in the cache"
    hub.faults.clear()
    assert fetch_record(_record(), cache_dir=cache, endpoint=hub.endpoint).read_bytes() == DATA
    return info.value


@pytest.fixture
def no_backoff(monkeypatch):
    # huggingface-hub retries 5xx answers with 1+2+4+8+8 s of back-off; the tests need no waiting.
    import huggingface_hub.utils._http as http

    monkeypatch.setattr(http.time, "sleep", lambda s: None)


def test_connection_dropped_mid_file(served, tmp_path):
    served.faults["model.safetensors"] = {"drop_after": len(DATA) // 3}
    _fails_cleanly_then_recovers(served, tmp_path, "interrupted")


@pytest.mark.parametrize("status", [500, 503])
def test_server_error(served, tmp_path, status, no_backoff):
    served.faults["model.safetensors"] = {"status": status}
    _fails_cleanly_then_recovers(served, tmp_path, "cannot reach the hub")


def test_missing_file_404(served, tmp_path):
    with pytest.raises(WeightsError, match="file 'other.safetensors' not found"):
        fetch_record(_record(filename="other.safetensors"), cache_dir=tmp_path, endpoint=served.endpoint)
    assert _cached_files(tmp_path) == []


def test_wrong_file_of_right_size(served, tmp_path):
    served.faults["model.safetensors"] = {"body": bytes(len(DATA))}
    err = _fails_cleanly_then_recovers(served, tmp_path, "does not match")
    assert isinstance(err, ChecksumError)


def test_short_file(served, tmp_path):
    served.faults["model.safetensors"] = {"body": DATA[:1000]}  # Content-Length says more
    _fails_cleanly_then_recovers(served, tmp_path, "interrupted")


def test_slow_server_times_out(served, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.3)
    served.faults["model.safetensors"] = {"delay": 1.0}
    _fails_cleanly_then_recovers(served, tmp_path, "ReadTimeout|timed out")


def test_read_only_cache(served, tmp_path):
    if os.geteuid() == 0:  # root writes through file modes: use a filesystem that refuses new folders
        cache = Path("/sys/rankiqa-test-cache")
        try:
            cache.mkdir()
            cache.rmdir()
            pytest.skip("/sys accepts new folders here; no read-only place to test")
        except OSError:
            pass
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        cache = ro / "cache"
    with pytest.raises(WeightsError, match="cannot write to .*writable"):
        fetch_record(_record(), cache_dir=cache, endpoint=served.endpoint)
    assert fetch_record(_record(), cache_dir=tmp_path / "ok", endpoint=served.endpoint).read_bytes() == DATA


_CHILD = """
import json, resource, signal, sys
from rankiqa.weights.hub import fetch_record
from rankiqa.weights.manifest import CheckpointRecord
rec, cache, endpoint, limit = json.loads(sys.argv[1])
if limit:  # a full disk: writes past `limit` bytes fail with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    path = fetch_record(CheckpointRecord(**rec), cache_dir=cache, endpoint=endpoint)
    print(json.dumps({"ok": path.read_bytes().hex()[:64]}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def _child(record: CheckpointRecord, cache: Path, endpoint: str, limit: int = 0) -> subprocess.Popen:
    rec = {k: getattr(record, k) for k in ("id", "arch", "filename", "sha256", "size", "repo_id", "revision")}
    return subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps([rec, str(cache), endpoint, limit])],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)


def test_full_disk(served, tmp_path):
    out = json.loads(_child(_record(), tmp_path, served.endpoint, limit=64 * 1024).communicate(timeout=120)[0])
    assert out.get("error") == "WeightsError" and "no space left" in out["message"], out
    assert all(p.read_bytes() == DATA for p in _cached_files(tmp_path))
    assert fetch_record(_record(), cache_dir=tmp_path, endpoint=served.endpoint).read_bytes() == DATA


def test_two_processes_download_into_one_cache(served, tmp_path):
    served.faults["model.safetensors"] = {"delay": 0.5}  # both are in flight at once
    procs = [_child(_record(), tmp_path, served.endpoint) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(o.get("ok") == DATA.hex()[:64] for o in outs), outs
    blobs = [p for p in _cached_files(tmp_path) if "blobs" in p.parts]
    assert len(blobs) == 1 and blobs[0].read_bytes() == DATA
