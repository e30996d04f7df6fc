"""The model zoo: the default model offline, the wrapped interface, inputs, hooks, errors."""
import urllib.error

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from helpers import CourseError
from helpers.data import imagenet_sample_files, load_image, sample_image
from helpers.models import MODELS, image_to_array, load_model, tiny_cnn, to_image


def test_default_model_top1_on_imagenet_samples(lite0):
    files = imagenet_sample_files()
    correct = 0
    with torch.no_grad():
        for i in range(0, 1000, 50):
            x = lite0.to_input([str(f) for f in files[i:i + 50]])
            correct += (lite0(x).argmax(-1) == torch.arange(i, i + 50)).sum().item()
    assert correct / 1000 >= 0.85, f"top-1 {correct / 1000:.3f}"


def test_default_model_on_skimage_photos(lite0):
    cat = lite0.predict(lite0.to_input(sample_image("chelsea")))[0][0][0]
    assert cat in {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}
    assert lite0.predict(lite0.to_input(sample_image("coffee")))[0][0][0] == "espresso"


def test_default_model_is_frozen_and_eval(lite0):
    assert not lite0.training and not lite0.net.training
    assert not any(p.requires_grad for p in lite0.parameters())
    lite0.train()
    assert not lite0.training
    assert lite0.input_size == 224 and lite0.mean == (0.5,) * 3 and len(lite0.classes) == 1000
    assert lite0.main_layers[0] == "conv_stem" and "blocks.6" in lite0.main_layers
    assert lite0.layer_names.index("blocks.2") < lite0.layer_names.index("blocks.5")


def test_normalize_round_trip(lite0):
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(lite0.denormalize(lite0.normalize(x)), x, atol=1e-6)
    assert torch.allclose(lite0.normalize(torch.full((1, 3, 2, 2), 0.5)), torch.zeros(1, 3, 2, 2))


@pytest.mark.parametrize("kind", ["uint8", "gray", "gray1", "rgba", "uint16", "float", "pil", "pil16", "path", "tensor"])
def test_to_input_accepts_image_kinds(tiny, tmp_path, kind):
    rgb = (np.arange(16 * 16 * 3).reshape(16, 16, 3) % 256).astype(np.uint8)
    gray = rgb[..., 0]
    img = {
        "uint8": rgb, "gray": gray, "gray1": gray[..., None],
        "rgba": np.concatenate([rgb, np.full((16, 16, 1), 7, np.uint8)], -1),
        "uint16": rgb.astype(np.uint16) * 257, "float": rgb / 255.0,
        "pil": Image.fromarray(rgb), "pil16": Image.fromarray(gray.astype(np.uint16) * 257),
        "tensor": torch.from_numpy(rgb).permute(2, 0, 1) / 255.0,
    }.get(kind)
    if kind == "path":
        Image.fromarray(rgb).save(tmp_path / "a.png")
        img = tmp_path / "a.png"
    x = tiny.to_input(img)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32
    want = gray if kind in ("gray", "gray1", "pil16") else rgb
    want = np.stack([want] * 3, -1) if want.ndim == 2 else want
    assert np.abs(to_image(x).astype(int) - want).max() <= 1


@pytest.mark.parametrize("bad, words", [
    (np.zeros((4, 4, 5), np.uint8), "(H, W, 3)"),
    (np.zeros(10, np.uint8), "shape"),
    (np.full((8, 8, 3), 3.0), "[0, 1]"),
    (np.zeros((8, 8, 3), np.complex64), "dtype"),
    ("no/such/file.png", "no image file"),
    ({"a": 1}, "expected an image"),
    ([], "empty"),
])
def test_to_input_rejects_bad_images_clearly(tiny, bad, words):
    with pytest.raises(CourseError, match=None) as e:
        tiny.to_input(bad)
    assert words in str(e.value)


def test_to_input_rejects_broken_image_files(tiny, tmp_path):
    """Decoder errors are the course's one-sentence error: what was received, what is accepted."""
    from PIL import Image
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture\n")
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    cases = {"empty.jpg": "empty file (0 bytes)", "text.jpg": "not an image PIL recognizes",
             "cut.jpg": "truncated or corrupt", "bad.png": "not an image PIL recognizes", ".": "is a folder"}
    for name, words in cases.items():
        for read in (tiny.to_input, load_image):
            with pytest.raises(CourseError) as e:
                read(tmp_path / name)
            assert words in str(e.value) and "expected an image file PIL can read" in str(e.value), str(e.value)
    assert tiny.to_input(good).shape == (1, 3, 16, 16)


def test_to_input_size_rules(lite0):
    x = lite0.to_input(sample_image("astronaut"))          # 512 x 512 -> 256 -> centre 224
    assert x.shape == (1, 3, 224, 224)
    x = lite0.to_input(sample_image("coffee"), size=None)  # 400 x 600 kept
    assert x.shape == (1, 3, 400, 600)
    x = lite0.to_input([sample_image("coffee"), sample_image("chelsea")], size=(64, 80))
    assert x.shape == (2, 3, 64, 80)
    with pytest.raises(CourseError, match="different sizes"):
        lite0.to_input([sample_image("coffee"), sample_image("chelsea")], size=None)
    with pytest.raises(CourseError, match="at least 32 x 32"):
        lite0.to_input(np.zeros((10, 10, 3), np.uint8), size=None)


def test_forward_rejects_bad_batches(tiny):
    with pytest.raises(CourseError, match="add a batch dimension"):
        tiny(torch.rand(3, 16, 16))
    with pytest.raises(CourseError, match=r"\(N, 3, H, W\)"):
        tiny(torch.rand(1, 4, 16, 16))
    with pytest.raises(CourseError, match="to_input"):
        tiny(np.zeros((1, 3, 16, 16)))


def test_trace_records_activations_and_gradients_like_autograd(tiny):
    x = torch.rand(2, 3, 16, 16)
    with tiny.trace(["conv2", "act2"]) as t:
        x.requires_grad_(True)
        tiny(x)[:, 1].sum().backward()
    a = tiny.net.act1(tiny.net.conv1(x.detach()).clone())
    z = tiny.net.conv2(a).detach().requires_grad_(True)
    out = tiny.net.fc(tiny.net.flatten(tiny.net.pool(torch.relu(z))))
    out[:, 1].sum().backward()
    assert torch.allclose(t.activations["conv2"], z)
    assert torch.allclose(t.gradients["conv2"], z.grad, atol=1e-6)
    assert torch.allclose(t.activations["act2"], torch.relu(z))


def test_trace_is_safe_with_inplace_activations(tiny):
    # conv2's output is overwritten in place by act2 (ReLU(inplace=True)): the kept copy must not be
    x = torch.randn(1, 3, 16, 16)
    with tiny.trace("conv2") as t:
        tiny(x)
    assert (t.activations["conv2"] < 0).any(), "the recorded pre-ReLU output lost its negative values"


def test_trace_removes_hooks_even_when_the_body_raises(tiny):
    count = lambda: sum(len(m._forward_hooks) for m in tiny.modules())  # noqa: E731
    with pytest.raises(RuntimeError, match="boom"):
        with tiny.trace(["conv1", "act2"]):
            assert count() == 2
            raise RuntimeError("boom")
    assert count() == 0


def test_activations_stops_early_and_matches_full_pass(lite0):
    x = lite0.to_input(sample_image("chelsea"))
    acts = lite0.activations(x, ["blocks.1", "blocks.3"])
    assert acts["blocks.1"].shape == (1, 24, 56, 56) and acts["blocks.3"].shape == (1, 80, 14, 14)
    with lite0.trace("blocks.3") as t:
        lite0(x)
    assert torch.allclose(t.activations["blocks.3"], acts["blocks.3"])


def test_unknown_layer_suggests_close_names(lite0):
    with pytest.raises(CourseError, match="did you mean 'blocks.3'"):
        lite0.layer("block.3")
    with pytest.raises(CourseError, match="non-empty string"):
        lite0.layer("")


def test_class_index_by_name_and_errors(lite0):
    assert lite0.class_index("espresso") == 967
    assert lite0.class_index(3) == 3
    with pytest.raises(CourseError, match="did you mean 'espresso'"):
        lite0.class_index("expresso")
    with pytest.raises(CourseError, match="0..999"):
        lite0.class_index(1000)


def test_unknown_model_lists_known_ones():
    with pytest.raises(CourseError) as e:
        load_model("resnet1000")
    for name in MODELS:
        assert name in str(e.value)


def test_torchvision_model_offline_says_how_to_get_it(monkeypatch, tmp_path):
    import torch.hub
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache

    def no_network(*a, **k):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    with pytest.raises(CourseError, match="default model, which needs nothing"):
        load_model("resnet18")


def test_cifar_net_loads_by_name_and_is_accurate():
    from helpers.data import load_cifar10
    model = load_model("cifar_net")
    images, labels, classes = load_cifar10("test", per_class=50, progress=False)
    with torch.no_grad():
        pred = model(model.to_input(images)).argmax(-1).numpy()
    assert classes == model.classes
    assert (pred == labels).mean() >= 0.70


def test_image_to_array_rejects_nan():
    with pytest.raises(CourseError, match="NaN"):
        image_to_array(np.full((4, 4, 3), np.nan, np.float32))


def test_tiny_cnn_is_deterministic():
    a, b = tiny_cnn(seed=1), tiny_cnn(seed=1)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(a(x), b(x))
    assert isinstance(tiny_cnn(act=nn.ReLU6).net.act1, nn.ReLU6)


def test_cut_at_gives_the_layer_gradient_without_the_graph_below(tiny):
    x = torch.rand(2, 3, 16, 16)
    with tiny.trace("conv2") as t:
        xx = x.clone().requires_grad_(True)
        tiny(xx)[:, 2].sum().backward()
    with tiny.cut_at("conv2") as cut:
        out = tiny(x)
    assert not x.requires_grad and cut.leaf.is_leaf
    g, = torch.autograd.grad(out[:, 2].sum(), cut.leaf)
    assert torch.allclose(g, t.gradients["conv2"], atol=1e-6)
    assert torch.allclose(cut.leaf, t.activations["conv2"])   # act2 is in place: the leaf is untouched
    assert sum(len(m._forward_hooks) for m in tiny.modules()) == 0


@pytest.mark.parametrize("name, layer", [("efficientnet_lite0", "blocks.1"), ("efficientnet_lite0", "blocks.4"),
                                         ("cifar_net", "pool2")])
def test_run_from_a_layer_equals_the_full_forward(name, layer, lite0):
    model = lite0 if name == "efficientnet_lite0" else load_model(name)
    x = torch.rand(2, 3, model.input_size, model.input_size)
    with torch.no_grad():
        a = model.activations(x, layer)[layer]
        assert torch.allclose(model.run_from(layer, a), model(x), atol=1e-4)
    with pytest.raises(CourseError, match="cannot restart"):
        model.run_from("blocks.1.0" if name == "efficientnet_lite0" else "conv1.0", a)


def test_activations_with_graph_are_freed(tiny):
    """keep_graph=True in a loop (inversion, DeepDream) must not leak: the gradient hook may
    not hold the trace strongly (that cycle runs through the autograd graph, which Python's
    garbage collector cannot see)."""
    import gc
    import weakref
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    a = tiny.activations(x, "conv2", keep_graph=True)["conv2"]
    gone = weakref.ref(a)
    del a
    gc.collect()
    assert gone() is None
    with tiny.trace("conv2") as t:              # gradients are still recorded while the trace lives
        tiny(x)[0, 1].backward()
    assert t.gradients["conv2"].shape == (1, 8, 16, 16)
