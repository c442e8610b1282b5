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

__all__ = ["save_checkpoint", "load_checkpoint", "read_card", "sha256_file", "atomic_save_file",
           "network_from_checkpoint", "CheckpointError"]

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
    try:
        model = build_model(card["arch"], **card.get("arch_kwargs", {}))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: card names an architecture that cannot be built ({exc})") from None
    _check_state(path, state, model.state_dict(), card["arch"])
    model.load_state_dict(state)
    return model.eval(), card


def _check_state(path: str | Path, state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                 arch: str) -> None:
    """Refuse, before loading anything, weights that do not fit the network exactly or are not finite."""
    missing, unexpected = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
    if missing or unexpected:
        parts = [f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else "")] if missing else []
        parts += [f"unexpected {', '.join(unexpected[:3])}" + (" ..." if len(unexpected) > 3 else "")] \
            if unexpected else []
        raise CheckpointError(f"{path}: tensor names do not fit architecture {arch!r}: {'; '.join(parts)}")
    for name, want in expected.items():
        got = state[name]
        if got.shape != want.shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(got.shape)}, architecture {arch!r} "
                                  f"needs {tuple(want.shape)}")
        if got.is_floating_point() != want.is_floating_point() or got.dtype == torch.bool:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {got.dtype}, architecture {arch!r} needs "
                                  f"{want.dtype}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")
