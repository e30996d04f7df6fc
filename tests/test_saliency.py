"""Notebook 2's library against Captum and pytorch-grad-cam, known identities, and bad input."""
import numpy as np
import pytest
import torch
import torch.nn as nn
from captum.attr import GuidedBackprop, LayerGradCam, Occlusion, Saliency
from authoring.conventions import stub_message

from helpers import CourseError
from helpers import saliency as Sa
from helpers.data import sample_image
from helpers.models import tiny_cnn


@pytest.fixture(scope="module")
def cat(lite0):
    x = lite0.to_input(sample_image("chelsea"))
    return x, int(lite0(x).argmax())


def test_saliency_equals_captum(lite0, cat):
    x, t = cat
    ours = Sa.saliency_map(lite0, x, t)
    ref = Saliency(lite0).attribute(x.clone().requires_grad_(True), target=t, abs=True).amax(1)[0]
    assert torch.allclose(ours, ref, atol=1e-7)


def test_occlusion_equals_captum_where_definitions_coincide(tiny):
    # Captum's Occlusion on the softmax probability, same windows (H - window divisible by stride)
    x = torch.rand(1, 3, 16, 16)
    ours = Sa.occlusion_map(tiny, x, 1, window=4, stride=2, baseline=0.5, batch_size=5)
    ref = Occlusion(lambda z: tiny(z).softmax(-1)).attribute(
        x, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), baselines=0.5, target=1)
    assert torch.allclose(ours, ref[0, 0], atol=1e-6)
    assert torch.allclose(ref[0, 0], ref[0, 2])  # Captum repeats the map over the 3 channels


def test_occlusion_does_not_depend_on_batch_size_on_lite0(lite0, cat):
    x, t = cat
    small = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear")
    a = Sa.occlusion_map(lite0, small, t, window=16, stride=16, batch_size=1)
    b = Sa.occlusion_map(lite0, small, t, window=16, stride=16, batch_size=7)
    assert a.shape == (64, 64) and torch.allclose(a, b, atol=1e-5)


def test_guided_relu_backward_is_the_masked_positive_gradient():
    """The definition, on random values (ties included: exactly 0 and exactly 6 block)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 5, generator=g) * 4
    x[0, 0, 0, :3] = torch.tensor([0.0, 6.0, -0.0])
    grad = torch.randn(2, 3, 5, 5, generator=g)
    for upper in (float("inf"), 6.0):
        want = grad.clamp(min=0) * ((x > 0) & (x < upper))
        assert torch.equal(Sa.guided_relu_backward(x, grad, upper), want)
    assert Sa.guided_relu_backward(x.double(), grad.double(), 6.0).dtype == torch.float64


def test_guided_backprop_equals_captum_on_plain_relu():
    model = tiny_cnn(seed=5, inplace=True)
    x = torch.rand(1, 3, 16, 16)
    ours = Sa.guided_backprop(model, x, target=0)
    ref = GuidedBackprop(model).attribute(x, target=0)[0]
    assert torch.allclose(ours, ref, atol=1e-6)
    assert not torch.allclose(ours, torch.zeros_like(ours))


def test_guided_backprop_is_not_the_plain_gradient_on_relu6(lite0, cat):
    """Captum falls back to the plain gradient on ReLU6 networks; ours must not."""
    x, t = cat
    plain = x.clone().requires_grad_(True)
    lite0(plain)[0, t].backward()
    captum = GuidedBackprop(lite0).attribute(x, target=t)[0]
    assert torch.allclose(captum, plain.grad[0], atol=1e-6)      # the known silent fallback
    ours = Sa.guided_backprop(lite0, x, target=t)
    assert not torch.allclose(ours, plain.grad[0], atol=1e-3)
    g = Sa.guided_backprop(lite0, x, layer="blocks.3", channel=5)
    p = Sa.plain_gradient(lite0, x, "blocks.3", 5)
    assert (g - p).abs().max() > 0.1 * p.abs().max()
    assert all(type(m) is not Sa.GuidedReLU for m in lite0.modules())


def test_guided_backprop_restores_the_model_when_it_raises(lite0, cat):
    x, _ = cat
    before = [type(m) for m in lite0.modules()]
    with pytest.raises(CourseError, match="channels 0..79"):
        Sa.guided_backprop(lite0, x, layer="blocks.3", channel=500)
    assert [type(m) for m in lite0.modules()] == before
    acts = [m for m in lite0.modules() if isinstance(m, nn.ReLU6)]
    assert acts and all(a.inplace for a in acts)


def test_guided_unit_is_local(lite0, cat):
    x, _ = cat
    g = Sa.guided_backprop(lite0, x, layer="blocks.1", channel=3, unit=(20, 20))
    rows, cols = (g.abs().sum(0) > 0).nonzero().T
    # blocks.1 fields are 19 px with stride 4 and offset -6: unit 20 sees rows 74..92
    assert rows.min() >= 74 and rows.max() <= 92 and cols.min() >= 74 and cols.max() <= 92


def test_cam_and_grad_cam_agree_up_to_positive_scale(lite0, cat):
    x, t = cat
    c = Sa.cam(lite0, x, t)
    g = Sa.grad_cam(lite0, x, t)
    assert c.shape == g.shape == (7, 7)
    assert torch.allclose(g, torch.relu(c) / 49, atol=1e-5)   # GAP + FC: alpha_c = w_c / (h w)


def test_grad_cam_equals_captum_layer_grad_cam(lite0, cat):
    x, t = cat
    for layer in ["bn2", "blocks.5"]:
        ours = Sa.grad_cam(lite0, x, t, layer)
        ref = LayerGradCam(lite0, lite0.layer(layer)).attribute(x, target=t, relu_attributions=True)[0, 0]
        assert torch.allclose(ours, ref, atol=1e-5), layer


def test_grad_cam_equals_pytorch_grad_cam_before_its_scaling(lite0, cat):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    x, t = cat
    ours = Sa.upsample(Sa.grad_cam(lite0, x, t), (224, 224)).numpy()
    with GradCAM(model=lite0, target_layers=[lite0.layer("bn2")]) as gc:
        ref = gc(input_tensor=x.clone().requires_grad_(True), targets=[ClassifierOutputTarget(t)])[0]
    # pytorch-grad-cam min-max scales its map; compare after the same scaling
    scaled = (ours - ours.min()) / (ours.max() - ours.min())
    assert np.corrcoef(scaled.ravel(), ref.ravel())[0, 1] > 0.99


def test_guided_grad_cam_shape_and_mask(lite0, cat):
    x, t = cat
    ggc = Sa.guided_grad_cam(lite0, x, t)
    assert ggc.shape == (3, 224, 224)
    gc = Sa.upsample(Sa.grad_cam(lite0, x, t), (224, 224))
    assert (ggc.abs().sum(0)[gc == 0] == 0).all()


def test_segment_finds_the_cat(lite0, cat):
    x, t = cat
    img = lite0.to_image(x)
    mask = Sa.segment(img, Sa.saliency_map(lite0, x, t))
    assert mask.shape == (224, 224) and 0.05 < mask.mean() < 0.9


def test_bad_input_is_explained(lite0, cat):
    x, t = cat
    with pytest.raises(CourseError, match="did you mean 'tabby'"):
        Sa.saliency_map(lite0, x, "taby")
    with pytest.raises(CourseError, match="0..999"):
        Sa.saliency_map(lite0, x, 1000)
    with pytest.raises(CourseError, match="larger than the image"):
        Sa.occlusion_map(lite0, x, t, window=300)
    with pytest.raises(CourseError, match="stride must be >= 1"):
        Sa.occlusion_map(lite0, x, t, stride=0)
    with pytest.raises(CourseError, match="did you mean"):
        Sa.grad_cam(lite0, x, t, layer="block.5")
    with pytest.raises(CourseError, match="batch of 2"):
        Sa.saliency_map(lite0, x.repeat(2, 1, 1, 1), t)
    with pytest.raises(CourseError, match="one image"):
        Sa.cam(lite0, x[0], t)


def _spy(monkeypatch):
    """Record the model that occlusion_map_local hands to occlusion_map."""
    seen, plain = [], Sa.occlusion_map
    monkeypatch.setattr(Sa, "occlusion_map", lambda model, *a, **k: seen.append(model) or plain(model, *a, **k))
    return seen, plain


def test_local_occlusion_equals_the_plain_one(lite0, cat, monkeypatch):
    x, t = cat
    small = torch.nn.functional.interpolate(x, size=(128, 128), mode="bilinear")
    seen, plain = _spy(monkeypatch)
    fast = Sa.occlusion_map_local(lite0, small, t, window=16, stride=12, baseline=0.3, batch_size=5)
    assert isinstance(seen[0], Sa.LocalForward) and seen[0].checked and not seen[0].plain, "the local path was not taken"
    assert torch.allclose(fast, plain(lite0, small, t, window=16, stride=12, baseline=0.3), atol=1e-5)


def test_local_forward_gives_the_models_logits_for_any_small_change(lite0, cat):
    from helpers import features as Fe
    x, t = cat
    small = torch.nn.functional.interpolate(x, size=(96, 96), mode="bilinear")
    local = Sa.LocalForward(lite0, small, "blocks.1", Fe.layer_receptive_field(lite0, "blocks.1", 96))
    g = torch.Generator().manual_seed(0)
    batch = small.repeat(4, 1, 1, 1)
    batch[0, :, 3:9, 70:81] = 0.0                                     # a small rectangle
    batch[1, 1, 50, 50] = 1.0 - batch[1, 1, 50, 50]                  # one value of one pixel
    batch[2] = torch.rand(3, 96, 96, generator=g)                    # everything: the plain way
    with torch.no_grad():
        assert torch.allclose(local(batch), lite0(batch), atol=1e-4) and not local.plain
        assert local.classes == lite0.classes          # anything else is the model's own


def test_plain_gradient_is_only_the_ordinary_gradient_of_a_channel(tiny):
    """Not a class score's gradient, and not inside guided(): those are the exercises' answers."""
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert Sa.plain_gradient(tiny, x, "act2", 1).shape == (3, 16, 16)
    with pytest.raises(CourseError, match="channel maps of a convolutional layer"):
        Sa.plain_gradient(tiny, x, "fc", 1)
    with Sa.guided(tiny), pytest.raises(CourseError, match="outside `with guided"):
        Sa.plain_gradient(tiny, x, "act2", 1)


def test_local_occlusion_falls_back_where_it_cannot_split(tiny, monkeypatch):
    x = torch.rand(1, 3, 16, 16)
    seen, plain = _spy(monkeypatch)
    got = Sa.occlusion_map_local(tiny, x, 0, window=4, stride=4)   # tiny_cnn has no 'blocks.1'
    assert seen == [tiny] and torch.allclose(got, plain(tiny, x, 0, window=4, stride=4))


def test_local_occlusion_without_notebook_1_says_so_and_gives_the_same_map(lite0, cat, monkeypatch, capsys):
    """Notebook 2 done, notebook 1 not: the fast path needs notebook 1's receptive_field, so
    the plain map is computed instead (same values), with one line naming the exercise."""
    from helpers import features as Fe
    from helpers import utils
    monkeypatch.setattr(utils, "_NOTES", set())
    stub = NotImplementedError(stub_message("receptive_field", "helpers/features.py"))
    monkeypatch.setattr(Fe, "receptive_field", lambda *a, **k: (_ for _ in ()).throw(stub))
    x, t = cat
    small = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear")
    got = Sa.occlusion_map_local(lite0, small, t, window=16, stride=16)
    out = capsys.readouterr().out
    assert "[note] occlusion_map_local needs notebook 1's exercise `receptive_field` (helpers/features.py)" in out
    assert torch.allclose(got, Sa.occlusion_map(lite0, small, t, window=16, stride=16))
    Sa.occlusion_map_local(lite0, small, t, window=16, stride=16)
    assert capsys.readouterr().out == "", "the note is printed once"
