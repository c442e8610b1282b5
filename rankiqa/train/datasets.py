"""Human-rated IQA datasets as lists of :class:`Sample` (path, score, reference, type).

Every loader records the direction of its scores (``higher_is_better``):
MOS is higher = better, DMOS lower = better.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

from rankiqa._names import unknown_name_message

__all__ = ["Sample", "Dataset", "load_live_replica", "load_csv", "load_dataset", "LOADERS"]


class Sample(NamedTuple):
    """One rated image."""

    path: Path
    score: float
    ref: str
    dist_type: str


class Dataset(NamedTuple):
    """Samples plus what their scores mean."""

    name: str
    samples: list[Sample]
    higher_is_better: bool
    score_name: str


def _check_files(root: Path, samples: list[Sample]) -> None:
    missing = [s.path for s in samples if not s.path.is_file()]
    if missing:
        shown = ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in missing[:5])
        raise FileNotFoundError(f"{root}: {len(missing)} image(s) listed in the labels are missing, e.g. {shown}")


def load_live_replica(root: str | Path, column: str = "dmos_realigned") -> Dataset:
    """The LIVE replica built by ``python -m rankiqa.train live-replica`` (DMOS, lower = better)."""
    root = Path(root)
    index = root / "dmos.csv"
    if not index.is_file():
        raise FileNotFoundError(f"{root}: no dmos.csv; build it with `python -m rankiqa.train live-replica`")
    with open(index, newline="") as f:
        rows = list(csv.DictReader(f))
    samples = [Sample(root / r["file"], float(r[column]), r["ref"], r["dist_type"]) for r in rows]
    _check_files(root, samples)
    return Dataset("live-replica", samples, higher_is_better=False, score_name=column)


def load_csv(path: str | Path) -> Dataset:
    """A plain CSV with columns ``path, score`` and optional ``ref, type`` (paths relative to the CSV).

    Higher score = better unless the file has a ``# lower_is_better`` first line.
    """
    path = Path(path)
    with open(path, newline="") as f:
        first = f.readline()
        lower = first.strip().lower() == "# lower_is_better"
        if not lower:
            f.seek(0)
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "score"} <= set(rows[0]):
        raise ValueError(f"{path}: needs a header with at least 'path' and 'score' columns")
    samples = [Sample(path.parent / r["path"], float(r["score"]), r.get("ref") or r["path"], r.get("type") or "")
               for r in rows]
    _check_files(path.parent, samples)
    return Dataset(path.stem, samples, higher_is_better=not lower, score_name="score")


LOADERS = {"live-replica": load_live_replica, "csv": load_csv}


def load_dataset(spec: str) -> Dataset:
    """Load ``NAME:PATH`` (e.g. ``live-replica:/data/live_replica``, ``csv:scores.csv``)."""
    name, sep, path = spec.partition(":")
    if not sep or not path:
        raise ValueError(f"dataset must be NAME:PATH, got {spec!r} (names: {', '.join(LOADERS)})")
    if name not in LOADERS:
        raise ValueError(unknown_name_message("dataset", name, LOADERS))
    return LOADERS[name](path)
