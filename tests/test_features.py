"""Notebook 1's library against trusted oracles and real models, plus its bad-input errors."""
import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from helpers import CourseError
from helpers import features as Fe
from helpers.models import WrappedModel, tiny_cnn


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_nearest_neighbors_match_sklearn(metric):
    rng = np.random.default_rng(0)
    db, q = rng.normal(size=(200, 16)), rng.normal(size=(20, 16))
    d, i = Fe.nearest_neighbors(torch.tensor(q), torch.tensor(db), k=7, metric=metric)
    nn_ = NearestNeighbors(n_neighbors=7, metric="euclidean" if metric == "l2" else "cosine").fit(db)
    d2, i2 = nn_.kneighbors(q)
    assert np.array_equal(i.numpy(), i2)
    assert np.allclose(d.numpy(), d2, atol=1e-6)


def test_pca_matches_sklearn_up_to_sign():
    x = np.random.default_rng(1).normal(size=(100, 12)) @ np.random.default_rng(2).normal(size=(12, 12))
    r = Fe.pca(torch.tensor(x), 4)
    ref = PCA(4).fit(x)
    signs = np.sign((r.components.numpy() * ref.components_).sum(1))
    assert np.allclose(r.components.numpy() * signs[:, None], ref.components_, atol=1e-4)
    assert np.allclose(r.explained_variance_ratio.numpy(), ref.explained_variance_ratio_, atol=1e-5)
    assert np.allclose(r.projection.numpy() * signs, ref.transform(x), atol=1e-3)


def _hand_net():
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 1, 3, padding=1, bias=False))
    net.add_module("pool", nn.MaxPool2d(2))
    net.add_module("conv2", nn.Conv2d(1, 1, 3, padding=1, bias=False))
    with torch.no_grad():
        net.conv1.weight.fill_(1.0)
        net.conv2.weight.fill_(1.0)
    return WrappedModel("hand", net, ["x"], 16, (0.0,) * 3, (1.0,) * 3, "conv2", "conv2", "conv2", resize=(16, 16), min_size=4)


def test_receptive_field_of_a_hand_built_net_is_exact_and_matches_the_gradient():
    model = _hand_net()
    assert Fe.conv_geometry(model, "conv2") == [(3, 1, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1)]
    rf = Fe.layer_receptive_field(model, "conv2")
    assert rf == (8, 2, -3)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    with model.trace("conv2", keep_graph=True) as t:
        model(x)
    t.activations["conv2"][0, 0, 4, 3].backward()
    rows, cols = (x.grad[0].abs().sum(0) > 0).nonzero().T
    assert (rows.min().item(), rows.max().item()) == (rf.offset + 4 * 2, rf.offset + 4 * 2 + rf.size - 1)
    assert (cols.min().item(), cols.max().item()) == (rf.offset + 3 * 2, rf.offset + 3 * 2 + rf.size - 1)


@pytest.mark.parametrize("layer", ["conv_stem", "blocks.1", "blocks.3"])
def test_receptive_field_of_efficientnet_matches_the_gradient(lite0, layer):
    rf = Fe.layer_receptive_field(lite0, layer)
    x = torch.rand(1, 3, 224, 224, requires_grad=True)
    with lite0.trace(layer, keep_graph=True) as t:
        lite0(x)
    a = t.activations[layer]
    i = a.shape[-1] // 2
    a[0, :, i, i].sum().backward()
    rows, cols = (x.grad[0].abs().sum(0) > 0).nonzero().T
    lo, hi = rf.offset + i * rf.stride, rf.offset + i * rf.stride + rf.size - 1
    assert (rows.min().item(), rows.max().item()) == (lo, hi)
    assert (cols.min().item(), cols.max().item()) == (lo, hi)


def test_max_activating_patches_on_hand_net_finds_the_bright_square():
    model = _hand_net()
    images = np.zeros((5, 16, 16, 3), np.uint8)
    images[3, 8:10, 4:6] = 255           # a bright square in image 3
    images[1, 0, 0] = 100
    out, rf = Fe.max_activating_patches(model, images, "conv2", [0], k=2, progress=False)
    patches, vals = out[0]
    assert patches.shape == (2, 8, 8, 3) and vals[0] > vals[1]
    assert patches[0].max() == 255 and patches[0].sum() == images[3].sum()   # the whole square inside the field


def test_extract_features_equals_trace_on_lite0(lite0):
    from helpers.data import sample_image
    imgs = [sample_image("chelsea"), sample_image("coffee")]
    f = Fe.extract_features(lite0, imgs, progress=False)
    assert f.shape == (2, 1280)
    with torch.no_grad():
        with lite0.trace("global_pool") as t:
            lite0(lite0.to_input(imgs))
    assert torch.allclose(f, t.activations["global_pool"], atol=1e-5)


def test_embed_2d_is_seeded():
    x = torch.tensor(np.random.default_rng(0).normal(size=(60, 8)), dtype=torch.float32)
    for m in ["pca", "tsne"]:
        a, b = Fe.embed_2d(x, m), Fe.embed_2d(x, m)
        assert a.shape == (60, 2) and np.allclose(a, b)
    with pytest.raises(CourseError, match="'pca', 'tsne' or 'umap'"):
        Fe.embed_2d(x, "mds")


def test_bad_input_is_explained():
    db = torch.rand(5, 3)
    with pytest.raises(CourseError, match="only 5 candidate"):
        Fe.nearest_neighbors(torch.rand(2, 3), db, k=6)
    with pytest.raises(CourseError, match="4 features but the database has 3"):
        Fe.pairwise_distances(torch.rand(2, 4), db)
    with pytest.raises(CourseError, match="NaN"):
        Fe.pairwise_distances(torch.tensor([[float("nan")] * 3]), db)
    with pytest.raises(CourseError, match="empty"):
        Fe.pairwise_distances(torch.zeros(0, 3), db)
    with pytest.raises(CourseError, match="no images"):
        Fe.extract_features(tiny_cnn(), [], progress=False)
    with pytest.raises(CourseError, match="did you mean"):
        Fe.extract_features(tiny_cnn(), np.zeros((1, 16, 16, 3), np.uint8), layer="conv3", progress=False)
    with pytest.raises(CourseError, match="channel must be an integer in 0..1"):
        Fe.top_activations(torch.zeros(3, 2, 2, 2), channel=2)
    with pytest.raises(CourseError, match="channels 0..0"):
        Fe.max_activating_patches(_hand_net(), np.zeros((2, 16, 16, 3), np.uint8), "conv2", [1], k=1, progress=False)
    with pytest.raises(CourseError, match="k must be"):
        Fe.nearest_neighbors(torch.rand(2, 3), db, k=0)
    with pytest.raises(CourseError, match=r"\(C_out, 3, kH, kW\)"):
        Fe.normalize_filters(torch.rand(4, 1, 3, 3))
