"""The memory layout training runs in."""

from __future__ import annotations

import torch

__all__ = ["training_layout"]


def training_layout(device: torch.device) -> torch.memory_format:
    """channels_last on a CPU, where oneDNN's convolutions and their gradients run faster in it (a training step
    of vgg16_slim: 1.57x at width 0.125, 1.31x at 0.1875; ``bench/train_step.py``); contiguous elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format
