"""Notebook 4: feature inversion and DeepDream.

Exercises (complete the bodies marked ``YOUR CODE HERE``):

1. :func:`total_variation` - the total-variation prior R_V^beta, vectorized.

Images are pixel-space tensors ``(N, 3, H, W)`` in ``[0, 1]``. Everything runs on the shared
loop :func:`helpers.optim.optimize`.
"""
from __future__ import annotations

import torch

from .utils import CourseError


# ============================================================================ 1. total variation
def total_variation(x: torch.Tensor, beta: float = 2.0, eps: float = 0.0) -> torch.Tensor:
    """The total-variation prior ``R_{V^beta}(x)`` of images ``x`` ``(N, C, H, W)``: a scalar.

    ``sum over i, j, channels and images of ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2) ^ (beta / 2)``
    where ``i`` runs over rows and ``j`` over columns. At the last row and the last column
    the missing neighbour counts as a difference of 0 (so a 1 x 1 image has TV 0). No
    Python loops: use slicing. ``beta = 2`` is the squared-gradient prior; ``beta = 1`` is the
    classic TV (edges cost in proportion to their height). For ``beta < 2`` the gradient at a
    flat patch is infinite; ``eps > 0`` is added to the squares before the power
    (``(d_x^2 + d_y^2 + eps)^(beta/2)``) to keep it finite. ``eps = 0`` is the exact prior.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise CourseError(f"total_variation takes images (N, C, H, W), got "
                          f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
        raise CourseError(f"beta must be a positive number (1 and 2 are usual), got {beta!r}")
    ### BEGIN SOLUTION
    dx = torch.zeros_like(x)
    dy = torch.zeros_like(x)
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    sq = dx ** 2 + dy ** 2 + eps
    if beta == 2:
        return sq.sum()
    return sq.pow(beta / 2).sum()
    ### END SOLUTION
