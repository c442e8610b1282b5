"""Checkpoint files: safetensors tensors plus a JSON card in the header metadata.

The card (key ``rankiqa``) holds everything needed to rebuild and use the
model: architecture and its arguments, preprocessing, protocol, score
direction and range, training data and recipe, licence and measured quality.
No pickle is read or written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from rankiqa.errors import WeightsError

__all__ = ["save_checkpoint", "load_checkpoint", "read_card", "sha256_file", "atomic_save_file", "network_from_checkpoint",
           "CheckpointError"]

CARD_KEY = "rankiqa"


class CheckpointError(WeightsError, ValueError):
    """A checkpoint file is missing, unreadable or not a rankiqa checkpoint."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_save_file(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file through a temp file + rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], card: dict[str, Any],
                    half: bool = False) -> str:
    """Save weights and their card; returns the file's sha256."""
    tensors = {k: (v.half() if half and v.is_floating_point() else v) for k, v in state_dict.items()}
    atomic_save_file(tensors, path, {CARD_KEY: json.dumps(card, sort_keys=True)})
    return sha256_file(path)


def read_card(path: str | Path) -> dict[str, Any]:
    """The card stored in a checkpoint's header, without loading the tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    if CARD_KEY not in meta:
        raise CheckpointError(f"{path}: safetensors file has no rankiqa card (key {CARD_KEY!r})")
    try:
        return json.loads(meta[CARD_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: rankiqa card is not valid JSON ({exc})") from None


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights (float32) and card of a checkpoint file."""
    card = read_card(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read tensors ({exc})") from None
    return {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}, card


def network_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the network a checkpoint describes and load its weights (eval mode)."""
    from rankiqa.models import build_model

    state, card = load_checkpoint(path)
    if "arch" not in card:
        raise CheckpointError(f"{path}: card does not name an architecture")
    model = build_model(card["arch"], **card.get("arch_kwargs", {}))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit architecture {card['arch']!r}: "
                              f"{str(exc).splitlines()[0]}") from None
    return model.eval(), card
