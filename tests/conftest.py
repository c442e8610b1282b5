"""Shared fixtures. The huggingface-hub environment is set here, before anything imports it."""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import os
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_HF_HOME = tempfile.mkdtemp(prefix="rankiqa-test-hf-")
os.environ.update({
    "HF_HOME": _HF_HOME,
    "HF_HUB_CACHE": os.path.join(_HF_HOME, "hub"),
    "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there; tests pass their own endpoint
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_ETAG_TIMEOUT": "5",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
})
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
             "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REFS = SHARED / "refs"
LIVE = SHARED / "live"

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- network guard

def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
BLOCKED: list[str] = []


def _check_address(address) -> None:
    if isinstance(address, tuple) and not _loopback(str(address[0])):
        BLOCKED.append(str(address))
        raise ConnectionRefusedError(f"test tried to reach a non-loopback host: {address}")


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check_address(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _loopback(host if isinstance(host, str) else host.decode()):
        BLOCKED.append(str(host))
        raise socket.gaierror(f"test tried to resolve a non-loopback host: {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _no_outside_network():
    before = len(BLOCKED)
    yield
    if len(BLOCKED) > before:
        pytest.fail(f"test tried to reach non-loopback hosts: {BLOCKED[before:]}")


# ----------------------------------------------------------------------------- images

def smooth_photo(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth shapes plus texture, so every distortion shows."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(4):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(8, 40)
            img[..., c] += rng.uniform(0.2, 0.6) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img[..., c] += 0.15 * np.sin(xx / rng.uniform(2, 6)) * np.cos(yy / rng.uniform(2, 6))
    img += rng.normal(0, 0.01, img.shape)
    img = (img - img.min()) / (img.max() - img.min())
    return ((0.1 + 0.8 * img) * 255).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return smooth_photo()


@pytest.fixture(scope="session")
def real_photo() -> np.ndarray:
    files = sorted(REFS.glob("bsds500/*.jpg")) if REFS.is_dir() else []
    if not files:
        pytest.skip("../shared/data/refs not available")
    with Image.open(files[0]) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="session")
def refs_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("refs")
    for i in range(6):
        Image.fromarray(smooth_photo(72 + 8 * i, 88, seed=i)).save(d / f"ref{i}.png")
    return d


# ----------------------------------------------------------------------------- checkpoints

TINY_ARCH = {"arch": "vgg16_slim", "arch_kwargs": {"width": 0.05, "hidden": 8}}


def make_checkpoint(path: Path, seed: int = 0, higher_is_better: bool = True, crop_size: int = 32) -> Path:
    """A tiny random-weight network saved in the real checkpoint format (for plumbing tests)."""
    from rankiqa.models import build_model
    from rankiqa.weights.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    model = build_model(TINY_ARCH["arch"], **TINY_ARCH["arch_kwargs"]).eval()
    card = {**TINY_ARCH, "protocol": "paper", "crop_size": crop_size, "higher_is_better": higher_is_better,
            "score_range": None, "training": {"stage": "test fixture, untrained"}}
    save_checkpoint(path, model.state_dict(), card)
    return path


@pytest.fixture(scope="session")
def rated(tmp_path_factory):
    """A tiny rated dataset: 4 photos x 4 blur levels, DMOS rising with blur (lower = better)."""
    from rankiqa.train.distortions import apply_distortion

    root = tmp_path_factory.mktemp("rated")
    rows = []
    for r in range(4):
        img = smooth_photo(48, 48, seed=r)
        for lv in range(4):
            name = f"r{r}_l{lv}.png"
            Image.fromarray(apply_distortion("gblur", img, lv)).save(root / name)
            rows.append({"path": name, "score": 10 + 20 * lv + r, "ref": f"r{r}", "type": "gblur"})
    with open(root / "scores.csv", "w", newline="") as f:
        f.write("# lower_is_better\n")
        w = csv.DictWriter(f, ["path", "score", "ref", "type"])
        w.writeheader()
        w.writerows(rows)
    return root / "scores.csv"


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


# ----------------------------------------------------------------------------- local hub

class LocalHub:
    """A minimal server for the hub's file protocol: HEAD/GET /{repo}/resolve/{revision}/{file}."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.repos: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        # Per file name: {"status": 500} | {"delay": s} | {"drop_after": n} | {"body": other bytes}
        self.faults: dict[str, dict] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _serve(self, body: bool) -> None:
                hub.requests.append((self.command, self.path))
                parts = self.path.split("?")[0].strip("/").split("/")
                if "resolve" not in parts:
                    return self._error(404, "EntryNotFound")
                k = parts.index("resolve")
                repo, revision, filename = "/".join(parts[:k]), parts[k + 1], "/".join(parts[k + 2:])
                if repo not in hub.repos:
                    return self._error(404, "RepoNotFound")
                if not any(r == repo and rev == revision for r, rev, _ in hub.files):
                    return self._error(404, "RevisionNotFound")
                data = hub.files.get((repo, revision, filename))
                if data is None:
                    return self._error(404, "EntryNotFound")
                fault = hub.faults.get(filename, {})
                if "status" in fault:
                    return self._error(fault["status"], "ServerError")
                if body and "delay" in fault:
                    time.sleep(fault["delay"])
                served = fault.get("body", data)
                self.send_response(200)
                self.send_header("X-Repo-Commit", revision)
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    if "drop_after" in fault:  # a connection lost mid-file
                        self.wfile.write(served[: fault["drop_after"]])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(served)

            def _error(self, status: int, code: str) -> None:
                msg = f"{code}".encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", code)
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(msg)

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, repo: str, revision: str, filename: str, data: bytes) -> None:
        self.repos.add(repo)
        self.files[(repo, revision, filename)] = data

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    h = LocalHub()
    yield h
    h.close()
