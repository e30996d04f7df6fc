"""Notebook 3's library and the shared optimization loop: Captum's attacks as oracles,
properties of each regularizer, the loop's parts, and bad input."""
import pytest
import torch
import torch.nn.functional as F
from captum.robust import FGSM, PGD

from helpers import CourseError
from helpers import ascent as As
from helpers.optim import FourierImage, PixelImage, RandomTransforms, blur, optimize


def ce(out, t):
    return F.cross_entropy(out, t).reshape(1)   # our loss (mean over the batch), in the shape Captum takes


pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


def assert_same_attack(ours, ref):
    """Equal up to float noise: an element may differ only where the gradient is ~0 and its
    sign is a coin toss between two implementations (under 1% of the 3072 elements)."""
    differ = (ours - ref).abs() > 1e-6
    assert differ.float().mean() < 1e-2 and (ours - ref).abs().mean() < 2e-4


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 3, 16, 16, generator=g), torch.tensor([0, 1, 2, 1])


# ------------------------------------------------------------------ attacks vs Captum
@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_equals_captum(tiny, batch, targeted):
    x, y = batch
    ours = As.fgsm(tiny, x, y, eps=4 / 255, targeted=targeted)
    ref = FGSM(tiny, loss_func=ce, lower_bound=0, upper_bound=1).perturb(x, 4 / 255, y, targeted=targeted)
    assert_same_attack(ours, ref)
    assert not torch.allclose(ours, x)


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_equals_captum(tiny, batch, targeted):
    x, y = batch
    ours = As.pgd(tiny, x, y, eps=8 / 255, alpha=2 / 255, steps=7, targeted=targeted)
    ref = PGD(tiny, loss_func=ce, lower_bound=0, upper_bound=1).perturb(
        x, radius=8 / 255, step_size=2 / 255, step_num=7, target=y, targeted=targeted)
    assert_same_attack(ours, ref)
    assert (ours - x).abs().max() > 7 / 255


def test_attacks_stay_valid_on_lite0(lite0):
    from helpers.data import imagenet_sample_crops
    x = lite0.to_input(list(imagenet_sample_crops(every=250, progress=False)), size=None)
    y = torch.arange(0, 1000, 250)
    for eps in (1 / 255, 0.1):
        adv = As.pgd(lite0, x, y, eps=eps, steps=3, random_start=True)
        assert (adv - x).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    acc = As.accuracy_under_attack(lite0, x, y, [0, 2 / 255, 16 / 255], progress=False)
    with torch.no_grad():
        clean = (lite0(x).argmax(1) == y).float().mean().item()
    assert acc[0] == clean >= 0.5 and acc[2] < acc[0]
    accp = As.accuracy_under_attack(lite0, x, y, [0, 2 / 255], attack="pgd", steps=3, progress=False)
    assert accp[0] == acc[0] and accp[1] <= acc[1]             # PGD is at least as strong as FGSM


def test_targeted_pgd_reaches_target(tiny, batch):
    x, _ = batch
    adv = As.pgd(tiny, x, 2, eps=0.5, alpha=0.05, steps=40, targeted=True)
    assert (tiny(adv).argmax(1) == 2).all()


# ------------------------------------------------------------------ bad input
def test_attack_bad_input(tiny, batch):
    x, y = batch
    with pytest.raises(CourseError, match=r"\(0, 1\]"):
        As.fgsm(tiny, x, y, eps=8)                            # epsilon in grey levels, not pixel units
    with pytest.raises(CourseError, match="must be in"):
        As.pgd(tiny, x, y, eps=-0.1)
    with pytest.raises(CourseError, match="grey image"):
        As.fgsm(tiny, x[:, :1], y, eps=0.1)
    with pytest.raises(CourseError, match=r"\[0, 1\]"):
        As.fgsm(tiny, x * 255, y, eps=0.1)
    with pytest.raises(CourseError, match="steps must be >= 1"):
        As.pgd(tiny, x, y, eps=0.1, steps=0)
    with pytest.raises(CourseError, match="labels for 4 images"):
        As.fgsm(tiny, x, [0, 1], eps=0.1)


def test_unknown_class_name_suggests(lite0):
    with pytest.raises(CourseError, match="did you mean.*'flamingo'"):
        As.class_visualization(lite0, "flamingoo", steps=1, progress=False)
    with pytest.raises(CourseError, match="steps must be >= 0"):
        As.class_visualization(lite0, "flamingo", steps=-5, progress=False)
    with pytest.raises(CourseError, match="max_steps"):
        As.fooling_image(lite0, torch.rand(1, 3, 64, 64), "goldfish", max_steps=-1)


# ------------------------------------------------------------------ the shared loop
def test_blur_removes_high_frequencies():
    x = torch.zeros(1, 3, 32, 32)
    x[..., ::2, :] = 1.0                                       # the highest vertical frequency
    y = blur(x, 1.0)
    spec = lambda z: torch.fft.rfft2(z - z.mean()).abs()        # noqa: E731
    assert spec(y)[..., 16, 0].max() < 0.05 * spec(x)[..., 16, 0].max()
    assert torch.allclose(y.mean(), x.mean(), atol=1e-2)        # low frequencies (the mean) stay
    assert torch.equal(blur(x, 0), x)


def test_jitter_is_undone_by_the_loop():
    """A model that reads one fixed pixel: with jitter, the gradient lands on the pixel that
    was shifted there, i.e. the update is on the untransformed image."""
    class OnePixel(torch.nn.Module):
        def forward(self, x):
            return x[:, 0, 5, 5].sum()[None]
    p = PixelImage(torch.zeros(1, 3, 12, 12), clamp=False)
    t = RandomTransforms(jitter=3, seed=1)
    shifts = []
    orig = t._int

    def spy(n):
        v = orig(n)
        shifts.append(v)
        return v
    t._int = spy
    optimize(p, lambda x: -OnePixel()(x).sum(), 1, lr=1.0, optimizer="sgd", transform=t, progress=False)
    dy, dx = shifts
    changed = p.delta.detach()[0, 0].nonzero().tolist()
    assert changed == [[(5 - dy) % 12, (5 - dx) % 12]]


def test_loop_parts_and_snapshots():
    target = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    p = PixelImage(torch.full((1, 3, 8, 8), 0.5))
    calls = []
    r = optimize(p, lambda x: ((x - target) ** 2).sum(), 20, lr=0.05, snapshots=3, progress=False,
                 after_step=lambda s, q: calls.append(s))
    assert r.steps == 20 and len(r.losses) == 20 and r.losses[-1] < 0.2 * r.losses[0]
    assert [s for s, _ in r.snapshots] == [0, 10, 20] and calls == list(range(20))
    assert r.image.min() >= 0 and r.image.max() <= 1 and not r.image.requires_grad
    imgs, titles = r.strip()
    assert len(imgs) == 3 and titles[-1] == "step 20"
    # early stop: ends at the step where stop() is true, and the last snapshot is that image
    p2 = PixelImage(torch.full((1, 3, 8, 8), 0.5))
    r2 = optimize(p2, lambda x: ((x - target) ** 2).sum(), 50, lr=0.05, progress=False, snapshots=[0],
                  stop=lambda s, im, loss: s == 6)
    assert r2.steps == 7 and len(r2.losses) == 7 and r2.snapshots[-1][0] == 7


def test_lbfgs_and_penalty():
    target = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    p = PixelImage(torch.full((1, 3, 8, 8), 0.5))
    r = optimize(p, lambda x: ((x - target) ** 2).sum(), 3, lr=1, optimizer="lbfgs", progress=False)
    assert r.losses[-1] < 1e-3 * r.losses[0] + 1e-9 or r.losses[-1] < 1e-4
    pen = optimize(PixelImage(torch.full((1, 3, 8, 8), 0.5)), lambda x: ((x - target) ** 2).sum(), 60, lr=0.05,
                   penalty=lambda im: 10 * ((im - 0.5) ** 2).sum(), progress=False)
    assert ((pen.image - 0.5).abs().mean() < (r.image - 0.5).abs().mean())


def test_fourier_image_is_valid_and_smooth():
    f = FourierImage(32, seed=0)
    img = f()
    assert img.shape == (1, 3, 32, 32) and img.min() > 0 and img.max() < 1
    with torch.no_grad():
        f.spectrum.normal_(0, 1)
    img = f()
    spec = torch.fft.rfft2(img - img.mean()).abs().mean((0, 1))
    assert spec[1:4, 1:4].mean() > 3 * spec[12:16, 12:16].mean()    # 1/f: low frequencies dominate


def test_loop_bad_input():
    p = PixelImage(torch.zeros(1, 3, 4, 4))
    with pytest.raises(CourseError, match="did you mean 'adam'"):
        optimize(p, lambda x: x.sum(), 1, optimizer="adma")
    with pytest.raises(CourseError, match="steps must be"):
        optimize(p, lambda x: x.sum(), -1)
    with pytest.raises(CourseError, match="single-number"):
        optimize(p, lambda x: x, 1, progress=False)
    with pytest.raises(CourseError, match="lr must be"):
        optimize(p, lambda x: x.sum(), 1, lr=0)
    with pytest.raises(CourseError, match="lower the learning rate"):
        optimize(PixelImage(torch.zeros(1, 3, 4, 4), clamp=False), lambda x: (x * float("inf")).sum(), 1,
                 optimizer="sgd", progress=False)
    with pytest.raises(CourseError, match="RGB images"):
        PixelImage(torch.zeros(1, 1, 4, 4))


# ------------------------------------------------------------------ visualizations
def test_class_visualization_regularizers_on_tiny(tiny):
    plain = As.class_visualization(tiny, 1, steps=15, size=16, lr=0.02, progress=False)
    assert plain.losses[-1] < plain.losses[0]                    # the class score went up
    l2 = As.class_visualization(tiny, 1, steps=15, size=16, lr=0.02, l2=5.0, progress=False)
    base = As.neutral_image(tiny, 16)
    assert (l2.image - base).norm() < (plain.image - base).norm()
    clipped = As.class_visualization(tiny, 1, steps=10, size=16, lr=0.02, clip_value=50, clip_every=10,
                                     progress=False)
    zero = lambda r: ((r.image - base).abs().sum(1) == 0).float().mean()   # noqa: E731
    assert zero(clipped) >= zero(plain) + 0.3          # pixels below the median (ties kept) reset
    jit = As.class_visualization(tiny, 1, steps=15, size=16, lr=0.02, jitter=2, progress=False)
    assert jit.losses[-1] < jit.losses[0]


def test_class_visualization_batch_equals_one_by_one(tiny):
    kw = dict(steps=12, size=16, lr=0.02, l2=0.5, blur_every=3, clip_value=30, clip_grad=20, clip_every=4,
              progress=False)
    both = As.class_visualization(tiny, [2, 0], **kw)
    assert both.image.shape == (2, 3, 16, 16)
    for i, t in enumerate([2, 0]):
        one = As.class_visualization(tiny, t, **kw)
        assert torch.allclose(both.image[i], one.image[0], atol=1e-5)
    with pytest.raises(CourseError, match="empty list"):
        As.class_visualization(tiny, [], progress=False)


def test_channel_objective_and_fourier(tiny):
    obj = As.channel_objective(tiny, "conv2", 3)
    r = As.fourier_visualization(tiny, obj, steps=20, size=16, lr=0.05, progress=False)
    assert r.losses[-1] < r.losses[0]
    with pytest.raises(CourseError, match="has 8 channels"):
        As.channel_objective(tiny, "conv2", 8)


def test_facet_starts_matches_sklearn():
    from sklearn.cluster import KMeans
    g = torch.Generator().manual_seed(0)
    feats = torch.cat([torch.randn(6, 4, generator=g) + 5, torch.randn(9, 4, generator=g) - 5,
                       torch.randn(3, 4, generator=g) * 0.1])
    imgs = torch.rand(18, 3, 4, 4, generator=g)
    means, labels = As.facet_starts(imgs, feats, 3)
    assert labels.bincount().tolist() == [9, 6, 3]
    ref = KMeans(3, n_init=10, random_state=0).fit_predict(feats.double().numpy())
    for c in range(3):  # the same partition as scikit-learn's
        assert len(set(ref[(labels == c).numpy()])) == 1
        assert torch.allclose(means[c], imgs[labels == c].mean(0))
    with pytest.raises(CourseError, match="cannot make 20 clusters"):
        As.facet_starts(imgs, feats, 20)
