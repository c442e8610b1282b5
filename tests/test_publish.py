"""publish: manifest entries are derived from the checkpoint and its reports."""

from __future__ import annotations

import json

import pytest

from rankiqa.train.publish import publish
from rankiqa.weights.checkpoint import sha256_file
from rankiqa.weights.manifest import load_manifest


def test_publish_embedded_and_hub(tmp_path, tiny_ckpt):
    manifest = tmp_path / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "default": None, "checkpoints": []}))
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dataset": "live-replica", "all": {"srocc": 0.5}, "per_type": {}}))
    rec = publish(tiny_ckpt, "vgg16_slim.tiny", embed=True, make_default=True, quality_files=[str(report)],
                  command="python -m rankiqa.train pretrain ...", manifest=manifest)
    data = json.loads(manifest.read_text())
    assert data["default"] == "vgg16_slim.tiny"
    assert (tmp_path / "embedded" / "vgg16_slim.tiny.safetensors").exists()
    assert rec["sha256"] == sha256_file(tiny_ckpt) and rec["quality"]["live-replica"]["all"]["srocc"] == 0.5
    assert "SROCC 0.500" in rec["quality"]["summary"]
    assert rec["num_crops"] == 30  # the paper's, unless measured otherwise
    rec = publish(tiny_ckpt, "vgg16_slim.tiny", embed=True, num_crops=15, manifest=manifest)
    assert load_manifest(json.loads(manifest.read_text()))["vgg16_slim.tiny"].num_crops == 15
    publish(tiny_ckpt, "vgg16_slim.hub", embed=False, repo_id="rankiqa/x", revision="a" * 40, manifest=manifest)
    assert set(load_manifest(json.loads(manifest.read_text()))) == {"vgg16_slim.tiny", "vgg16_slim.hub"}


def test_publish_refuses_bad_entries(tmp_path, tiny_ckpt):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"schema_version": 1, "default": None, "checkpoints": []}))
    with pytest.raises(ValueError, match="id must be"):
        publish(tiny_ckpt, "vgg16.tiny", embed=True, manifest=manifest)
    with pytest.raises(ValueError, match="must be embedded"):
        publish(tiny_ckpt, "vgg16_slim.x", embed=False, make_default=True, manifest=manifest)
    with pytest.raises(ValueError, match="pinned"):
        publish(tiny_ckpt, "vgg16_slim.x", embed=False, repo_id="r/x", revision="main", manifest=manifest)
    with pytest.raises(ValueError, match="num_crops"):
        publish(tiny_ckpt, "vgg16_slim.x", embed=True, num_crops=0, manifest=manifest)


def test_publish_cli(tmp_path, tiny_ckpt, capsys):
    from rankiqa.train.__main__ import main

    manifest = tmp_path / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "default": None, "checkpoints": []}))
    assert main(["publish", "--model", str(tiny_ckpt), "--id", "vgg16_slim.cli", "--embed", "--manifest",
                 str(manifest), "--train-command", "python -m rankiqa.train pretrain --out x",
                 "--num-crops", "15"]) == 0
    rec = json.loads(manifest.read_text())["checkpoints"][0]
    assert rec["training"]["command"] == "python -m rankiqa.train pretrain --out x" and rec["num_crops"] == 15
