"""Train the course's small CIFAR-10 network (helpers.models.CifarNet) on the CPU.

    bash course.sh train cifar [--epochs 6] [--out solutions/helpers/weights/cifar_net.pt]

Seeded and deterministic; reads CIFAR-10 through helpers.data (so ../shared/data or a
downloaded copy). Augmentation: random crop with 4 px padding and horizontal flips. SGD with
Nesterov momentum and a one-cycle learning rate, label smoothing 0.1. Saves the weights in
float16 (about 1.5 MB) and prints the test accuracy and the training time. After training,
run `bash course.sh release` so the student copy of the weights matches.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tqdm import tqdm  # noqa: E402

from helpers.data import load_cifar10  # noqa: E402
from helpers.models import CIFAR_MEAN, CIFAR_STD, CifarNet  # noqa: E402
from helpers.utils import seed_everything  # noqa: E402


def to_tensor(images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def augment(x, g):
    """Random 32x32 crops of the 4-px reflect-padded batch and random horizontal flips."""
    n = x.shape[0]
    pad = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dx, dy = torch.randint(0, 9, (2,), generator=g).tolist()  # one offset per batch: fast
    out = pad[:, :, dy:dy + 32, dx:dx + 32]
    flip = torch.rand(n, generator=g) < 0.5
    out = torch.where(flip.view(-1, 1, 1, 1), out.flip(3), out)
    return out.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate(net, x, y, bs=1000):
    net.eval()
    correct = sum((net(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item() for i in range(0, len(x), bs))
    return correct / len(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="train on this many images per class (quick trials)")
    ap.add_argument("--out", type=Path, default=ROOT / "solutions" / "helpers" / "weights" / "cifar_net.pt")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    g = seed_everything(0)
    t0 = time.time()
    xtr, ytr, _ = load_cifar10("train", per_class=args.limit)
    xte, yte, _ = load_cifar10("test")
    xtr, xte = to_tensor(xtr), to_tensor(xte)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    print(f"data loaded in {time.time() - t0:.0f} s: {len(xtr)} train, {len(xte)} test images")

    net = CifarNet().to(memory_format=torch.channels_last)
    steps_per_epoch = len(xtr) // args.batch_size
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    t1 = time.time()
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(xtr), generator=g)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", mininterval=5)
        for s in bar:
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            loss = F.cross_entropy(net(augment(xtr[idx], g)), ytr[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if s % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        print(f"epoch {epoch + 1}: test accuracy {evaluate(net, xte, yte):.4f} "
              f"({time.time() - t1:.0f} s training so far)")
    acc = evaluate(net, xte, yte)
    train_s = time.time() - t1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    torch.save(state, args.out)
    print(f"test accuracy {acc:.4f}; training {train_s:.0f} s, total {time.time() - t0:.0f} s; "
          f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return acc


if __name__ == "__main__":
    main()
