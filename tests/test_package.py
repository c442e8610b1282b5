"""Packaging invariants: a light import, no pickle, a consistent manifest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from rankiqa.weights.checkpoint import read_card, sha256_file
from rankiqa.weights.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "rankiqa"


def test_import_is_light():
    code = ("import sys, rankiqa; bad = [m for m in ('torch', 'rankiqa.train', 'huggingface_hub', 'scipy') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_help_and_models_do_not_import_torch():
    # Start-up: only commands that score pay for importing torch.
    code = ("import sys, contextlib, io\nfrom rankiqa.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['models'])\n"
            "    try:\n        main(['score', '--help'])\n    except SystemExit:\n        pass\n"
            "print([m for m in ('torch', 'numpy', 'PIL', 'rankiqa.train') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scoring_never_imports_training_code():
    for f in PKG.rglob("*.py"):
        if "train" in f.relative_to(PKG).parts:
            continue
        assert not re.search(r"^\s*(from|import)\s+rankiqa\.train", f.read_text(), re.M), f


def test_no_pickle_anywhere():
    pattern = re.compile(r"\b(torch\.load|pickle\.load|torch\.save|pickle\.dump)\b|weights_only")
    for f in PKG.rglob("*.py"):
        assert not pattern.search(f.read_text()), f"{f} uses pickle"


def test_manifest_root_copy_and_records():
    root = json.loads((ROOT / "weights_manifest.json").read_text())
    packaged = json.loads((PKG / "weights" / "weights_manifest.json").read_text())
    assert root == packaged
    records = load_manifest(packaged)
    if packaged.get("default") is not None:
        assert records[packaged["default"]].embedded
    for rec in records.values():
        assert re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_.-]+", rec.id)
        if rec.embedded:
            path = PKG / "weights" / "embedded" / rec.filename
            assert sha256_file(path) == rec.sha256 and path.stat().st_size == rec.size
            assert read_card(path)["arch"] == rec.arch
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", rec.revision or ""), "hub revisions are pinned commits"
        assert rec.training and rec.quality, f"{rec.id}: record its training and measured quality"


def test_runtime_dependencies_are_never_pinned():
    from importlib.metadata import requires

    reqs = requires("rankiqa") or []
    runtime = [r for r in reqs if "extra ==" not in r]
    assert any(r.startswith("torch") for r in runtime)
    pinned = [r for r in reqs if re.search(r"===?\s*[0-9]", r.split(";")[0])]
    assert not pinned, f"pinned to one version: {pinned}"
