"""Inference-time rewrites that leave the scores unchanged (within float rounding)."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batch_norm"]


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
