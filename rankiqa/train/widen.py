"""Function-preserving widening of a trained network.

A wider copy of a trained ``IQANet`` starts where the narrow one ended instead of from
random weights. Every old unit keeps its weights and ignores the new inputs (zero
weights from them); every new unit gets fresh random incoming weights and zero outgoing
weights, so the wider network computes exactly what the narrow one did, in training
and in evaluation mode, and gradient descent then grows the new units' outgoing weights.

Net2Net's alternative, new units as noisy copies of old ones with their outgoing weights
shared, was tried first and dropped: under SGD at a fine-tuning learning rate the copies
stayed copies (cosine similarity 0.9998 to their originals after 2,500 iterations with 1%
noise), so the wider network was the narrow one at a higher cost.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rankiqa.models import IQANet

__all__ = ["widen"]


def _parts(model: IQANet) -> tuple[list[nn.Conv2d], list[nn.BatchNorm2d], list[nn.Linear]]:
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    others = [m for m in model.features if not isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d))]
    if others or (bns and len(bns) != len(convs)) or not 1 <= len(linears) <= 2:
        raise ValueError("widen handles plain conv / batch-norm / ReLU / max-pool stacks with a 1- or 2-layer head")
    return convs, bns, linears


def _grow(old: nn.Module, new: nn.Module, what: str, gen: torch.Generator) -> None:
    """``new``'s weight: ``old``'s in the top-left block, zero from new inputs, fresh rows for new units."""
    (n_out, n_in), (m_out, m_in) = old.weight.shape[:2], new.weight.shape[:2]
    if m_out < n_out or m_in < n_in:
        raise ValueError(f"{what} would shrink from {n_out}x{n_in} to {m_out}x{m_in}; widening only grows a network")
    # PyTorch's own default initialisation (kaiming uniform, a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1.0 / math.sqrt(new.weight[0].numel())
    w = (torch.rand(new.weight.shape, generator=gen, dtype=new.weight.dtype) * 2 - 1) * bound
    w[:n_out] = 0
    w[:n_out, :n_in] = old.weight
    new.weight.copy_(w)
    if new.bias is not None:
        b = (torch.rand(m_out, generator=gen, dtype=new.bias.dtype) * 2 - 1) * bound
        b[:n_out] = old.bias
        new.bias.copy_(b)


@torch.no_grad()
def widen(model: IQANet, target: IQANet, seed: int = 0) -> IQANet:
    """Fill ``target`` (same topology, every layer at least as wide) so it computes what ``model`` does.

    New units start from random weights drawn with ``seed``; their outgoing weights are
    zero until training grows them. Returns ``target``.
    """
    gen = torch.Generator().manual_seed(seed)
    (convs, bns, linears), (new_convs, new_bns, new_linears) = _parts(model), _parts(target)
    if len(convs) != len(new_convs) or len(bns) != len(new_bns) or len(linears) != len(new_linears):
        raise ValueError("widen needs the same topology: the target has a different number of layers")
    for i, (old, new) in enumerate(zip(convs, new_convs)):
        if (old.kernel_size, old.stride, old.padding) != (new.kernel_size, new.stride, new.padding):
            raise ValueError(f"convolution {i} differs in kernel, stride or padding")
        _grow(old, new, f"convolution {i}", gen)
        if bns:
            n, bn = old.out_channels, new_bns[i]
            bn.reset_parameters()  # new units: gamma 1, beta 0, running statistics 0 and 1
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, name)[:n] = getattr(bns[i], name)
            bn.num_batches_tracked.copy_(bns[i].num_batches_tracked)
    for j, (old, new) in enumerate(zip(linears, new_linears)):
        if j == len(linears) - 1 and new.out_features != 1:
            raise ValueError("the head must end in one output")
        _grow(old, new, "the head's first layer" if j < len(linears) - 1 else "the head's output layer", gen)
    return target
