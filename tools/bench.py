"""Benchmarks: ours against peer libraries, side by side in one run, plus notebook times.

    bash course.sh bench                 # techniques + solved notebooks (full mode)
    bash course.sh bench --quick         # techniques only
    bash course.sh bench --with-tests    # also time the whole test suite
    bash course.sh bench --only imports  # one section; the others are kept from BENCHMARKS.md

Prints a table of medians and ratios (ours / peer; below 1 means ours is faster) and
writes everything to BENCHMARKS.md with the machine and the date. Every row also checks
that ours and the peer agree where their definitions coincide, so a fast wrong answer
cannot win. Not part of the test run.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch  # noqa: E402

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
torch.set_num_threads(THREADS)


def row(rows, name, ours, peer_name, peer, agree, repeat=9, warmup=True):
    """Time ours and the peer alternately (ABAB...), after one warm-up each, so that drift of
    the machine's speed hits both alike; report the medians."""
    if warmup:
        ours(), peer()
    t_ours, t_peer = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        a = ours()
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = peer()
        t_peer.append(time.perf_counter() - t)
    ok = bool(agree(a, b))
    t_ours, t_peer = statistics.median(t_ours), statistics.median(t_peer)
    rows.append((name, t_ours, peer_name, t_peer, t_ours / t_peer, ok, str(repeat)))
    print(f"{name:38s} {t_ours * 1000:9.1f} ms | {peer_name:34s} {t_peer * 1000:9.1f} ms | "
          f"ratio {t_ours / t_peer:5.2f} | agree {ok}", flush=True)


def techniques():
    import warnings
    warnings.filterwarnings("ignore")
    import torchvision
    from captum.attr import GuidedBackprop, LayerGradCam, Occlusion, Saliency
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from helpers import saliency as Sa
    from helpers.data import sample_image
    from helpers.models import IMAGENET_MEAN, IMAGENET_STD, WrappedModel, imagenet_classes, load_model

    model = load_model()
    x = model.to_input(sample_image("chelsea"))
    t = int(model(x).argmax())
    rows = []

    def captum_saliency():
        return Saliency(model).attribute(x.clone().requires_grad_(True), target=t, abs=True).amax(1)[0]
    row(rows, "saliency (Lite0, 224 px)", lambda: Sa.saliency_map(model, x, t),
        "Captum Saliency + max over RGB", captum_saliency, lambda a, b: torch.allclose(a, b, atol=1e-6), repeat=21)

    # guided backprop needs a plain-ReLU network for the peer to be correct: ResNet-18
    # (random weights: the timing and the agreement do not depend on them)
    torch.manual_seed(0)
    r18 = WrappedModel("resnet18", torchvision.models.resnet18(weights=None), imagenet_classes(), 224,
                       IMAGENET_MEAN, IMAGENET_STD, "avgpool", "layer4", "fc")
    row(rows, "guided backprop (ResNet-18, ReLU)", lambda: Sa.guided_backprop(r18, x, target=t),
        "Captum GuidedBackprop", lambda: GuidedBackprop(r18).attribute(x.clone().requires_grad_(True), target=t)[0],
        lambda a, b: torch.allclose(a, b, atol=1e-5), repeat=21)

    def pgc():
        with GradCAM(model=model, target_layers=[model.layer("bn2")]) as gc:
            return gc(input_tensor=x.clone().requires_grad_(True), targets=[ClassifierOutputTarget(t)])[0]

    def ours_gc_scaled():
        m = Sa.upsample(Sa.grad_cam(model, x, t), (224, 224)).numpy()
        return (m - m.min()) / (m.max() - m.min() + 1e-7)
    import numpy as np
    row(rows, "Grad-CAM (Lite0 bn2, upsampled+scaled)", ours_gc_scaled, "pytorch-grad-cam GradCAM", pgc,
        lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99, repeat=21)
    row(rows, "Grad-CAM (Lite0 bn2)", lambda: Sa.grad_cam(model, x, t),
        "Captum LayerGradCam (relu)",
        lambda: LayerGradCam(model, model.layer("bn2")).attribute(x.clone().requires_grad_(True), target=t,
                                                                   relu_attributions=True)[0, 0],
        lambda a, b: torch.allclose(a, b, atol=1e-5), repeat=21)

    prob = lambda z: model(z).softmax(-1)  # noqa: E731
    captum = {ppe: (lambda ppe=ppe: Occlusion(prob).attribute(
        x, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8), baselines=0.5, target=t,
        perturbations_per_eval=ppe)[0, 0]) for ppe in (1, 16)}
    same = lambda a, b: torch.allclose(a, b, atol=1e-5)  # noqa: E731
    local = lambda: Sa.occlusion_map_local(model, x, t, 16, 8)  # noqa: E731
    batched = lambda: Sa.occlusion_map(model, x, t, 16, 8)  # noqa: E731
    row(rows, "occlusion, local recompute (16/8, 224 px)", local, "Captum Occlusion, default call", captum[1], same, repeat=3)
    row(rows, "occlusion, local recompute (16/8, 224 px)", local, "Captum Occlusion, 16 per eval", captum[16], same, repeat=3)
    row(rows, "occlusion, exercise version, batched", batched, "Captum Occlusion, default call", captum[1], same, repeat=3)
    rows += optimization_rows(model)
    rows += style_rows(model)
    return rows


def style_rows(model):
    """Notebook 5: Efros-Leung against a per-candidate loop, Gatys against the PyTorch
    tutorial's way of writing it, fast style transfer against Gatys."""
    import copy

    import numpy as np
    import torch.nn as nn
    import torch.nn.functional as F
    from skimage import data as skdata

    from helpers import style as St
    from helpers import stylenet as Sn
    from helpers.inversion import total_variation
    rows = []

    # -- Efros-Leung, 64 -> 128 px: ours in full; the per-candidate loop timed on 5 pixels, extrapolated
    sample = skdata.brick()[:64, :64]
    s = torch.from_numpy(sample.astype(np.float32) / 255)[None]
    patches, _ = St.sample_patches(s, 11)
    w = St.gaussian_window(11).flatten()
    gen = torch.Generator().manual_seed(0)
    mask = (torch.rand(121, generator=gen) < 0.5).float()
    hood = torch.rand(121, generator=gen)

    def loop_distances():
        a = w * mask
        return torch.stack([(a * (patches[p] - hood) ** 2).sum() / a.sum() for p in range(len(patches))])
    t = time.perf_counter()
    St.efros_leung(sample, 128, window=11, progress=False)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(5):
        ref = loop_distances()
    t_peer = (time.perf_counter() - t) / 5 * (128 * 128 - 9)
    ok = bool(torch.allclose(St.neighbourhood_ssd(patches, hood, mask, w), ref, atol=1e-5))
    rows.append(("Efros-Leung 64 -> 128 px (brick, window 11)", t_ours,
                 "per-candidate loop, 5 pixels timed, extrapolated", t_peer, t_ours / t_peer, ok, "1 / 5 px"))
    print(f"Efros-Leung: ours {t_ours:.1f} s, loop extrapolated {t_peer:.0f} s, ratio {t_ours / t_peer:.4f}, agree {ok}")

    # -- Gatys, 256 px, 300 Adam steps: ours (the shared loop) against loss modules in a copy of the net
    from helpers.data import content_image, style_image
    content, style = content_image(), style_image("starry_night")
    steps = 300

    def ours_gatys(steps=steps):
        return St.gatys(model, content, style, size=256, steps=steps, progress=False).image

    def tutorial_gatys(steps=steps):
        layers, cl = St.STYLE_LAYERS, St.CONTENT_LAYER
        x0 = St.to_pixels(content, 256, model.device)
        grams = St.style_grams(model, style, layers, 256)
        with torch.no_grad():
            p = model.activations(x0, [cl])[cl]
        cw = 1.0 / float(p.pow(2).mean())
        sw = {k: 10.0 / len(layers) / float(g.pow(2).mean()) for k, g in grams.items()}

        class Loss(nn.Module):  # the tutorial's transparent layer that records its loss
            def __init__(self, fn):
                super().__init__()
                self.fn, self.loss = fn, 0.0

            def forward(self, a):
                self.loss = self.fn(a)
                return a
        net = copy.deepcopy(model.net)
        parts = [model.normalizer, nn.Identity(), net.conv_stem, net.bn1]
        losses = [Loss(lambda a, k="bn1": sw[k] * F.mse_loss(St.gram_matrix(a), grams[k].expand(1, -1, -1)))]
        parts.append(losses[-1])
        for i in range(4):
            parts.append(net.blocks[i])
            k = f"blocks.{i}"
            losses.append(Loss(lambda a, k=k: sw[k] * F.mse_loss(St.gram_matrix(a), grams[k].expand(1, -1, -1))))
            parts.append(losses[-1])
        losses.append(Loss(lambda a: cw * F.mse_loss(a, p)))
        parts.append(losses[-1])
        seq = nn.Sequential(*parts).eval()
        x = x0.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=0.02)
        for _ in range(steps):
            opt.zero_grad()
            seq(x.contiguous(memory_format=torch.channels_last))
            loss = sum(m.loss for m in losses) + total_variation(x) / x0.numel()
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)
        return x.detach()
    row(rows, "Gatys, 256 px, 300 Adam steps", ours_gatys, "PyTorch-tutorial style (loss modules in a copy)",
        tutorial_gatys, lambda a, b: float((ours_gatys(5) - tutorial_gatys(5)).abs().mean()) < 2e-3,
        repeat=1, warmup=False)   # 5 steps: Adam gives ~0 gradients full steps, so rounding flips a few pixels; 300 steps amplify it

    # -- fast style transfer at 512 px against Gatys at 512 px (20 steps timed, extrapolated to 300)
    net = Sn.load_stylizer("starry_night")
    photo = St.to_pixels(content, 512)
    fast = lambda: Sn.stylize(net, photo)  # noqa: E731
    fast()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        out = fast()
        times.append(time.perf_counter() - t)
    t_fast = statistics.median(times)
    t = time.perf_counter()
    g = St.gatys(model, content, style, size=512, steps=20, progress=False).image
    t_gatys = (time.perf_counter() - t) / 20 * 300
    ok = out.shape == g.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    rows.append(("fast style transfer, 512 px (starry_night net)", t_fast,
                 "Gatys at 512 px, 300 steps (20 timed, extrapolated)", t_gatys, t_fast / t_gatys, ok, "5 / 1"))
    print(f"fast style {t_fast * 1000:.0f} ms vs Gatys {t_gatys:.0f} s: {t_gatys / t_fast:.0f}x faster, valid {ok}")
    return rows


def optimization_rows(model):
    """Notebooks 3 and 4: attacks against Captum, the cost of the regularizers, DeepDream."""
    import torch.nn.functional as F
    from captum.robust import FGSM, PGD

    from helpers import ascent as As
    from helpers import inversion as In
    from helpers.data import imagenet_sample_crops, sample_image
    rows = []
    X = model.to_input(list(imagenet_sample_crops(224, every=125, progress=False)), size=None)
    Y = torch.arange(0, 1000, 125)
    ce = lambda out, t: F.cross_entropy(out, t).reshape(1)  # noqa: E731
    close = lambda a, b: ((a - b).abs() > 1e-6).float().mean() < 1e-2  # noqa: E731  (sign ties at ~0 gradients)
    row(rows, "FGSM (Lite0, 8 images, 224 px)", lambda: As.fgsm(model, X, Y, 2 / 255), "Captum FGSM",
        lambda: FGSM(model, ce, 0, 1).perturb(X, 2 / 255, Y), close, repeat=5)
    def pgd_agree(a, b):
        """10 steps drift apart (a float rounding difference in the projection flips a few signs,
        and the path diverges: both are valid attacks). So: both valid and within eps, and
        the first step equal; the step-by-step equality is tested on a tiny net in the test suite."""
        valid = all(float((z - X).abs().max()) <= 2 / 255 + 1e-6 and 0 <= float(z.min()) and float(z.max()) <= 1
                    for z in (a, b))
        return valid and close(As.pgd(model, X, Y, 2 / 255, alpha=0.5 / 255, steps=1),
                               PGD(model, ce, 0, 1).perturb(X, 2 / 255, 0.5 / 255, 1, Y))
    row(rows, "PGD, 10 steps (Lite0, 8 images)", lambda: As.pgd(model, X, Y, 2 / 255, alpha=0.5 / 255, steps=10),
        "Captum PGD", lambda: PGD(model, ce, 0, 1).perturb(X, 2 / 255, 0.5 / 255, 10, Y), pgd_agree, repeat=3)

    target = model.class_index("tarantula")
    recipe = dict(l2=1e-2, blur_every=4, blur_sigma=1.0, clip_value=20, clip_grad=20, jitter=32, lr=0.02)

    def ours_cv():
        return As.class_visualization(model, target, steps=200, size=224, progress=False, **recipe).image

    def plain_cv():  # the same normalized ascent, no regularizers, no loop machinery
        base = As.neutral_image(model, 224)
        d = torch.zeros_like(base, requires_grad=True)
        for _ in range(200):
            g, = torch.autograd.grad(model(base + d)[0, target], d)
            with torch.no_grad():
                d += 0.02 * g / g.abs().mean()
                d.copy_((base + d).clamp(0, 1) - base)
        return (base + d).detach()
    reaches = lambda a, b: min(model(a).softmax(-1)[0, target], model(b).softmax(-1)[0, target]) > 0.9  # noqa: E731
    row(rows, "class visualization, 200 steps, all regularizers", ours_cv,
        "plain ascent loop, 200 steps", plain_cv, reaches, repeat=1)

    photo = model.to_input(sample_image("coffee"), size=None)
    photo = F.interpolate(photo, size=(341, 512), mode="bilinear", antialias=True)

    def ours_dd():
        return In.deep_dream(model, photo, "blocks.4", octaves=4, octave_scale=1.4, steps=10, lr=0.02,
                             jitter=32, progress=False).image

    def plain_dd():  # the classic hand-written DeepDream loop (same octaves, steps and jitter)
        sizes = In.octave_sizes(341, 512, 4, 1.4)
        detail, gen = None, torch.Generator().manual_seed(0)
        for hw in sizes:
            base = F.interpolate(photo, size=hw, mode="bilinear", antialias=True).clamp(0, 1)
            x = base if detail is None else (base + F.interpolate(detail, size=hw, mode="bilinear")).clamp(0, 1)
            for _ in range(10):
                dy, dx = (int(v) for v in torch.randint(-32, 33, (2,), generator=gen))
                xr = torch.roll(x, (dy, dx), (-2, -1)).requires_grad_(True)
                a = model.activations(xr, "blocks.4", keep_graph=True)["blocks.4"]
                a.backward(a.detach())
                x = torch.roll((xr + 0.02 * xr.grad / xr.grad.abs().mean()).clamp(0, 1), (-dy, -dx), (-2, -1)).detach()
            detail = x - base
        return x

    def grows(a, b):
        with torch.no_grad():
            n = lambda z: model.activations(z, "blocks.4")["blocks.4"].norm()  # noqa: E731
            return n(a) > 1.5 * n(photo) and n(b) > 1.5 * n(photo) and 0.5 < n(a) / n(b) < 2
    row(rows, "DeepDream, 4 octaves x 10 steps, 512 px", ours_dd,
        "hand-written DeepDream loop (torch-dreams n/a)", plain_dd, grows, repeat=1)
    return rows


def notebooks():
    out = []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "solutions")}
    env.pop("COURSE_FAST", None)
    jupyter = Path(sys.executable).parent / "jupyter"
    for nb in sorted((ROOT / "solutions" / "notebooks").glob("*.ipynb")):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / nb.name
            t = time.perf_counter()
            r = subprocess.run([str(jupyter), "nbconvert", "--to", "notebook", "--execute", str(nb),
                                "--output", str(copy), "--ExecutePreprocessor.timeout=900"],
                               cwd=nb.parent, env=env, capture_output=True, text=True)
            dt = time.perf_counter() - t
        budget = 300 if nb.stem.startswith("05") else 180
        status = "ok" if r.returncode == 0 else "FAILED"
        print(f"notebook {nb.name:24s} {dt:6.1f} s (budget {budget} s) {status}", flush=True)
        out.append((nb.name, dt, budget, status))
    return out


IMPORTS = [   # (what, the import measured, its baseline, why the code cares)
    ("jsonschema's optional rfc3987_syntax (what nbformat pulls in)",
     "import nbformat", "import sys; sys.modules['rfc3987_syntax'] = None; import nbformat",
     "autograde/__init__.py blocks it in every grading process"),
    ("torchvision (and torch._dynamo) on top of torch",
     "import torch, torchvision.transforms.v2.functional", "import torch",
     "helpers.optim imports it only where blur needs it"),
]


def import_costs(repeat=5):
    """CPU seconds a fresh interpreter spends on an import, against its baseline (medians,
    alternating)."""
    import resource
    out = []

    def cpu(code):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    for what, code, base, why in IMPORTS:
        cpu(code), cpu(base)
        a, b = [], []
        for _ in range(repeat):
            a.append(cpu(code))
            b.append(cpu(base))
        extra = statistics.median(a) - statistics.median(b)
        print(f"import cost: {what}: {extra:.2f} s of CPU", flush=True)
        out.append((what, extra, repeat, why))
    return out


def test_suite():
    t = time.perf_counter()
    r = subprocess.run(["bash", "course.sh", "test"], cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t
    last = (r.stdout.strip().splitlines() or ["?"])[-1]
    print(f"test suite: {dt:.0f} s ({last})")
    return dt, last


def machine():
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores visible, "
            f"torch {torch.__version__} with {THREADS} threads, Python {platform.python_version()}")


SECTIONS = ("techniques", "notebooks", "imports", "tests")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Benchmarks against peer libraries")
    ap.add_argument("--quick", action="store_true", help="techniques and imports only, no notebooks")
    ap.add_argument("--with-tests", action="store_true", help="also time the whole test suite")
    ap.add_argument("--only", action="append", choices=SECTIONS,
                    help="measure only these sections; the others are kept from the file")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    want = set(args.only or [s for s in SECTIONS if (s != "notebooks" or not args.quick)
                             and (s != "tests" or args.with_tests)])
    kept = read_sections(args.out)
    new = {}
    if "techniques" in want:
        rows = techniques()
        new["techniques"] = [
            f"Machine: {machine()}; {datetime.date.today()}.", "",
            "Medians of 'runs' runs each, ours and the peer alternating (ABAB...) after a warm-up run of each, "
            "so that drift of the machine's speed hits both alike. Ratio = ours / peer: below 1 means ours "
            "is faster. 'agree' checks that both give the same result where the definitions coincide.", "",
            "| ours | ms | peer | ms | ratio | runs | agree |", "| --- | ---: | --- | ---: | ---: | ---: | :---: |"]
        new["techniques"] += [f"| {n} | {a * 1000:.1f} | {p} | {b * 1000:.1f} | {r:.2f} | {k} | {'yes' if ok else 'NO'} |"
                              for n, a, p, b, r, ok, k in rows]
    if "notebooks" in want:
        new["notebooks"] = [f"Solved notebooks, executed headless in full mode ({datetime.date.today()}):", "",
                            "| notebook | seconds | budget | result |", "| --- | ---: | ---: | --- |"]
        new["notebooks"] += [f"| {n} | {t:.0f} | {b} | {s} |" for n, t, b, s in notebooks()]
    if "imports" in want:
        new["imports"] = [f"Import costs: CPU seconds of a fresh interpreter, the import minus its baseline, "
                          f"medians ({machine()}; {datetime.date.today()}):", "",
                          "| import | CPU s | runs | where it matters |", "| --- | ---: | ---: | --- |"]
        new["imports"] += [f"| {w} | {x:.2f} | {k} | {why} |" for w, x, k, why in import_costs()]
    if "tests" in want:
        dt, last = test_suite()
        new["tests"] = [f"Test suite (`bash course.sh test`, {datetime.date.today()}): {dt:.0f} s ({last})."]
    sections = {**kept, **new}
    lines = ["# Benchmarks", "", "Written by `bash course.sh bench` (tools/bench.py); each section says when it "
             "was measured. `--only SECTION` measures one and keeps the others.", ""]
    for name in SECTIONS:
        if name in sections:
            lines += [f"<!-- section: {name} -->", *sections[name], ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


def read_sections(path: Path) -> dict:
    """{section: its lines} of an existing BENCHMARKS.md."""
    out, name = {}, None
    for line in (path.read_text().splitlines() if path.exists() else []):
        if line.startswith("<!-- section: "):
            name = line.removeprefix("<!-- section: ").removesuffix(" -->")
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return {k: v[:-1] if v and v[-1] == "" else v for k, v in out.items()}


if __name__ == "__main__":
    main()
