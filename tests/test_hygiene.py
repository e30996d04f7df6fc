"""Every technique of the library leaves the model and its input as it found them.

One test, parametrized over every technique that takes a model (Captum's
``test_hook_removal`` is the model): after the call, no hook is left on any module, no
module stays replaced (guided backprop swaps activations), the input tensor is bit for bit
unchanged, the weights are unchanged and still frozen, and the model is still in eval mode.
A technique added to the library without an entry here fails ``test_every_technique_is_listed``.
"""
import inspect

import numpy as np
import pytest
import torch

from helpers import ascent as As
from helpers import features as Fe
from helpers import inversion as In
from helpers import saliency as Sa
from helpers import style as St
from helpers import stylenet as Sn
from helpers import trust as Tr
from helpers.models import tiny_cnn

IMGS = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)


def _x():
    return torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _trace(m, x):
    with m.trace(["act1", "act2"], keep_graph=True) as t:
        m(x.clone().requires_grad_(True))[0, 0].backward()
    return t


def _cut(m, x):
    with m.cut_at("act1") as cut:
        y = m(x)
    return torch.autograd.grad(y[0, 1], cut.leaf)


_SMALL_METHODS = {
    "saliency": lambda m, x, t: Sa.saliency_map(m, x, t),
    "guided backprop": lambda m, x, t: Sa.guided_backprop(m, x, target=t),
    "Grad-CAM": lambda m, x, t: Sa.grad_cam(m, x, t),
    "occlusion": lambda m, x, t: Sa.occlusion_map_local(m, x, t, window=8, stride=8),
}

TECHNIQUES = {
    # models
    "WrappedModel.trace": _trace,
    "WrappedModel.cut_at": _cut,
    "WrappedModel.activations": lambda m, x: m.activations(x, ["act1", "conv2"], keep_graph=True),
    "WrappedModel.predict": lambda m, x: m.predict(x),
    # notebook 1
    "extract_features": lambda m, x: Fe.extract_features(m, IMGS, layer="conv2", progress=False),
    "channel_activations": lambda m, x: Fe.channel_activations(m, IMGS, "act2", [0, 3], progress=False),
    "conv_geometry": lambda m, x: Fe.conv_geometry(m, "conv2"),
    "layer_receptive_field": lambda m, x: Fe.layer_receptive_field(m, "act2"),
    "max_activating_patches": lambda m, x: Fe.max_activating_patches(m, IMGS, "act2", [1], k=2, progress=False),
    # notebook 2
    "occlusion_map": lambda m, x: Sa.occlusion_map(m, x, 0, window=4, stride=4),
    "occlusion_map_local": lambda m, x: Sa.occlusion_map_local(m, x, 0, window=4, stride=4, split="act1"),
    "saliency_map": lambda m, x: Sa.saliency_map(m, x, 1),
    "guided_backprop": lambda m, x: (Sa.guided_backprop(m, x, target=2),
                                     Sa.guided_backprop(m, x, layer="act2", channel=1, unit=(3, 4))),
    "plain_gradient": lambda m, x: Sa.plain_gradient(m, x, "act2", 1),
    "cam": lambda m, x: Sa.cam(m, x, 0),
    "grad_cam": lambda m, x: Sa.grad_cam(m, x, 0, "conv2"),
    "guided_grad_cam": lambda m, x: Sa.guided_grad_cam(m, x, 0, "conv2"),
    # notebook 2, part two
    "smoothgrad": lambda m, x: Tr.smoothgrad(m, x, 1, n=3, generator=torch.Generator().manual_seed(0)),
    "integrated_gradients": lambda m, x: Tr.integrated_gradients(m, x, 1, steps=3),
    "completeness": lambda m, x: Tr.completeness(m, x, 1, Tr.integrated_gradients(m, x, 1, steps=3)),
    "path_scores": lambda m, x: Tr.path_scores(m, x, 1, baseline=0.5, points=5, batch_size=2),
    "randomized_weights": lambda m, x: Tr.randomized_weights(m, "conv2"),
    "randomize_from_top": lambda m, x: Tr.randomize_from_top(m, "conv1")(x),
    "deletion_curve": lambda m, x: Tr.deletion_curve(m, x, 0, torch.rand(16, 16), fraction=0.25),
    "insertion_curve": lambda m, x: Tr.insertion_curve(m, x, 0, torch.rand(16, 16), fraction=0.25),
    "curves_on_photo": lambda m, x: Tr.curves_on_photo(m, x, 0, {"a": torch.rand(16, 16)}, fraction=0.5),
    "cascading_randomization": lambda m, x: Tr.cascading_randomization(m, x, 0, _SMALL_METHODS, progress=False),
    "faithfulness_table": lambda m, x: Tr.faithfulness_table(m, x.repeat(2, 1, 1, 1), None, _SMALL_METHODS,
                                                             fraction=0.5, progress=False),
    # notebook 3
    "ascent_step": lambda m, x: As.ascent_step(m, torch.zeros_like(x), x, 1, lr=0.1, l2=0.01, shift=(1, 2)),
    "class_visualization": lambda m, x: As.class_visualization(m, 1, steps=2, size=16, blur_every=1, clip_value=1,
                                                               clip_grad=1, clip_every=1, jitter=2, progress=False),
    "fourier_visualization": lambda m, x: As.fourier_visualization(m, As.channel_objective(m, "act2", 1), steps=2,
                                                                   size=16, progress=False),
    "fooling_image": lambda m, x: As.fooling_image(m, x, 2, lr=0.5, max_steps=3),
    "fgsm": lambda m, x: As.fgsm(m, x, torch.tensor([0]), 0.03),
    "pgd": lambda m, x: As.pgd(m, x, torch.tensor([0]), 0.03, steps=2),
    "accuracy_under_attack": lambda m, x: (As.accuracy_under_attack(m, x, [0], [0, 0.03], progress=False),
                                           As.accuracy_under_attack(m, x, [0], [0.03], attack="pgd", steps=2,
                                                                    progress=False)),
    # notebook 4
    "invert": lambda m, x: In.invert(m, x, "conv2", steps=2, progress=False),
    "dream_step": lambda m, x: In.dream_step(m, x, "act2", shift=(1, 1)),
    "deep_dream": lambda m, x: In.deep_dream(m, x, "act2", octaves=2, octave_scale=1.2, steps=1, jitter=2,
                                             progress=False),
    # notebook 5
    "style.features": lambda m, x: St.features(m, x, ["act1", "act2"]),
    "style_grams": lambda m, x: St.style_grams(m, x, ["act1", "act2"]),
    "synthesize_texture": lambda m, x: St.synthesize_texture(m, x, ["act1", "act2"], size=32, steps=2,
                                                             progress=False),
    "gatys": lambda m, x: St.gatys(m, x, x.flip(-1), size=16, steps=2, content_layer="act2",
                                   style_layers=["act1", "act2"], progress=False),
    "train_stylizer": lambda m, x: Sn.train_stylizer(Sn.TransformerNet((4, 4, 4), 1), m, x, IMGS, steps=1,
                                                     batch_size=2, size=16, content_layer="act2",
                                                     style_layers=["act1", "act2"], progress=False),
}
NOT_TECHNIQUES = {   # functions that take a model but run nothing through it
    "first_conv_weights", "neutral_image", "class_objective", "channel_objective", "guided", "check_epsilon",
    "cascade_layers", "cascade_steps",
}


def _state(model):
    mods = {name: (id(m), type(m)) for name, m in model.net.named_modules()}
    hooks = {name: sum(len(getattr(m, h)) for h in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                                                      "_backward_pre_hooks"))
             for name, m in model.net.named_modules()}
    weights = {k: v.detach().clone() for k, v in model.net.state_dict().items()}
    grads = {k: (p.requires_grad, p.grad) for k, p in model.net.named_parameters()}
    return mods, hooks, weights, grads, model.net.training


@pytest.mark.parametrize("name", sorted(TECHNIQUES))
def test_technique_leaves_model_and_input_untouched(name):
    model = tiny_cnn(seed=3)
    x = _x()
    x_before = x.clone()
    mods, hooks, weights, grads, training = _state(model)
    assert not any(hooks.values()) and not training
    TECHNIQUES[name](model, x)
    mods2, hooks2, weights2, grads2, training2 = _state(model)
    assert {k: v for k, v in hooks2.items() if v} == {}, f"{name} left hooks behind"
    assert mods2 == mods, f"{name} left a module replaced"
    assert torch.equal(x, x_before) and not x.requires_grad and x.grad is None, f"{name} changed its input"
    assert all(torch.equal(weights[k], weights2[k]) for k in weights), f"{name} changed the weights"
    assert grads2 == grads, f"{name} changed requires_grad or left gradients on the weights"
    assert not training2, f"{name} left the model in training mode"


def test_every_technique_is_listed():
    """Every public function of the library that takes a model has an entry above."""
    listed = {n.split(".")[-1] for n in TECHNIQUES} | NOT_TECHNIQUES
    missing = []
    for mod in (Fe, Sa, Tr, As, In, St, Sn):
        for n, f in vars(mod).items():
            if inspect.isfunction(f) and f.__module__ == mod.__name__ and not n.startswith("_"):
                params = list(inspect.signature(f).parameters)
                if params and params[0] == "model" and n not in listed:
                    missing.append(f"{mod.__name__}.{n}")
    assert not missing, f"add these techniques to TECHNIQUES in tests/test_hygiene.py: {missing}"
