"""Notebook 5's library: exact small cases, the properties of the issue's checks list,
the shipped networks, and clear errors for bad input."""
import gc

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import CourseError
from helpers import style as St
from helpers import stylenet as Sn
from helpers.data import sample_image


# ---------------------------------------------------------------- Efros-Leung
def test_neighbourhood_ssd_equals_a_loop():
    g = torch.Generator().manual_seed(0)
    P, nb, w = torch.rand(300, 27, generator=g), torch.rand(27, generator=g), torch.rand(27, generator=g)
    m = (torch.rand(27, generator=g) > 0.5).float()
    want = torch.stack([(w * m * (p - nb) ** 2).sum() / (w * m).sum() for p in P])
    assert torch.allclose(St.neighbourhood_ssd(P, nb, m, w), want, atol=1e-5)


def test_neighbourhood_ssd_bad_shapes():
    with pytest.raises(CourseError, match=r"mask must be a tensor of shape \(4,\)"):
        St.neighbourhood_ssd(torch.rand(5, 4), torch.rand(4), torch.ones(3), torch.ones(4))


def test_pick_match_is_seeded_and_respects_eps():
    d = torch.tensor([0.0, 3.0, 0.0, 1.0])
    assert {St.pick_match(d, 0.5, torch.Generator().manual_seed(s)) for s in range(40)} == {0, 2}
    with pytest.raises(CourseError, match="eps"):
        St.pick_match(d, -1)


def test_efros_leung_tiny_checkerboard_is_deterministic():
    sample = (np.indices((9, 9)).sum(0) % 2).astype(np.float32)      # a checkerboard
    out = St.efros_leung(sample, (7, 8), window=3, eps=0.0, seed=3, progress=False)
    assert out.shape == (7, 8) and out.dtype == np.float32
    assert (out[1:] != out[:-1]).all() and (out[:, 1:] != out[:, :-1]).all()   # still a checkerboard
    again = St.efros_leung(sample, (7, 8), window=3, eps=0.0, seed=3, progress=False)
    assert np.array_equal(out, again)


def test_efros_leung_copies_pixels_of_the_sample():
    grey = sample_image("brick")[:24, :24]
    out = St.efros_leung(grey, 20, window=7, progress=False)
    assert out.shape == (20, 20) and out.dtype == np.uint8
    assert set(np.unique(out)) <= set(np.unique(grey))
    rgb = sample_image("chelsea")[100:120, 150:170]
    out = St.efros_leung(rgb, 16, window=5, progress=False)
    pixels = {tuple(p) for p in rgb.reshape(-1, 3)}
    assert out.shape == (16, 16, 3) and all(tuple(p) in pixels for p in out.reshape(-1, 3))


def test_efros_leung_bad_input():
    with pytest.raises(CourseError, match="odd"):
        St.efros_leung(np.zeros((20, 20)), 10, window=4)
    with pytest.raises(CourseError, match="does not fit"):
        St.efros_leung(np.zeros((8, 8)), 10, window=11)


# ---------------------------------------------------------------- Gram and losses
def test_gram_exact_and_size_independent():
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    assert torch.equal(St.gram_matrix(f), torch.tensor([[[7.5, 1.5], [1.5, 0.5]]]))
    tiled = f.repeat(1, 1, 3, 5)                       # the same statistics on a larger map
    assert torch.allclose(St.gram_matrix(tiled), St.gram_matrix(f))


def test_content_loss_zero_for_identical_and_exact():
    f = torch.randn(2, 5, 3, 3)
    assert float(St.content_loss(f, f.clone())) == 0.0
    assert float(St.content_loss(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))) == 1.0
    with pytest.raises(CourseError, match="same"):
        St.content_loss(f, f[..., :2])


def test_style_loss_invariant_to_spatial_permutation():
    f = {"a": torch.randn(1, 4, 6, 7), "b": torch.randn(1, 3, 5, 5)}
    t = {"a": torch.randn(4, 4), "b": torch.randn(3, 3)}
    w = {"a": 0.3, "b": 2.0}
    perm = {k: v.flatten(2)[..., torch.randperm(v[0, 0].numel())].view_as(v) for k, v in f.items()}
    assert torch.allclose(St.style_loss(f, t, w), St.style_loss(perm, t, w), rtol=1e-5)
    assert float(St.style_loss(f, {k: St.gram_matrix(v)[0] for k, v in f.items()}, w)) < 1e-10


def test_style_loss_bad_input():
    with pytest.raises(CourseError, match="no features for the target layers"):
        St.style_loss({"a": torch.rand(1, 2, 3, 3)}, {"b": torch.rand(2, 2)})


def test_blend_grams_weights():
    a, b = {"x": torch.ones(2, 2)}, {"x": torch.zeros(2, 2)}
    assert torch.allclose(St.blend_grams([a, b], [3, 1])["x"], torch.full((2, 2), 0.75))
    assert torch.equal(St.blend_grams([a, b], [0, 2])["x"], b["x"])
    with pytest.raises(CourseError, match="got 3 style weights for 2 styles"):
        St.blend_grams([a, b], [1, 1, 1])
    with pytest.raises(CourseError, match="all zero"):
        St.blend_grams([a, b], [0, 0])
    with pytest.raises(CourseError, match=">= 0"):
        St.blend_grams([a, b], [1, -1])


# ---------------------------------------------------------------- optimization on Lite0
def test_features_match_activations_and_keep_nothing_alive(lite0):
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    ours = St.features(lite0, x, ["bn1", "blocks.2"])
    ref = lite0.activations(x.detach(), ["bn1", "blocks.2"])
    assert all(torch.allclose(ours[k], ref[k], atol=1e-6) for k in ref) and ours["bn1"].requires_grad

    def live():
        return sum(1 for o in gc.get_objects() if type(o) is torch.Tensor)
    for i in range(3):
        sum(v.sum() for v in St.features(lite0, x, ["bn1", "blocks.2"]).values()).backward()
        gc.collect()
        if i == 0:
            n = live()
    assert live() == n


def test_gatys_lowers_its_loss_and_blending_errors(lite0):
    content = sample_image("chelsea")[:, 50:350]
    style = sample_image("brick")
    r = St.gatys(lite0, content, style, size=64, steps=8, lr=0.05, progress=False)
    assert r.image.shape == (1, 3, 64, 64) and 0 <= float(r.image.min()) and float(r.image.max()) <= 1
    assert r.losses[-1] < r.losses[0]
    rl = St.gatys(lite0, content, style, size=64, steps=2, lr=1.0, optimizer="lbfgs", progress=False)
    assert rl.losses[-1] < r.losses[0]
    with pytest.raises(CourseError, match="got 1 style weights for 2 styles"):
        St.gatys(lite0, content, [style, content], [1.0], size=64, steps=1)
    with pytest.raises(CourseError, match="all zero"):
        St.gatys(lite0, content, [style, content], [0, 0], size=64, steps=1)
    with pytest.raises(CourseError, match="did you mean 'blocks.3'"):
        St.gatys(lite0, content, style, content_layer="block.3", size=64, steps=1)


def test_gatys_without_notebook_4_runs_without_the_smoothness_term(lite0, monkeypatch, capsys):
    """Notebook 5 done, notebook 4 not: Gatys and the training leave out the TV term and say so."""
    from helpers import utils
    from authoring.conventions import stub_message
    monkeypatch.setattr(utils, "_NOTES", set())

    def stub(*a, **k):
        raise NotImplementedError(stub_message("total_variation", "helpers/inversion.py"))
    monkeypatch.setattr(St, "total_variation", stub)
    content, style = sample_image("chelsea")[:, 50:350], sample_image("brick")
    r = St.gatys(lite0, content, style, size=64, steps=3, lr=0.05, progress=False)
    assert r.losses[-1] < r.losses[0]
    assert "[note] gatys uses notebook 4's exercise `total_variation` (helpers/inversion.py)" in capsys.readouterr().out
    net = Sn.TransformerNet(channels=(4, 8, 8), res_blocks=1)
    Sn.train_stylizer(net, lite0, style, np.stack([content[:64, :64]] * 2), steps=1, batch_size=1, size=32,
                      progress=False)
    assert "[note] train_stylizer uses notebook 4's exercise `total_variation`" in capsys.readouterr().out
    monkeypatch.setattr(St, "total_variation", lambda x: (_ for _ in ()).throw(NotImplementedError("mine")))
    with pytest.raises(NotImplementedError, match="mine"):    # not a stub: a real error passes through
        St.gatys(lite0, content, style, size=64, steps=1, progress=False)


def test_texture_synthesis_lowers_its_loss(lite0):
    r = St.synthesize_texture(lite0, sample_image("gravel"), ["bn1", "blocks.1"], size=48, steps=6, progress=False)
    assert r.image.shape == (1, 3, 48, 48) and r.losses[-1] < r.losses[0]


# ---------------------------------------------------------------- instance norm and the networks
def test_instance_norm_zero_mean_unit_variance_and_modules_agree():
    x = torch.randn(2, 5, 7, 9) * 4 + 3
    y = St.instance_norm(x)
    assert torch.allclose(y.mean((2, 3)), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(y.var((2, 3), unbiased=False), torch.ones(2, 5), atol=1e-3)
    m, ref = St.InstanceNorm(5), nn.InstanceNorm2d(5, affine=True)
    with torch.no_grad():
        m.weight.uniform_(0.5, 2)
        m.bias.uniform_(-1, 1)
        ref.weight.copy_(m.weight)
        ref.bias.copy_(m.bias)
    assert torch.allclose(m(x), ref(x), atol=1e-5)
    assert torch.allclose(m(x), St.instance_norm(x) * m.weight[:, None, None] + m.bias[:, None, None], atol=1e-5)


def test_conditional_instance_norm_one_hot_is_plain_instance_norm():
    cin = St.ConditionalInstanceNorm(4, 3)
    with torch.no_grad():
        cin.gamma.normal_()
        cin.beta.normal_()
    x = torch.randn(2, 4, 6, 6)
    for s in range(3):
        plain = St.InstanceNorm(4)
        with torch.no_grad():
            plain.weight.copy_(cin.gamma[s])
            plain.bias.copy_(cin.beta[s])
        assert torch.allclose(cin(x, F.one_hot(torch.tensor(s), 3).float()), plain(x), atol=1e-5)
    with pytest.raises(CourseError, match=r"style weights \(N, 3\)"):
        cin(x, torch.ones(2))


@pytest.mark.parametrize("norm", ["instance", "batch", "conditional"])
def test_transformer_output_is_a_valid_image_of_the_input_size(norm):
    net = Sn.TransformerNet(norm=norm, n_styles=2 if norm == "conditional" else 1).eval()
    x = torch.rand(2, 3, 37, 50)
    style = torch.tensor([0.3, 0.7]) if norm == "conditional" else None
    with torch.no_grad():
        y = net(x, style)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1


def test_content_smaller_than_the_stride_is_a_clear_error():
    net = Sn.TransformerNet()
    with pytest.raises(CourseError, match="total stride"):
        net(torch.rand(1, 3, 5, 40))


@pytest.mark.parametrize("name", Sn.STYLIZERS)
def test_shipped_networks_load_and_stylize(name):
    net = Sn.load_stylizer(name)
    assert not net.training and Sn.stylizer_path(name).stat().st_size < 1_000_000
    photo = sample_image("astronaut")[::8, ::8][:, :50]            # 64 x 50
    y = Sn.stylize(net, photo, style=St.STYLES[1] if name == "conditional" else None)
    assert y.shape == (1, 3, 64, 50) and 0 <= float(y.min()) and float(y.max()) <= 1
    assert float((y - St.to_pixels(photo)).abs().mean()) > 0.05      # it changed the photo


def test_conditional_network_styles_and_mixing():
    net = Sn.load_stylizer("conditional")
    photo = sample_image("coffee")[::10, ::10]
    by_name = Sn.stylize(net, photo, style="the_scream")
    assert torch.allclose(by_name, Sn.stylize(net, photo, style=1), atol=1e-6)
    assert torch.allclose(by_name, Sn.stylize(net, photo, style={"the_scream": 2.0}), atol=1e-6)
    assert torch.allclose(Sn.stylize(net, photo, style=[1, 1, 0, 0]),
                          Sn.stylize(net, photo, style={"starry_night": 0.5, "the_scream": 0.5}), atol=1e-6)
    with pytest.raises(CourseError, match="did you mean 'the_scream'"):
        Sn.stylize(net, photo, style="the_scram")
    with pytest.raises(CourseError, match="got 2 style weights for 4 styles"):
        Sn.stylize(net, photo, style=[1, 0])
    with pytest.raises(CourseError, match="all zero"):
        Sn.stylize(net, photo, style=[0, 0, 0, 0])
    with pytest.raises(CourseError, match="pass style="):
        Sn.stylize(net, photo)


def test_unknown_stylizer_suggests_close_names():
    with pytest.raises(CourseError, match="did you mean 'starry_night'"):
        Sn.load_stylizer("starry-night")


def test_train_stylizer_runs_and_save_load_round_trip(lite0, tmp_path, monkeypatch):
    net = Sn.TransformerNet((4, 8, 8), 1, norm="conditional", n_styles=2, styles=["a", "b"])
    contents = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 3), dtype=np.uint8)
    styles = [sample_image("brick"), sample_image("grass")]
    losses = Sn.train_stylizer(net, lite0, styles, contents, steps=3, batch_size=2, size=32, log_every=1,
                               progress=False)
    assert len(losses) == 3 and all(np.isfinite(losses)) and not net.training
    monkeypatch.setattr(Sn, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(Sn, "stylizer_path", lambda n: tmp_path / f"style_{n}.pt")
    Sn.save_stylizer(net, tmp_path / "style_conditional.pt", {"seconds": 1})
    back = Sn.load_stylizer("conditional")
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(back(x, "b"), net.half().float()(x, "b"), atol=1e-4)
    with pytest.raises(CourseError, match="2 style"):
        Sn.train_stylizer(net, lite0, styles[:1], contents, steps=1)
