"""Local checks of notebook 3 (``helpers/ascent.py``): one function per exercise, a list of cases.

Each case builds small inputs, calls your function and hands the result to ``expect``
(compared with the value stored in ``nb3.npz``; a mismatch names the nearest usual mistake).
The ``assert`` lines are properties that leave no trace in the result.
"""
from __future__ import annotations

import torch

from .. import ascent as As
from .core import check_of, close, expect
from .inputs import linear_model, tiny_cnn

NOTEBOOK = 3


@check_of("ascent_step")
def ascent_step():
    g = torch.Generator().manual_seed(0)
    model = linear_model(torch.randn(3, 3 * 4 * 5, generator=g), size=4)     # 3 classes, logits linear in x
    base = 0.3 + 0.4 * torch.rand(1, 3, 4, 5, generator=g)          # not constant: rolling it matters
    delta = torch.randn(1, 3, 4, 5, generator=g) * 0.1
    keep = delta.clone()
    new, obj = As.ascent_step(model, delta, base, target=1, lr=0.1, l2=0.5, shift=(1, 2))
    assert torch.equal(delta, keep), "do not change delta in place: return a new tensor"
    assert isinstance(obj, float), f"return the objective as a float (float(...)); got {type(obj).__name__}"
    expect("objective, l2 0.5, shift (1, 2)", obj,
           "return the objective S_c(roll(base + delta)) - l2 * ||delta||^2, computed before the step", atol=1e-4)
    expect("new delta, l2 0.5, shift (1, 2)", new,
           "step: roll delta and base by shift, delta + lr * g / mean(|g|) with g the gradient of "
           "S_c - l2 * ||delta||^2 (ascent: plus), roll the result back by -shift", atol=1e-5)
    d = torch.randn(1, 3, 6, 6, generator=g)
    shrink, _ = As.ascent_step(linear_model(torch.zeros(2, 108), size=6), d, torch.zeros(1, 3, 6, 6), 0, lr=0.01,
                               l2=1.0)
    expect("no class signal, l2 1", shrink, "with no class signal, the L2 penalty alone must shrink the image",
           atol=1e-5)


@check_of("ascent_improves")
def ascent_improves():
    model = tiny_cnn(seed=3)
    base = torch.full((1, 3, 16, 16), 0.5)
    delta = torch.zeros_like(base)
    objs = []
    for _ in range(6):
        delta, o = As.ascent_step(model, delta, base, target=2, lr=0.02)
        objs.append(o)
    assert objs[-1] > objs[0], \
        f"the class score must grow over 5 steps (went {objs[0]:.3f} -> {objs[-1]:.3f}): ascend, not descend"


@check_of("clip_small_values")
def clip_small_values():
    # pixel norms 5, 0.1732, 2, 1, 3, 0.5 on a 2 x 3 image: the 40th percentile is exactly 1
    d = torch.tensor([[[[3.0, 0.1, 0.0], [1.0, 0.0, 0.3]], [[4.0, 0.1, 2.0], [0.0, 3.0, 0.4]],
                       [[0.0, 0.1, 0.0], [0.0, 0.0, 0.0]]]])
    keep = d.clone()
    out = As.clip_small_values(d, 40)
    assert torch.equal(d, keep), "do not change delta in place: return a new tensor"
    expect("40th percentile", out, "zero all 3 channels of the pixels whose colour norm is below the percentile "
                                   "(torch.quantile of the norms, percentile / 100); keep the shape (1, 3, H, W)",
           atol=0)
    assert close(As.clip_small_values(d, 0), d, 0), "percentile 0 changes nothing"


@check_of("clip_small_gradients")
def clip_small_gradients():
    # contributions sum_c d * g per pixel: 0, 2, 1, -1, 3, 0.5; |.|: the 40th percentile is exactly 1
    d = torch.tensor([[[[1.0, 2.0, 1.0], [1.0, 1.0, 0.5]], [[1.0, 0.0, 0.0], [1.0, 2.0, 0.0]],
                       [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]]])
    g = torch.tensor([[[[1.0, 1.0, 3.0], [-2.0, 3.0, 1.0]], [[-1.0, 5.0, 4.0], [1.0, 0.0, 7.0]],
                       [[5.0, 1.0, -2.0], [0.0, 6.0, 0.0]]]])
    keep = d.clone()
    out = As.clip_small_gradients(d, g, 40)
    assert torch.equal(d, keep), "do not change delta in place: return a new tensor"
    expect("40th percentile", out, "zero every pixel whose contribution |sum_c delta * grad| is below the percentile "
                                   "(torch.quantile of all contributions)", atol=0)
    assert close(As.clip_small_gradients(d, g, 0), d, 0), "percentile 0 changes nothing"


@check_of("facet_starts")
def facet_starts():
    g = torch.Generator().manual_seed(0)
    # three well-separated groups of 4, 2 and 1 rows, which KMeans numbers 1, 2, 0 (a cycle, not a swap)
    feats = torch.tensor([[5.0, 7.0], [-9.2, -6.9], [4.9, 7.1], [3.9, -6.8], [5.1, 7.1], [5.1, 7.0], [-9.0, -7.0]])
    imgs = torch.rand(7, 3, 2, 3, generator=g)
    means, labels = As.facet_starts(imgs, feats, k=3)
    assert isinstance(labels, torch.Tensor) and isinstance(means, torch.Tensor), \
        "return (means, labels) as torch tensors (labels: a LongTensor, torch.from_numpy(...)): the notebook " \
        f"indexes the images with them; got {type(means).__name__} and {type(labels).__name__}"
    expect("groups of 4, 2 and 1: labels", labels,
           "labels: KMeans(n_clusters=k, n_init=10, random_state=seed) on the features, renumbered so that label 0 "
           "is the largest cluster (ties: the lower KMeans label first)", atol=0)
    expect("groups of 4, 2 and 1: means", means, "means[c]: the mean image of the images labelled c, (k, 3, H, W)")
    tie = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [-6.0, 4.0]])
    _, t_labels = As.facet_starts(torch.rand(5, 3, 2, 2, generator=g), tie, k=3)
    expect("two clusters of the same size", t_labels,
           "labels renumbered by decreasing cluster size, ties: lower KMeans label first", atol=0)
    cloud = torch.rand(12, 2, generator=torch.Generator().manual_seed(11))          # no clear clusters
    _, c_labels = As.facet_starts(torch.rand(12, 3, 2, 2, generator=g), cloud, k=4, seed=3)
    expect("no clear clusters, seed 3", c_labels,
           "KMeans(n_clusters=k, n_init=10, random_state=seed) on the features", atol=0)


FOOLED_AFTER = 8          # tiny_cnn(seed=5) first predicts class 2 for this image after 8 steps of lr 0.05


@check_of("fooling_image")
def fooling_image():
    model = tiny_cnn(seed=5)
    x = (torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.5).float()  # pixels 0 or 1
    fooled, steps = As.fooling_image(model, x, 2, lr=0.05, max_steps=30)     # the model says class 0 for x
    assert isinstance(steps, int), f"return (image, number of steps): steps as an int; got {type(steps).__name__}"
    expect("class 0 to class 2: image", fooled,
           "repeat: stop if the target wins, else x <- clamp(x + lr * g / mean(|g|), 0, 1) with g the gradient of "
           "the target's score (its logit); return the image (1, 3, H, W)", atol=1e-5)
    expect("class 0 to class 2: steps", steps,
           "count the steps taken: 0 if x is already the target, one per step", atol=0)
    early, s2 = As.fooling_image(model, x, 2, lr=0.05, max_steps=FOOLED_AFTER - 1)
    expect("give up after max_steps", (early, s2),
           "give up after max_steps steps: return the image so far and max_steps", atol=1e-5)
    same, s0 = As.fooling_image(model, x, 0, lr=0.05)
    assert s0 == 0 and close(same, x, 0), "already the target: 0 steps, image unchanged (count the steps taken)"


def _attack_inputs():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    x[:, :, :2] = (x[:, :, :2] > 0.5).float()          # some pixels at 0 or 1: the clamp matters
    return tiny_cnn(seed=6), x, torch.tensor([1, 2])


@check_of("fgsm")
def fgsm():
    model, x, y = _attack_inputs()
    expect("untargeted, eps 0.03", As.fgsm(model, x, y, eps=0.03),
           "untargeted FGSM: clamp(x + eps * sign(grad of F.cross_entropy(model(x), y)), 0, 1), same shape as x")
    expect("targeted, eps 0.03", As.fgsm(model, x, y, eps=0.03, targeted=True),
           "targeted: clamp(x - eps * sign(grad of the cross-entropy of the target labels), 0, 1)")


@check_of("pgd")
def pgd():
    model, x, y = _attack_inputs()
    args = dict(eps=0.02, alpha=0.008, steps=4)         # 4 steps of 0.008 can leave the 0.02 box
    expect("untargeted, 4 steps", As.pgd(model, x, y, **args),
           "PGD: steps times, x_adv + alpha * sign(grad of the cross-entropy), then clip to [x - eps, x + eps] and "
           "to [0, 1]", atol=1e-6)
    expect("targeted, 4 steps", As.pgd(model, x, y, targeted=True, **args),
           "targeted PGD: x_adv - alpha * sign(grad) at every step, then project", atol=1e-6)
    rng = torch.random.get_rng_state()
    rs = As.pgd(model, x, y, random_start=True, seed=3, **args)
    assert torch.equal(torch.random.get_rng_state(), rng), \
        "draw the random start with your own generator, torch.Generator().manual_seed(seed), not the global one"
    expect("random start, seed 3", rs,
           "random_start: x + (torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * eps, "
           "clamped to [0, 1], then the steps", atol=1e-6)
