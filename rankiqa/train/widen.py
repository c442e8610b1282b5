"""Function-preserving widening of a trained network (Net2WiderNet, Chen et al., ICLR 2016).

A wider copy of a trained ``IQANet`` starts where the narrow one ended instead of
from random weights: each new unit copies an existing one (its incoming weights, bias
and batch-norm statistics) and the layer after it shares the copied unit's outgoing
weights equally among the copies, so the wider network computes the same function.
A little noise on the copies' incoming weights breaks the symmetry; without it the
copies would receive identical gradients under SGD and stay copies forever.
"""

from __future__ import annotations

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


def _mapping(old: int, new: int, what: str, gen: torch.Generator) -> torch.Tensor:
    if new < old:
        raise ValueError(f"{what} would shrink from {old} to {new}; widening only grows a network")
    return torch.cat([torch.arange(old), torch.randint(0, old, (new - old,), generator=gen)])


def _incoming(weight: torch.Tensor, out_map: torch.Tensor, in_map: torch.Tensor, in_count: torch.Tensor,
              noise: float, gen: torch.Generator) -> torch.Tensor:
    """Rows copied by ``out_map``; columns copied by ``in_map`` and divided by their number of copies."""
    shape = (1, -1) + (1,) * (weight.dim() - 2)
    w = weight[out_map][:, in_map] / in_count[in_map].view(shape).to(weight.dtype)
    old = weight.shape[0]
    if noise > 0 and len(out_map) > old:
        w[old:] += noise * weight.std() * torch.randn(w[old:].shape, generator=gen, dtype=w.dtype)
    return w


@torch.no_grad()
def widen(model: IQANet, target: IQANet, seed: int = 0, noise: float = 0.01) -> IQANet:
    """Fill ``target`` (same topology, every layer at least as wide) so it computes what ``model`` does.

    ``noise`` is the standard deviation, relative to each weight tensor's own, added to
    the new units' incoming weights (0 preserves the function exactly). Returns ``target``.
    """
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    gen = torch.Generator().manual_seed(seed)
    (convs, bns, linears), (new_convs, new_bns, new_linears) = _parts(model), _parts(target)
    if len(convs) != len(new_convs) or len(bns) != len(new_bns) or len(linears) != len(new_linears):
        raise ValueError("widen needs the same topology: the target has a different number of layers")
    in_map = torch.arange(3)
    in_count = torch.ones(3, dtype=torch.long)
    for i, (old, new) in enumerate(zip(convs, new_convs)):
        if (old.kernel_size, old.stride, old.padding) != (new.kernel_size, new.stride, new.padding):
            raise ValueError(f"convolution {i} differs in kernel, stride or padding")
        out_map = _mapping(old.out_channels, new.out_channels, f"convolution {i}", gen)
        new.weight.copy_(_incoming(old.weight, out_map, in_map, in_count, noise, gen))
        if old.bias is not None:
            new.bias.copy_(old.bias[out_map])
        if bns:
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(new_bns[i], name).copy_(getattr(bns[i], name)[out_map])
            new_bns[i].num_batches_tracked.copy_(bns[i].num_batches_tracked)
        in_map, in_count = out_map, torch.bincount(out_map, minlength=old.out_channels)
    for j, (old, new) in enumerate(zip(linears, new_linears)):
        last = j == len(linears) - 1
        out_map = torch.arange(1) if last else _mapping(old.out_features, new.out_features, "the hidden layer", gen)
        if last and new.out_features != 1:
            raise ValueError("the head must end in one output")
        new.weight.copy_(_incoming(old.weight, out_map, in_map, in_count, noise, gen))
        new.bias.copy_(old.bias[out_map])
        in_map, in_count = out_map, torch.bincount(out_map, minlength=old.out_features)
    return target
