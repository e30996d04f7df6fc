"""Train the course's feed-forward style networks (helpers.style.TransformerNet).

    bash course.sh train style                      # all five: 4 paintings + conditional
    bash course.sh train style starry_night --steps 3000
    python tools/train_style.py --pack build/style_train            # write the compact training set

One instance-norm network per painting (``style_<name>.pt``) and one conditional
instance-norm network for all four (``style_conditional.pt``), trained with the perceptual
losses of helpers.style (content at ``blocks.3``, Gram matrices at the stem and blocks 0-3 of
EfficientNet-Lite0) on the 1000 ImageNet sample photos as content (random crops and flips).
Seeded; on a GPU the result is repeatable up to the GPU's non-deterministic kernels.
Weights are saved in float16 (a few hundred kB each) with the training settings and the
time taken in their ``meta``. After training, run ``bash course.sh release``.

``--pack DIR`` writes what training needs into ``DIR`` (the centre crops of the ImageNet
samples as JPEG files, and the four paintings), so that training can run on a machine
without the course data: ``--data DIR`` then reads from there.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from helpers import style as St  # noqa: E402
from helpers import stylenet as Sn  # noqa: E402
from helpers.utils import seed_everything, unknown  # noqa: E402

DEFAULTS = dict(steps=2500, conditional_steps=2800, batch_size=12, size=256, style_size=320, lr=2e-3,
                content_weight=1.0, style_weight=6.0, tv_weight=1.0, channels=[12, 24, 48], res_blocks=3, kernel=9, seed=0)


def pack(out: Path, side: int = 256, quality: int = 90):
    from helpers.data import imagenet_sample_crops, style_image
    out.mkdir(parents=True, exist_ok=True)
    crops = imagenet_sample_crops(side)
    (out / "contents").mkdir(exist_ok=True)
    for i, c in enumerate(crops):
        Image.fromarray(c).save(out / "contents" / f"{i:04d}.jpg", quality=quality)
    for name in St.STYLES:
        Image.fromarray(style_image(name)).save(out / f"style_{name}.jpg", quality=95)
    print(f"packed {len(crops)} content crops ({side} px) and {len(St.STYLES)} paintings into {out}")


def load_data(data: Path | None, side: int = 256):
    if data is None:
        from helpers.data import imagenet_sample_crops, style_image
        return imagenet_sample_crops(side), {n: style_image(n) for n in St.STYLES}
    files = sorted((data / "contents").glob("*.jpg"))
    contents = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    styles = {n: np.asarray(Image.open(data / f"style_{n}.jpg").convert("RGB")) for n in St.STYLES}
    return contents, styles


def train_one(name: str, contents, styles, model, cfg: dict, out_dir: Path, progress: bool = True):
    seed_everything(cfg["seed"], deterministic=False)
    conditional = name == "conditional"
    net = Sn.TransformerNet(cfg["channels"], cfg["res_blocks"], norm="conditional" if conditional else "instance",
                            n_styles=len(St.STYLES) if conditional else 1,
                            styles=St.STYLES if conditional else [name], kernel=cfg["kernel"])
    style_imgs = [styles[n] for n in St.STYLES] if conditional else [styles[name]]
    steps = cfg["conditional_steps"] if conditional else cfg["steps"]
    t = time.perf_counter()
    losses = Sn.train_stylizer(net, model, style_imgs, contents, steps=steps, batch_size=cfg["batch_size"],
                               size=cfg["size"], style_size=cfg["style_size"], lr=cfg["lr"],
                               content_weight=cfg["content_weight"], style_weight=cfg["style_weight"],
                               tv_weight=cfg["tv_weight"], seed=cfg["seed"], log_every=100,
                               time_limit=cfg.get("time_limit"), progress=progress)
    seconds = time.perf_counter() - t
    dev = str(model.device)
    if model.device.type == "cuda":
        dev += f" ({torch.cuda.get_device_name()})"
    steps = net.trained_steps
    meta = {**cfg, "steps": steps, "seconds": round(seconds, 1), "device": dev, "final_loss": round(losses[-1], 4),
            "contents": len(contents), "command": "python tools/train_style.py " + name}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"style_{name}.pt"
    Sn.save_stylizer(net.cpu(), path, meta)
    print(json.dumps({"name": name, "seconds": round(seconds, 1), "steps": steps, "losses": [round(v, 3) for v in losses[::5]],
                      "bytes": path.stat().st_size}), flush=True)
    return net


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"which networks (default all): {', '.join(Sn.STYLIZERS)}")
    for k, v in DEFAULTS.items():
        if isinstance(v, list):
            ap.add_argument("--" + k.replace("_", "-"), type=int, nargs="+", default=v)
        else:
            ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    ap.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--data", type=Path, default=None, help="a folder written by --pack (default: the course data)")
    ap.add_argument("--out-dir", type=Path, default=St.WEIGHTS_DIR)
    ap.add_argument("--pack", type=Path, default=None, help="write the compact training set to this folder and exit")
    ap.add_argument("--time-limit", type=float, default=None, help="stop each network after this many seconds")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.pack:
        pack(args.pack)
        return 0
    for n in args.names:
        if n not in Sn.STYLIZERS:
            raise unknown("stylizer", n, Sn.STYLIZERS)
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    from helpers.models import load_model
    model = load_model(device=args.device)
    contents, styles = load_data(args.data)
    cfg = {k: getattr(args, k) for k in DEFAULTS}
    cfg["time_limit"] = args.time_limit
    for name in args.names or Sn.STYLIZERS:
        train_one(name, contents, styles, model, cfg, args.out_dir, progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
