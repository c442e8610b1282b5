"""Inference-time rewrites that leave the scores unchanged (within float rounding)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batch_norm", "chunk_first_block", "pair_max_pool", "CHUNK_BYTES"]

#: Activation bytes of the first block per chunk: a few MiB stay in a CPU's L2/L3 cache.
CHUNK_BYTES = 4 * 1024 * 1024


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every ``Conv2d`` directly followed by a ``BatchNorm2d``
    (inside one ``nn.Sequential``) merged into a single convolution; the norm becomes ``Identity``.

    In eval mode batch norm is a per-channel affine map, so the merged convolution
    computes the same function with one pass over the activations fewer.
    """
    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()
    return model


class _Chunked(nn.Module):
    """Runs ``inner`` on slices of a CPU batch whose widest activation is at most ``max_bytes``."""

    def __init__(self, inner: nn.Sequential, channels: int, max_bytes: int):
        super().__init__()
        self.inner = inner
        self.channels = channels
        self.max_bytes = max_bytes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_item = x.shape[-2] * x.shape[-1] * self.channels * 4  # float32 bytes, whatever x is
        step = max(1, self.max_bytes // per_item)
        if x.device.type != "cpu" or x.shape[0] <= step:  # a GPU wants the whole batch at once
            return self.inner(x)
        return torch.cat([self.inner(part) for part in x.split(step)])


def chunk_first_block(model: nn.Module, max_bytes: int = CHUNK_BYTES) -> nn.Module:
    """``model`` (changed in place) running the layers before its first pooling on small slices of the batch.

    The first block works at full resolution with few channels: its
    convolutions and pooling are bound by memory traffic, not arithmetic, and
    a batch of 32 crops of 128 px (17 MB a layer at width 1/8) spills out of
    the cache between layers. Slices of ``max_bytes`` stay in it, and the
    deeper layers still see the whole batch (``bench/inference.py``). Every
    layer there acts on each item alone (eval mode), so the scores are the same.
    A model without an ``nn.Sequential`` ``features`` holding a pooling layer
    is returned unchanged.
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        return model
    layers = list(features)
    pool = next((i for i, m in enumerate(layers) if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))), None)
    convs = [m for m in layers[:pool] if isinstance(m, nn.Conv2d)] if pool is not None else []
    if not convs or any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in layers[:pool]):
        return model
    channels = max(c.out_channels for c in convs)
    model.features = nn.Sequential(_Chunked(nn.Sequential(*layers[:pool + 1]), channels, max_bytes),
                                   *layers[pool + 1:])
    return model


class _PairMaxPool(nn.MaxPool2d):
    """2x2, stride-2 max pooling as two element-wise maxima over a view of a channels_last tensor.

    torch's CPU ``max_pool2d`` on channels_last activations with few channels runs
    3-5x slower than this (8 channels, 128 px; ``bench/inference.py``); the maxima
    are exact, so the output is identical. Other inputs go to ``max_pool2d``.
    With ``relu``, the ReLU before the pooling runs after it, on a quarter of the
    values: the maximum of rectified values is the rectified maximum, exactly.
    """

    def __init__(self, kernel_size: int, stride: int, relu: bool = False):
        super().__init__(kernel_size, stride)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() != 4 or x.device.type != "cpu" or x.shape[-2] % 2 or x.shape[-1] % 2
                or not x.is_contiguous(memory_format=torch.channels_last)):
            out = super().forward(x)
        else:
            n, c, h, w = x.shape
            v = x.permute(0, 2, 3, 1).reshape(n, h // 2, 2, w // 2, 2, c)  # a view: NHWC memory
            rows = torch.maximum(v[:, :, 0], v[:, :, 1])
            out = torch.maximum(rows[:, :, :, 0], rows[:, :, :, 1]).permute(0, 3, 1, 2)
        return out.clamp_min_(0) if self.relu else out


def pair_max_pool(model: nn.Module) -> nn.Module:
    """``model`` (changed in place) with every plain 2x2, stride-2 ``MaxPool2d`` computed by :class:`_PairMaxPool`;
    a ReLU right before one in an ``nn.Sequential`` (``Identity`` between them aside) moves after it."""
    for parent in list(model.modules()):
        names = list(parent._modules)
        for i, name in enumerate(names):
            m = parent._modules[name]
            if not (type(m) is nn.MaxPool2d and m.kernel_size in (2, (2, 2)) and m.stride in (2, (2, 2))
                    and m.padding in (0, (0, 0)) and m.dilation in (1, (1, 1)) and not m.ceil_mode
                    and not m.return_indices):
                continue
            before = [parent._modules[n] for n in names[:i]] if isinstance(parent, nn.Sequential) else []
            while before and type(before[-1]) is nn.Identity:
                before.pop()
            relu = bool(before) and type(before[-1]) is nn.ReLU
            if relu:
                parent._modules[names[len(before) - 1]] = nn.Identity()
            parent._modules[name] = _PairMaxPool(2, 2, relu=relu)
    return model
