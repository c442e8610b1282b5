"""Inference precision: float32, or bfloat16 where the CPU computes it natively.

bfloat16 keeps float32's range with an 8-bit mantissa. oneDNN's convolutions
on CPUs with AVX-512 BF16 or AMX run faster in it, accumulating in float32
(scoring 768x512 JPEGs on this project's 2-core CPU, ``bench/inference.py``:
1.4-1.7x the images/s of float32). The scores move by about 0.1 on the 0-100
scale on average (at most about 1) and LIVE SROCC is unchanged to 0.001:
two orders of magnitude below what one score can resolve (its calibration
RMSE is about 10), so ``auto``, the default, uses bfloat16 on such CPUs and float32
elsewhere. Ask for ``float32`` when the same
number must come out on every machine.
"""

from __future__ import annotations

import torch
from torch import nn

from rankiqa.defaults import PRECISIONS

__all__ = ["PRECISIONS", "native_bf16", "resolve_precision", "apply_precision"]


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (AVX-512 BF16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)  # private torch helpers: absent in some builds
        try:
            if check is not None and check():
                return True
        except RuntimeError:
            continue
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``float32`` or ``bfloat16`` for ``precision`` (one of :data:`PRECISIONS`) on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if device.type == "cpu" and native_bf16() else "float32"
    if precision == "bfloat16" and device.type not in ("cpu", "cuda"):
        raise ValueError(f"precision 'bfloat16' is supported on cpu and cuda, not {device.type}")
    return precision


class _Bfloat16(nn.Module):
    """Runs the wrapped convolutions under bfloat16 autocast and hands float32 on."""

    def __init__(self, inner: nn.Module, device_type: str):
        super().__init__()
        self.inner = inner
        self.device_type = device_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.inner(x).float()


def apply_precision(model: nn.Module, precision: str, device: torch.device) -> nn.Module:
    """``model`` (changed in place) running at a resolved ``precision``.

    For bfloat16 only the convolutional ``features`` of an IQANet-like model
    run in it; pooling and the head stay float32, so the score is not rounded
    to bfloat16's 8-bit mantissa (0.03 at a raw score of 5). A network without
    ``features`` runs in bfloat16 whole.
    """
    if precision != "bfloat16":
        return model
    if isinstance(getattr(model, "features", None), nn.Module):
        model.features = _Bfloat16(model.features, device.type)
        return model
    return _Bfloat16(model, device.type)
