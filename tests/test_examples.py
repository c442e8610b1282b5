"""The example scripts run end to end."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BURST = sorted((ROOT / "examples" / "images" / "burst").glob("*.png"))


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_score_folder(tmp_path, tiny_ckpt):
    out = tmp_path / "scores.csv"
    res = _run(["examples/score_folder.py", "examples/images/burst", str(out), "--model", str(tiny_ckpt)])
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(BURST) == 4
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_best_shot(tiny_ckpt):
    res = _run(["examples/best_shot.py", *map(str, BURST), "--model", str(tiny_ckpt)])
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("best shot: ")


def test_sharpen_by_gradient_raises_the_score(tmp_path):
    out = tmp_path / "sharp.png"  # with the embedded default: a real quality model
    res = _run(["examples/sharpen_by_gradient.py", "examples/images/scene.png", "--steps", "5", "--out", str(out)])
    assert res.returncode == 0, res.stderr
    before, after = (float(v) for v in res.stdout.split()[2::2])
    assert after > before and out.is_file()
