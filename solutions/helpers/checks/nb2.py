"""Local checks of notebook 2 (``helpers/saliency.py`` and, for part two, ``helpers/trust.py``):
one function per exercise, a list of cases.

Each case builds small inputs, calls your function and hands the result to ``expect``
(compared with the value stored in ``nb2.npz``; a mismatch names the nearest usual mistake).
The ``assert`` lines are properties that leave no trace in the result.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import saliency as Sa
from .. import trust as Tr
from .core import check_of, close, expect
from .inputs import batchnorm_net, checkerboard, formula_model, linear_logits, red_plus_green, squares, tiny_cnn

NOTEBOOK = 2


def _seeded(*shape, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


# ============================================================================ part one
@check_of("occlusion_map")
def occlusion_map():
    model = formula_model(linear_logits, size=4)
    x = _seeded(1, 3, 4, 5, seed=0) * 0.4
    x[0, :, -1, -1] = 1.0                               # a bright pixel in the last row and column
    # window 3, stride 1 on 4 x 5: 2 x 3 overlapping windows (2 batches of 3), a grey baseline; only the
    # last row and column of windows cover the bright pixel
    args = dict(window=3, stride=1, baseline=0.25)
    m = Sa.occlusion_map(model, x, 1, batch_size=3, **args)
    expect("window 3, stride 1 on 4 x 5, grey", m,
           "each pixel: the mean over the windows covering it of p(x) - p(x with the window set to baseline), "
           "softmax probability of the target class")
    assert close(m, Sa.occlusion_map(model, x, 1, batch_size=1, **args)), \
        "the result must not depend on batch_size (is the last, smaller batch used?)"


@check_of("saliency_map")
def saliency_map():
    model = formula_model(linear_logits, size=4)
    x = _seeded(1, 3, 4, 5, seed=1)
    expect("a linear model, class 1", Sa.saliency_map(model, x, target=1),
           "saliency: |d logit_target / d x|, maximum over the 3 colours, shape (H, W)")
    assert x.grad is None, "work on a copy of x (x.clone().requires_grad_()), not the caller's tensor"


@check_of("grabcut_seeds")
def grabcut_seeds():
    s = torch.tensor([[7.0, 18.0, 2.0, 11.0, 20.0, 0.0, 9.0], [14.0, 4.0, 19.0, 10.0, 1.0, 16.0, 5.0],
                      [12.0, 3.0, 17.0, 6.0, 15.0, 8.0, 13.0]])       # 0 .. 20: the quantiles hit values
    seeds = Sa.grabcut_seeds(s, fg_quantile=0.9, bg_quantile=0.2)     # 18, 4 and the median 10
    assert isinstance(seeds, np.ndarray) and seeds.dtype == np.uint8, \
        f"return a NumPy uint8 array (H, W) (OpenCV wants uint8); got {getattr(seeds, 'dtype', type(seeds).__name__)}"
    expect("values 0 .. 20, quantiles 0.9 and 0.2", seeds,
           "labels: >= fg quantile -> 1 (sure fg), <= bg quantile -> 0 (sure bg), of the rest above the median -> 3, "
           "else 2 (quantiles with torch.quantile)", atol=0)
    mostly_zero = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 5.0]])
    expect("a map that is mostly 0: the quantiles coincide", Sa.grabcut_seeds(mostly_zero, 0.8, 0.3),
           "where a pixel is both at or above the fg quantile and at or below the bg quantile, sure background (0) "
           "wins", atol=0)


@check_of("guided_relu_backward")
def guided_relu_backward():
    x = torch.tensor([-1.0, 0.0, 0.5, 3.0, 6.0, 7.0, 2.0, 5.0])
    g = torch.tensor([1.0, 1.0, 1.0, -2.0, 1.0, 1.0, 4.0, -1.0])
    expect("ReLU", Sa.guided_relu_backward(x, g),
           "ReLU: pass the gradient only where x > 0 AND the gradient is positive; zero elsewhere", atol=0)
    expect("ReLU6", Sa.guided_relu_backward(x, g, upper=6.0),
           "ReLU6: pass the gradient only where 0 < x < 6 AND the gradient is positive", atol=0)


@check_of("guided_backprop")
def guided_backprop():
    import torch.nn as nn
    model = tiny_cnn(seed=2, inplace=True)
    x = _seeded(1, 3, 8, 8, seed=0)
    expect("conv2, channel 3", Sa.guided_backprop(model, x, layer="conv2", channel=3),
           "objective: the channel's activation summed over the map; backprop with the guided rule at every ReLU; "
           "return the image gradient (3, H, W)", atol=1e-5)
    assert all(type(m) is not Sa.GuidedReLU for m in model.modules()), "the model must be restored afterwards"
    assert isinstance(model.net.act1, nn.ReLU) and model.net.act1.inplace, "the model must be restored afterwards"
    expect("conv2, channel 3, unit (2, 5)", Sa.guided_backprop(model, x, layer="conv2", channel=3, unit=(2, 5)),
           "unit = (row, col): the objective is act[0, channel, row, col]", atol=1e-5)
    expect("class 1", Sa.guided_backprop(model, x, target=1),
           "with target=t: backprop the class score model(x)[0, t] with the guided rule", atol=1e-5)


@check_of("class_activation_map")
def class_activation_map():
    f = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]], [[0.0, 1.0, 2.0], [3.0, 0.0, 1.0]],
                      [[2.0, 0.0, 1.0], [1.0, 1.0, 0.0]]])            # (C=3, h=2, w=3)
    w = torch.tensor([[1.0, 1.0, 0.5], [2.0, -1.0, -1.5], [0.0, 3.0, 1.0]])   # (K=3, C=3)
    expect("3 channels of 2 x 3, class 1", Sa.class_activation_map(f, w, target=1),
           "CAM: sum_c w[target, c] * features[c], shape (h, w)")


@check_of("grad_cam")
def grad_cam():
    model = tiny_cnn(seed=4)
    x = _seeded(1, 3, 8, 8, seed=1)
    # act1: below conv2, the gradient varies from place to place
    expect("class 2 at act1", Sa.grad_cam(model, x, target=2, layer="act1"),
           "alpha_c = gradient of the class score at the layer averaged over space; map = ReLU(sum_c alpha_c A_c), "
           "at the layer's own size (not upsampled)")
    expect("class 2 at act2", Sa.grad_cam(model, x, target=2, layer="act2"),
           "at the last layer before GAP + FC, Grad-CAM is ReLU(CAM) / (h w): alpha_c = w[target, c] / (h w)")


# ============================================================================ part two
@check_of("smoothgrad")
def smoothgrad():
    model = formula_model(squares)
    x = torch.zeros(1, 3, 2, 2)

    def run(batch_size):
        return Tr.smoothgrad(model, x, 1, n=6, sigma=0.5, generator=torch.Generator().manual_seed(1),
                             batch_size=batch_size)
    s = run(4)
    assert close(s, run(4), 0), "draw the noise with the generator you are given " \
                                "(torch.randn(..., generator=generator)), so that a run repeats"
    assert not s.requires_grad, "return the map without its graph (use torch.autograd.grad, or .detach())"
    expect("6 copies in batches of 4, sigma 0.5", s,
           "draw all the noise in one call, noise = sigma * torch.randn((n, 3, H, W), generator=generator), "
           "copy i = x + noise[i]; the map is the mean over the copies of |d logit / d copy|, maximum over colours")
    assert close(s, run(6)), "the result must not depend on batch_size"


@check_of("integrated_gradients")
def integrated_gradients():
    model = formula_model(squares)
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.2, 0.4], [0.6, 0.8]])
    x[0, 1] = 0.5
    a = Tr.integrated_gradients(model, x, 1, steps=5, batch_size=3)
    assert not getattr(a, "requires_grad", False), "return the attributions without their graph (.detach())"
    expect("black baseline, 5 steps in batches of 3", a,
           "IG = (x - baseline) * (1/steps) * sum_{k=1..steps} grad logit(baseline + k/steps (x - baseline)), "
           "one value per colour and pixel (3, H, W), signed")
    expect("grey baseline image", Tr.integrated_gradients(model, x, 1, baseline=torch.full_like(x, 0.5), steps=5),
           "with a baseline image: the path is baseline + alpha (x - baseline), and the factor is (x - baseline)")
    assert close(Tr.integrated_gradients(model, x, 1, baseline=0.5, steps=5, batch_size=2),
                 Tr.integrated_gradients(model, x, 1, baseline=0.5, steps=5, batch_size=5)), \
        "the result must not depend on batch_size (is the last, smaller batch used?)"


@check_of("randomized_weights")
def randomized_weights():
    import torch.nn as nn
    model = batchnorm_net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    sd = Tr.randomized_weights(model, "block", seed=3)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), \
        "the original model changed: re-initialize a copy (copy.deepcopy(model)), never the model you were given"
    assert isinstance(sd, dict) and set(sd) == set(before), \
        "return the copy's state_dict(): the same names as model.state_dict()"
    assert float(sd["net.probe.copied"]) == 1.0, \
        "re-initialize a copy of the model made with copy.deepcopy(model), never the model you were given"
    assert torch.equal(torch.random.get_rng_state(), rng), \
        "the caller's random numbers changed: seed inside `with torch.random.fork_rng():`"
    expect("down to block, seed 3", sd,
           "inside torch.random.fork_rng(): torch.manual_seed(seed) once, then each chosen layer from the top "
           "(the classifier) down to down_to (included), reset_parameters() of every sub-module that has one")
    assert close(sd, Tr.randomized_weights(model, "block", seed=3), 0), \
        "seed the re-initialization with torch.manual_seed(seed), so that it repeats"
    expect("down to conv1, seed 3", Tr.randomized_weights(model, "conv1", seed=3),
           "reset from the top down: the top layers get the same values at every step of the cascade")
    assert isinstance(model.net.block, nn.Sequential), "the model must not change"


@check_of("ranked_masks")
def ranked_masks():
    m = Tr.ranked_masks(torch.tensor([[3.0, 1.0], [3.0, 0.0]]), 0.25)      # a tie: pixels 0 and 2
    assert isinstance(m, torch.Tensor) and m.dtype == torch.bool, \
        "return bool masks (True = the pixel is removed / revealed)"
    expect("2 x 2 with a tie, fraction 1/4", m,
           "steps + 1 masks (H, W): mask k holds the k * H * W // steps top-ranked pixels (largest value first, "
           "ties: the lower row * W + col first), one step more each time; mask 0 is empty")
    expect("2 x 3, fraction 1/3", Tr.ranked_masks(torch.tensor([[1.0, 3.0, 2.0], [0.0, 5.0, 4.0]]), 1 / 3),
           "mask k holds the k * H * W // steps pixels with the largest values")
    expect("3 x 3, fraction 1/2", Tr.ranked_masks(torch.arange(9.0).view(3, 3), 0.5),
           "mask k has k * H * W // steps pixels (floor of the product): 0, 4, 9 for 9 pixels in 2 steps")


@check_of("deletion_curve")
def deletion_curve():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.9, 0.1], [0.5, 0.3]])
    x[0, 1] = 0.2
    s = x[0, 0].clone()                   # order: pixel 0 (0.9), 2 (0.5), 3 (0.3), 1 (0.1)
    c = Tr.deletion_curve(formula_model(red_plus_green, batches=[2, 2, 1]), x, 1, s, fraction=0.25, batch_size=2)
    assert isinstance(c, torch.Tensor), f"return a tensor of steps + 1 probabilities; got {type(c).__name__}"
    assert not c.requires_grad, "no autograd: run the forward passes under torch.no_grad()"
    expect("4 pixels removed one by one, batches of 2", c,
           "image k: x with the pixels of ranked_masks(saliency, fraction)[k] set to baseline; the target's "
           "softmax probability; entry 0 for the untouched image, the last for all pixels removed")
    expect("the same for class 0", Tr.deletion_curve(formula_model(red_plus_green), x, 0, s, fraction=0.25),
           "the probability of `target` (index 0 here), .softmax(-1)[:, target], not of the top class")
    expect("grey baseline, 2 steps", Tr.deletion_curve(formula_model(red_plus_green), x, 1, s, fraction=0.5,
                                                       baseline=0.5),
           "removed pixels take the baseline's value (0.5 here), in every colour")


@check_of("insertion_curve")
def insertion_curve():
    x = _seeded(1, 3, 8, 8, seed=0)
    s = -torch.arange(64.0).view(8, 8)                   # the pixels in row-major order
    c = Tr.insertion_curve(formula_model(checkerboard, size=8, batches=[2, 2, 1]), x, 1, s, fraction=0.25,
                           batch_size=2)
    assert isinstance(c, torch.Tensor) and not c.requires_grad, \
        "return steps + 1 probabilities (a tensor), computed with no autograd"
    expect("16 pixels a step, batches of 2", c,
           "image k: blurred(x, blur_sigma) with the pixels of ranked_masks(saliency, fraction)[k] taken from x")
    expect("blur_sigma 1", Tr.insertion_curve(formula_model(checkerboard, size=8), x, 1, s, fraction=0.25,
                                              blur_sigma=1.0),
           "blur with the blur_sigma you are given: blurred(x, blur_sigma)")
