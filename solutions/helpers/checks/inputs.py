"""The small models the checks feed to your functions: inputs, not answers.

Each is a wrapped "network" (:class:`helpers.models.WrappedModel`, like the course's real
models: ``model.classes``, ``model.class_index``, ``model.to_input``, ...) whose logits are
a simple formula of the pixels, with identity normalization, so that its gradients and
probabilities are easy to reason about.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..models import WrappedModel, tiny_cnn  # noqa: F401  (tiny_cnn: the checks' small real CNN)


class _Formula(nn.Module):
    def __init__(self, logits, batches):
        super().__init__()
        self.logits, self.batches, self.calls = logits, batches, 0

    def forward(self, x):
        if self.batches is not None:
            i, self.calls = self.calls, self.calls + 1
            assert not torch.is_grad_enabled(), "no autograd: run the forward passes under torch.no_grad()"
            assert i < len(self.batches) and x.shape[0] == self.batches[i], \
                f"run batch_size images per forward pass, the last batch smaller: batches of {self.batches}; " \
                f"forward pass {i + 1} got {x.shape[0]} images"
        return self.logits(x)


def formula_model(logits, size: int = 2, batches: list | None = None, classes=("zero", "one")) -> WrappedModel:
    """A wrapped model whose logits are ``logits(x)``. ``batches``: the batch sizes its forward
    passes must have, in order, with no autograd; anything else fails inside the call, with
    a message that says so."""
    return WrappedModel("formula", _Formula(logits, batches), list(classes), size, (0.0,) * 3, (1.0,) * 3,
                        "", "", "", resize=(size, size), min_size=2)


def weights(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def linear_logits(x):
    """Two classes whose logits are fixed weighted sums of the pixels (signed weights that vary
    with colour and position), for images (N, 3, 4, 5)."""
    return x.flatten(1) @ weights((2, 3, 4, 5), 7).flatten(1).T


def squares(x):
    """Class 1's logit: sum of red^2 + 3 * sum of green^2 (blue ignored); class 0's: 0."""
    s = (x[:, 0] ** 2).sum((1, 2)) + 3 * (x[:, 1] ** 2).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def red_plus_green(x):
    """Class 1's logit: sum of (red + green) over the pixels (blue ignored); class 0's: 0."""
    s = (x[:, 0] + x[:, 1]).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def checkerboard(x):
    """Class 1's logit: half the sum of (red + green) weighted by a +1/-1 checkerboard, so that
    blurring the image changes it; class 0's: 0."""
    w = 1.0 - 2.0 * ((torch.arange(x.shape[-2])[:, None] + torch.arange(x.shape[-1])[None, :]) % 2)
    s = 0.5 * ((x[:, 0] + x[:, 1]) * w).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def linear_model(weight: torch.Tensor, size) -> WrappedModel:
    """A wrapped model with ``K`` classes whose logits are ``weight @ x.flatten()``."""
    return formula_model(lambda x: x.flatten(1) @ weight.T, size=size,
                         classes=[f"class {i}" for i in range(weight.shape[0])])


class CopyProbe(nn.Module):
    """A layer that remembers whether it is a copy (``copy.deepcopy``): its buffer ``copied`` is 1
    in a deep copy and 0 in the original, and it travels in the ``state_dict``."""

    def __init__(self):
        super().__init__()
        self.register_buffer("copied", torch.zeros(()))

    def __deepcopy__(self, memo):
        new = CopyProbe()
        new.copied.fill_(1.0)
        memo[id(self)] = new
        return new

    def forward(self, x):
        return x


def batchnorm_net() -> WrappedModel:
    """conv1 -> block (conv + BatchNorm, a layer with sub-modules) -> probe -> ReLU -> GAP -> fc,
    with every weight 0.25 and BatchNorm statistics far from a fresh layer's."""
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 2, 1))
    net.add_module("block", nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)))
    net.add_module("probe", CopyProbe())
    net.add_module("act", nn.ReLU())
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", nn.Flatten())
    net.add_module("fc", nn.Linear(2, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.25)
        net.block[1].running_mean.fill_(0.5)
        net.block[1].running_var.fill_(2.0)
    return WrappedModel("bn net", net, ["a", "b"], 4, (0.0,) * 3, (1.0,) * 3, "flatten", "block", "fc",
                        resize=(4, 4), min_size=2)
