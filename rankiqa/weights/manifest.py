"""The checkpoint manifest: one :class:`CheckpointRecord` per published checkpoint.

``weights_manifest.json`` (shipped inside the package; the repository root
links to it) lists every checkpoint with its id ``arch.tag``, where it comes
from (hub ``repo_id``, pinned ``revision``, ``filename``, or ``embedded`` in
the package), its ``sha256`` and size, how to use it (protocol, crop size and
count, crop pooling, score direction and range) and where it comes from (training data, recipe,
licence, measured quality).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from rankiqa._names import unknown_name_message
from rankiqa.defaults import POOLINGS
from rankiqa.errors import WeightsError

__all__ = ["CheckpointRecord", "load_manifest", "get_record", "default_id", "list_models", "MANIFEST_NAME"]

MANIFEST_NAME = "weights_manifest.json"


@dataclass(frozen=True)
class CheckpointRecord:
    """Everything known about one checkpoint (like timm's ``PretrainedCfg``)."""

    id: str
    arch: str
    filename: str
    sha256: str
    size: int
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    embedded: bool = False
    repo_id: str | None = None
    revision: str | None = None
    protocol: str = "paper"
    crop_size: int = 224
    # Random crops of the ``paper`` protocol: the paper's 30, or fewer where bench/protocols.py
    # measured no loss (the calibration is fitted with the same number).
    num_crops: int = 30
    # How crop scores pool into one score (rankiqa.protocols): "mean" (the paper) or "activity".
    pooling: str = "mean"
    higher_is_better: bool = True
    score_range: list[float] | None = None
    # Monotone map of the raw output onto 0-100 (rankiqa.calibration), fitted by
    # `python -m rankiqa.train calibrate`; None = scores are the raw output.
    calibration: dict[str, Any] | None = None
    description: str = ""
    license: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CheckpointRecord":
        """Build from a manifest entry, rejecting unknown or missing keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = set(d) - names
        if extra:
            raise WeightsError(f"manifest entry {d.get('id')!r} has unknown keys: {sorted(extra)}")
        try:
            rec = cls(**d)
        except TypeError as exc:
            raise WeightsError(f"manifest entry {d.get('id')!r} is incomplete: {exc}") from None
        if "." not in rec.id or rec.id.split(".", 1)[0] != rec.arch:
            raise WeightsError(f"manifest id {rec.id!r} must be '<arch>.<tag>' with arch {rec.arch!r}")
        if rec.pooling not in POOLINGS:
            raise WeightsError(f"manifest entry {rec.id!r}: " + unknown_name_message("pooling", rec.pooling, POOLINGS))
        if not rec.embedded and not (rec.repo_id and rec.revision):
            raise WeightsError(f"manifest entry {rec.id!r} is neither embedded nor on a hub with a pinned revision")
        return rec

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as stored in the manifest."""
        return dataclasses.asdict(self)


@lru_cache(maxsize=1)
def _packaged_manifest() -> dict[str, Any]:
    text = resources.files("rankiqa.weights").joinpath(MANIFEST_NAME).read_text(encoding="utf-8")
    return json.loads(text)


def load_manifest(data: dict[str, Any] | None = None) -> dict[str, CheckpointRecord]:
    """Records by id, from the packaged manifest (or ``data``, a parsed manifest)."""
    data = data if data is not None else _packaged_manifest()
    records = [CheckpointRecord.from_dict(d) for d in data.get("checkpoints", [])]
    out = {r.id: r for r in records}
    if len(out) != len(records):
        raise WeightsError("manifest lists a checkpoint id twice")
    return out


def default_id(data: dict[str, Any] | None = None) -> str | None:
    """Id of the embedded default checkpoint, or None if none ships yet."""
    data = data if data is not None else _packaged_manifest()
    return data.get("default")


def get_record(name: str, data: dict[str, Any] | None = None) -> CheckpointRecord:
    """The record of checkpoint ``name`` (``"default"`` allowed); unknown names get a hint."""
    records = load_manifest(data)
    if name == "default":
        did = default_id(data)
        if did is None:
            raise WeightsError(
                "no embedded default checkpoint ships with this version of rankiqa yet; pass "
                "model=<checkpoint id or .safetensors path> (see `rankiqa models`)")
        name = did
    if name not in records:
        raise WeightsError(unknown_name_message("checkpoint", name, list(records) + ["default"]))
    return records[name]


def list_models(data: dict[str, Any] | None = None) -> list[str]:
    """Ids of all checkpoints in the manifest."""
    return sorted(load_manifest(data))
