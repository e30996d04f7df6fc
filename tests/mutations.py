"""The mutation catalogue: realistic student mistakes in every exercise, as data.

Each entry is a small textual edit of an exercise's solution (``old`` -> ``new`` inside its
``### BEGIN SOLUTION`` region; every ``old`` must occur exactly once there, or the test fails:
the catalogue cannot rot silently) and either

- ``phrase``: words the local check's message must contain when it fails on this mistake
  (the message names the mistake), and the graded cell (hidden tests included, judged as
  the grader does) must not give full marks; or
- ``harmless``: why the edit does not change what the function is for (then the local check
  and the graded cell must both pass, so the claim is tested too).

``check``: the check that names it, when not the exercise's
own. The machinery is in ``tests/mutation_lab.py``; ``tests/test_mutations.py`` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    id: str                     # "<exercise>/<what>"
    module: str                 # the library module, "features"
    function: str               # the qualified name, "ConditionalInstanceNorm.forward"
    edits: tuple                # ((old, new), ...)
    phrase: str = ""
    harmless: str = ""
    check: str = ""


MUTATIONS: list[Mutation] = []


def mut(where: str, what: str, phrase: str, *edits, harmless: str = "", check: str = ""):
    module, function = where.split(".", 1)
    key = function.split(".")[0]
    if "." in function:  # a method: the exercise's key is the class name in snake case
        import re
        key = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
    assert edits and all(len(e) == 2 for e in edits), what
    assert bool(phrase) != bool(harmless), f"{what}: a phrase or a reason it is harmless"
    MUTATIONS.append(Mutation(f"{key}/{what}", module, function, tuple(edits), phrase, harmless, check))


# ============================================================================ notebook 1: features
F = "features."
mut(F + "normalize_filters", "per-channel", "each colour channel on its own",
    ("lo = flat.min(1).values.view(-1, 1, 1, 1)\n    hi = flat.max(1).values.view(-1, 1, 1, 1)",
     "lo = w.amin((2, 3), keepdim=True)\n    hi = w.amax((2, 3), keepdim=True)"))
mut(F + "normalize_filters", "global", "all filters together",
    ("lo = flat.min(1).values.view(-1, 1, 1, 1)\n    hi = flat.max(1).values.view(-1, 1, 1, 1)",
     "lo = w.min()\n    hi = w.max()"))
mut(F + "normalize_filters", "no-zero-guard", "constant filter",
    ("(hi - lo).clamp_min(1e-12)", "(hi - lo)"))
mut(F + "normalize_filters", "transpose", "(C_out, kH, kW, 3)",
    ("w.permute(0, 2, 3, 1)", "w.permute(0, 3, 2, 1)"))
mut(F + "normalize_filters", "reshape-not-permute", "permute",
    ("w.permute(0, 2, 3, 1)", "w.reshape(w.shape[0], w.shape[2], w.shape[3], 3)"))
mut(F + "normalize_filters", "divide-by-max", "max - min",
    ("w = (w - lo) / (hi - lo).clamp_min(1e-12)", "w = (w - lo) / hi.clamp_min(1e-12)"))

mut(F + "extract_features", "last-batch-dropped", "last, smaller batch",
    ("_batches(images, batch_size)", "_batches(images[:len(images) // batch_size * batch_size], batch_size)"))
mut(F + "extract_features", "layer-ignored", "the layer you are given",
    ("model.activations(x, layer)[layer]", "model.activations(x, model.penultimate)[model.penultimate]"))
mut(F + "extract_features", "size-ignored", "size",
    ("model.to_input(list(batch), size=size)", "model.to_input(list(batch))"))
mut(F + "extract_features", "flatten-everything", "one row per image",
    (".flatten(1).float()", ".flatten().float()"))
mut(F + "extract_features", "pooled-not-flattened", "flatten (C, H, W)",
    ("model.activations(x, layer)[layer].flatten(1)",
     "(lambda a: a.mean((2, 3)) if a.ndim == 4 else a)(model.activations(x, layer)[layer])"))
mut(F + "extract_features", "no-no-grad", "",
    ("with torch.no_grad():", "if True:"),
    harmless="the course's models are frozen (no parameter requires grad) and model.activations detaches "
             "what it records, so no graph is built with or without torch.no_grad()")

mut(F + "pairwise_distances", "no-sqrt", "not squared",
    ("return sq.clamp_min(0).sqrt()", "return sq.clamp_min(0)"))
mut(F + "pairwise_distances", "no-clamp", "clamp",
    ("return sq.clamp_min(0).sqrt()", "return sq.sqrt()"))
mut(F + "pairwise_distances", "plus-2qx", "- 2 q.x",
    ("- 2 * q @ x.T", "+ 2 * q @ x.T"))
mut(F + "pairwise_distances", "cosine-similarity", "1 - cos",
    ("return 1 - F.normalize(q, dim=1) @", "return F.normalize(q, dim=1) @"))
mut(F + "pairwise_distances", "cosine-one-side", "normalize both",
    ("F.normalize(x, dim=1).T", "x.T"))
mut(F + "pairwise_distances", "cosine-wrong-axis", "each row",
    ("F.normalize(q, dim=1) @ F.normalize(x, dim=1).T", "F.normalize(q, dim=0) @ F.normalize(x, dim=0).T"))
mut(F + "pairwise_distances", "dot-not-outer", "",
    ("(x * x).sum(1) - 2", "(x * x).sum(1, keepdim=True).T - 2"),
    harmless="(x * x).sum(1) and its keepdim=True transpose broadcast to the same (Q, N) matrix")

mut(F + "nearest_neighbors", "farthest-first", "nearest first",
    ("torch.sort(d, dim=1, stable=True)", "torch.sort(d, dim=1, descending=True, stable=True)"))
mut(F + "nearest_neighbors", "wrong-axis", "along each row",
    ("torch.sort(d, dim=1, stable=True).indices[:, :k]", "torch.sort(d, dim=0, stable=True).indices[:, :k]"))
mut(F + "nearest_neighbors", "unsorted-distances", "distances of those neighbours",
    ("return d.gather(1, order), order", "return d[:, :k], order"))
mut(F + "nearest_neighbors", "ties-reversed", "lower index first",
    ("torch.sort(d, dim=1, stable=True).indices[:, :k]",
     "(d.shape[1] - 1 - torch.sort(d.flip(1), dim=1, stable=True).indices)[:, :k]"))
mut(F + "nearest_neighbors", "topk", "lower index first",
    ("torch.sort(d, dim=1, stable=True).indices[:, :k]", "torch.topk(-d, k, dim=1).indices"))

mut(F + "pca", "no-centring", "centre the data",
    ("xc = x - mean", "xc = x"))
mut(F + "pca", "uncentred-projection", "project the centred data",
    ("(xc @ comps.T).float()", "(x @ comps.T).float()"))
mut(F + "pca", "mean-over-features", "axis 0",
    ("mean = x.mean(0)", "mean = x.mean(1, keepdim=True)"))
mut(F + "pca", "ratio-of-s", "squared singular values",
    ("var = s ** 2", "var = s"))
mut(F + "pca", "columns-of-vt", "rows of V^T",
    ("comps = vt[:n_components]", "comps = vt[:, :n_components].T"))
mut(F + "pca", "ratio-of-kept", "total variance",
    ("(var[:n_components] / var.sum())", "(var[:n_components] / var[:n_components].sum())"))

mut(F + "receptive_field", "stride-first", "stride of everything before",
    ("        size += (k_eff - 1) * stride\n        offset -= p * stride\n        stride *= s\n",
     "        stride *= s\n        size += (k_eff - 1) * stride\n        offset -= p * stride\n"))
mut(F + "receptive_field", "no-dilation", "dilation",
    ("k_eff = (k - 1) * d + 1", "k_eff = k"))
mut(F + "receptive_field", "dilation-k-times-d", "dilation",
    ("k_eff = (k - 1) * d + 1", "k_eff = k * d"))
mut(F + "receptive_field", "offset-plus", "moves the offset by -padding",
    ("offset -= p * stride", "offset += p * stride"))
mut(F + "receptive_field", "offset-no-stride", "padding * (stride before the layer)",
    ("offset -= p * stride", "offset -= p"))
mut(F + "receptive_field", "size-k-not-k-1", "(k - 1)",
    ("size += (k_eff - 1) * stride", "size += k_eff * stride"))

mut(F + "top_activations", "divmod-by-height", "by the width",
    ("pos // w, pos % w", "pos // h, pos % h"))
mut(F + "top_activations", "rows-cols-swapped", "row first",
    ("pos // w, pos % w", "pos % w, pos // w"))
mut(F + "top_activations", "smallest-first", "largest first",
    ("torch.sort(best, descending=True, stable=True)", "torch.sort(best, stable=True)"))
mut(F + "top_activations", "positions-not-images", "one entry per image",
    ("order = torch.sort(best, descending=True, stable=True).indices[:k]\n    pos = where[order]\n"
     "    return best[order], order, pos // w, pos % w",
     "flat = torch.sort(maps.flatten(), descending=True, stable=True).indices[:k]\n"
     "    order, pos = flat // (h * w), flat % (h * w)\n    return maps.flatten()[flat], order, pos // w, pos % w"))
mut(F + "top_activations", "ties-reversed", "lower image index first",
    ("order = torch.sort(best, descending=True, stable=True).indices[:k]",
     "order = (n - 1 - torch.sort(best.flip(0), descending=True, stable=True).indices)[:k]"))

# ============================================================================ notebook 2: saliency
S = "saliency."
mut(S + "occlusion_map", "logits", "softmax probability",
    ("p0 = model(x).softmax(-1)[0, target]", "p0 = model(x)[0, target]"),
    ("model(occluded).softmax(-1)[:, target]", "model(occluded)[:, target]"))
mut(S + "occlusion_map", "baseline-ignored", "baseline",
    ("torch.as_tensor(baseline, dtype=x.dtype", "torch.as_tensor(0.0, dtype=x.dtype"))
mut(S + "occlusion_map", "sign", "p(original) - p(occluded)",
    ("p0 - model(occluded).softmax(-1)[:, target]", "model(occluded).softmax(-1)[:, target] - p0"))
mut(S + "occlusion_map", "sum-not-mean", "average the drops",
    ("total / count.clamp_min(1)", "total"))
mut(S + "occlusion_map", "softmax-over-batch", "over the classes",
    ("model(occluded).softmax(-1)[:, target]", "model(occluded).softmax(0)[:, target]"))
mut(S + "occlusion_map", "last-windows-missed", "last row and column of windows",
    ("    with torch.no_grad():\n        p0",
     "    keep = [n for n, (y, xx) in enumerate(window_positions(x.shape[2], x.shape[3], window, stride))\n"
     "            if y + window < x.shape[2] and xx + window < x.shape[3]]   # range(0, H - window, stride)\n"
     "    masks = masks[keep or [0]]\n"
     "    with torch.no_grad():\n        p0"))

mut(S + "saliency_map", "no-abs", "absolute value",
    (".abs().amax(0)", ".amax(0)"))
mut(S + "saliency_map", "sum-colours", "maximum over the colours",
    (".abs().amax(0)", ".abs().sum(0)"))
mut(S + "saliency_map", "abs-after-max", "absolute value before",
    (".abs().amax(0)", ".amax(0).abs()"))
mut(S + "saliency_map", "probability", "not the probability",
    ("model(x)[0, target].backward()", "model(x).softmax(-1)[0, target].backward()"))
mut(S + "saliency_map", "max-over-rows", "(H, W)",
    (".abs().amax(0)", ".abs().amax(1)"))
mut(S + "saliency_map", "no-clone", "",
    ("x = x.clone().requires_grad_(True)", "x = x.requires_grad_(True)"),
    harmless="the x it works on is already a detached view (check_images), so the caller's tensor gets no "
             "gradient and requires_grad is set on the view only")

mut(S + "grabcut_seeds", "sure-fg-is-probable", "sure foreground",
    ("seeds[s >= hi] = GC_FGD", "seeds[s >= hi] = GC_PR_FGD"))
mut(S + "grabcut_seeds", "fg-strict", "at or above",
    ("seeds[s >= hi] = GC_FGD", "seeds[s > hi] = GC_FGD"))
mut(S + "grabcut_seeds", "bg-strict", "at or below",
    ("seeds[s <= lo] = GC_BGD", "seeds[s < lo] = GC_BGD"))
mut(S + "grabcut_seeds", "median-inclusive", "above the median",
    ("seeds[s > med] = GC_PR_FGD", "seeds[s >= med] = GC_PR_FGD"))
mut(S + "grabcut_seeds", "quantiles-swapped", "fg_quantile",
    ("for q in (fg_quantile, bg_quantile, 0.5)", "for q in (bg_quantile, fg_quantile, 0.5)"))
mut(S + "grabcut_seeds", "int64", "uint8",
    ("dtype=torch.uint8", "dtype=torch.int64"))

mut(S + "guided_relu_backward", "negative-gradients-pass", "gradient is positive",
    ("positive = grad_output.clamp(min=0)", "positive = grad_output"))
mut(S + "guided_relu_backward", "abs-gradient", "gradient is positive",
    ("positive = grad_output.clamp(min=0)", "positive = grad_output.abs()"))
mut(S + "guided_relu_backward", "relu6-as-relu", "ReLU6",
    ('if upper == float("inf"):', "if True:"))
mut(S + "guided_relu_backward", "x-at-6-passes", "x >= 6",
    ("return torch.ops.aten.hardtanh_backward(positive, x, 0, upper)", "return positive * ((x > 0) & (x <= upper))"))
mut(S + "guided_relu_backward", "x-at-0-passes", "x > 0",
    ("return torch.ops.aten.threshold_backward(positive, x, 0)", "return positive * (x >= 0)"))

mut(S + "guided_backprop", "mean-not-sum", "summed over the map",
    ("(act[0, channel].sum() if", "(act[0, channel].mean() if"))
mut(S + "guided_backprop", "unit-swapped", "unit = (row, col)",
    ("act[0, channel, unit[0], unit[1]]", "act[0, channel, unit[1], unit[0]]"))
mut(S + "guided_backprop", "unit-ignored", "one spatial unit",
    ("(act[0, channel].sum() if unit is None else act[0, channel, unit[0], unit[1]])", "act[0, channel].sum()"))
mut(S + "guided_backprop", "whole-layer", "that channel",
    ("(act[0, channel].sum() if", "(act[0].sum() if"))
mut(S + "guided_backprop", "class-probability", "class score",
    ("model(x)[0, target].backward()", "model(x).softmax(-1)[0, target].backward()"))
mut(S + "guided_backprop", "abs-gradient", "signed",
    ("return x.grad[0].detach().cpu()", "return x.grad[0].abs().detach().cpu()"))

mut(S + "class_activation_map", "relu", "keep negative values",
    ('return torch.einsum("c,chw->hw", fc_weight[target].float(), features.float())',
     'return torch.relu(torch.einsum("c,chw->hw", fc_weight[target].float(), features.float()))'))
mut(S + "class_activation_map", "column-not-row", "w[target, c]",
    ("fc_weight[target].float()", "fc_weight[:, target].float()"))
mut(S + "class_activation_map", "mean-over-channels", "weighted sum",
    ("features.float())", "features.float()) / features.shape[0]"))
mut(S + "class_activation_map", "rescaled", "no scaling",
    ('return torch.einsum("c,chw->hw", fc_weight[target].float(), features.float())',
     'm = torch.einsum("c,chw->hw", fc_weight[target].float(), features.float())\n'
     '    return (m - m.min()) / (m.max() - m.min())'))

mut(S + "grad_cam", "no-spatial-pooling", "average the gradient over space",
    ('return F.relu(torch.einsum("c,chw->hw", alpha, a)).cpu()', "return F.relu((g * a).sum(0)).cpu()"))
mut(S + "grad_cam", "no-relu", "ReLU",
    ('return F.relu(torch.einsum("c,chw->hw", alpha, a)).cpu()', 'return torch.einsum("c,chw->hw", alpha, a).cpu()'))
mut(S + "grad_cam", "abs-not-relu", "ReLU",
    ('return F.relu(torch.einsum("c,chw->hw", alpha, a)).cpu()',
     'return torch.einsum("c,chw->hw", alpha, a).abs().cpu()'))
mut(S + "grad_cam", "sum-not-mean", "averaged over space",
    ("alpha = g.mean(dim=(1, 2))", "alpha = g.sum(dim=(1, 2))"))
mut(S + "grad_cam", "abs-weights", "signed",
    ("alpha = g.mean(dim=(1, 2))", "alpha = g.abs().mean(dim=(1, 2))"))
mut(S + "grad_cam", "probability", "class score",
    ("score = model(x)[0, target]", "score = model(x).softmax(-1)[0, target]"))

# ============================================================================ notebook 2, part two: trust
T = "trust."
mut(T + "smoothgrad", "global-generator", "generator",
    ("torch.randn((n, *x.shape[1:]), generator=generator)", "torch.randn((n, *x.shape[1:]))"))
mut(T + "smoothgrad", "no-noise", "add the noise",
    ("copies = (x + noise[i:i + batch_size].to(x.device))",
     "copies = x.repeat(len(noise[i:i + batch_size]), 1, 1, 1)"))
mut(T + "smoothgrad", "no-abs", "absolute value",
    ("total += g.abs().amax(1).sum(0)", "total += g.amax(1).sum(0)"))
mut(T + "smoothgrad", "mean-of-gradients", "not the gradients",
    ("total = torch.zeros(x.shape[-2:], device=x.device)", "total = torch.zeros_like(x[0])"),
    ("total += g.abs().amax(1).sum(0)", "total += g.sum(0)"),
    ("return (total / n).cpu()", "return (total / n).abs().amax(0).cpu()"))
mut(T + "smoothgrad", "sum-colours", "not their sum",
    ("total += g.abs().amax(1).sum(0)", "total += g.abs().sum(1).sum(0)"))
mut(T + "smoothgrad", "no-mean", "divide the sum by n",
    ("return (total / n).cpu()", "return total.cpu()"))
mut(T + "smoothgrad", "sigma-as-variance", "standard deviation",
    ("noise = sigma * torch.randn", "noise = sigma ** 2 * torch.randn"))
mut(T + "smoothgrad", "last-batch-dropped", "last, smaller batch",
    ("for i in range(0, n, batch_size):", "for i in range(0, n - batch_size + 1, batch_size):"))
mut(T + "smoothgrad", "clamped-copies", "not clamped",
    ("copies = (x + noise[i:i + batch_size].to(x.device))", "copies = (x + noise[i:i + batch_size].to(x.device)).clamp(0, 1)"))
mut(T + "smoothgrad", "probability", "logit",
    ("model(copies)[:, target].sum()", "model(copies).softmax(-1)[:, target].sum()"))

mut(T + "integrated_gradients", "left-riemann", "LEFT Riemann sum",
    ("torch.arange(1, steps + 1, dtype=x.dtype, device=x.device) / steps",
     "torch.arange(0, steps, dtype=x.dtype, device=x.device) / steps"))
mut(T + "integrated_gradients", "midpoint", "right Riemann sum",
    ("torch.arange(1, steps + 1, dtype=x.dtype, device=x.device) / steps",
     "(torch.arange(0, steps, dtype=x.dtype, device=x.device) + 0.5) / steps"))
mut(T + "integrated_gradients", "linspace", "right Riemann sum",
    ("torch.arange(1, steps + 1, dtype=x.dtype, device=x.device) / steps",
     "torch.linspace(0, 1, steps, dtype=x.dtype, device=x.device)"))
mut(T + "integrated_gradients", "no-input-factor", "multiply the average gradient by (x - baseline)",
    ("((x - baseline)[0] * total / steps)", "(total / steps)"))
mut(T + "integrated_gradients", "factor-x", "the factor is (x - baseline)",
    ("((x - baseline)[0] * total / steps)", "(x[0] * total / steps)"))
mut(T + "integrated_gradients", "no-average", "divide by steps",
    ("((x - baseline)[0] * total / steps)", "((x - baseline)[0] * total)"))
mut(T + "integrated_gradients", "path-from-black", "the path is baseline + alpha",
    ("path = (baseline + a * (x - baseline))", "path = (a * x)"))
mut(T + "integrated_gradients", "last-batch-dropped", "last, smaller batch",
    ("for i in range(0, steps, batch_size):", "for i in range(0, steps - batch_size + 1, batch_size):"))

mut(T + "randomized_weights", "no-copy", "copy.deepcopy",
    ("randomized = copy.deepcopy(model)", "randomized = model"))
mut(T + "randomized_weights", "no-fork-rng", "fork_rng",
    ("with torch.random.fork_rng(), torch.no_grad():", "with torch.no_grad():"))
mut(T + "randomized_weights", "bottom-up", "from the top",
    ("for name in chosen:", "for name in reversed(chosen):"))
mut(T + "randomized_weights", "only-down-to", "from the top (the classifier) down to down_to",
    ("for name in chosen:", "for name in [chosen[-1]]:"))
mut(T + "randomized_weights", "unseeded", "seed the re-initialization",
    ("        torch.manual_seed(int(seed))\n", ""))
mut(T + "randomized_weights", "seed-zero", "use the seed you are given",
    ("torch.manual_seed(int(seed))", "torch.manual_seed(0)"))
mut(T + "randomized_weights", "seed-per-layer", "seed once",
    ("        torch.manual_seed(int(seed))\n        for name in chosen:\n",
     "        for name in chosen:\n            torch.manual_seed(int(seed))\n"))
mut(T + "randomized_weights", "top-module-only", "every sub-module",
    ("for module in randomized.layer(name).modules():", "for module in [randomized.layer(name)]:"))

mut(T + "ranked_masks", "ascending", "decreasing value",
    ("descending=True, stable=True", "descending=False, stable=True"))
mut(T + "ranked_masks", "ties-reversed", "ties",
    ("torch.argsort(s.flatten(), descending=True, stable=True)", "torch.argsort(s.flatten(), stable=True).flip(0)"))
mut(T + "ranked_masks", "order-not-rank", "rank of each pixel",
    ("rank[order] = torch.arange(n)", "rank = order.clone()"))
mut(T + "ranked_masks", "floor-per-step", "k * H * W // steps",
    ("counts = torch.arange(steps + 1) * n // steps", "counts = torch.arange(steps + 1) * (n // steps)"))
mut(T + "ranked_masks", "one-too-many", "mask 0 has no pixel",
    ("rank[None, :] < counts[:, None]", "rank[None, :] <= counts[:, None]"))
mut(T + "ranked_masks", "steps-masks", "steps + 1 masks",
    ("counts = torch.arange(steps + 1) * n // steps", "counts = torch.arange(1, steps + 1) * n // steps"),
    ("view(steps + 1, *s.shape)", "view(steps, *s.shape)"))

mut(T + "deletion_curve", "logits", "PROBABILITY",
    (".softmax(-1)[:, target]", "[:, target]"))
mut(T + "deletion_curve", "least-important-first", "MOST important",
    ("masks = ranked_masks(s, fraction)", "masks = ranked_masks(-s, fraction)"))
mut(T + "deletion_curve", "one-colour", "all 3 colours",
    ("model(torch.where(m, base, x))",
     "model(torch.cat([torch.where(m, base[:, :1], x[:, :1]), x[:, 1:].expand(len(m), -1, -1, -1)], 1))"))
mut(T + "deletion_curve", "no-no-grad", "torch.no_grad()",
    ("with torch.no_grad():", "if True:"))
mut(T + "deletion_curve", "one-image-per-pass", "batch_size",
    ("for i in range(0, len(masks), batch_size):\n            m = masks[i:i + batch_size, None]",
     "for i in range(len(masks)):\n            m = masks[i:i + 1, None]"))
mut(T + "deletion_curve", "top-class", "the probability of `target`",
    (".softmax(-1)[:, target]", ".softmax(-1).amax(-1)"))
mut(T + "deletion_curve", "black-always", "baseline",
    ("torch.where(m, base, x)", "torch.where(m, 0.0, x)"))
mut(T + "deletion_curve", "where-swapped", "entry 0 for the untouched image",
    ("torch.where(m, base, x)", "torch.where(m, x, base)"))

mut(T + "insertion_curve", "default-blur", "blur_sigma",
    ("blurred(x, blur_sigma)", "blurred(x)"))
mut(T + "insertion_curve", "least-important-first", "MOST important",
    ("target, saliency, fraction", "target, -saliency, fraction"))
mut(T + "insertion_curve", "deletion-onto-blur", "start from the blurred copy",
    ("deletion_curve(model, blurred(x, blur_sigma), target, saliency, fraction, baseline=x,",
     "deletion_curve(model, x, target, saliency, fraction, baseline=blurred(x, blur_sigma),"))
mut(T + "insertion_curve", "black-start", "start from the blurred copy",
    ("blurred(x, blur_sigma)", "torch.zeros_like(x)"))
mut(T + "insertion_curve", "batch-size-ignored", "batch_size",
    (",\n                          batch_size=batch_size)", ")"))

# ============================================================================ notebook 3: ascent
A = "ascent."
mut(A + "ascent_step", "base-not-rolled", "roll base",
    ("b = torch.roll(base, (dy, dx), dims=(-2, -1))", "b = base"))
mut(A + "ascent_step", "no-roll-back", "roll the result back",
    ("return torch.roll(new, (-dy, -dx), dims=(-2, -1)), float", "return new, float"))
mut(A + "ascent_step", "roll-back-same-way", "roll the result back",
    ("torch.roll(new, (-dy, -dx), dims=(-2, -1))", "torch.roll(new, (dy, dx), dims=(-2, -1))"))
mut(A + "ascent_step", "l2-sign", "-2 * l2 * delta",
    ("- l2 * (d ** 2).sum()", "+ l2 * (d ** 2).sum()"))
mut(A + "ascent_step", "l2-not-squared", "||delta||^2",
    ("- l2 * (d ** 2).sum()", "- l2 * d.norm()"))
mut(A + "ascent_step", "descent", "ascent: plus",
    ("new = normalized_step(d, g, lr)", "new = normalized_step(d, g, -lr)"))
mut(A + "ascent_step", "probability", "logit",
    ("objective = model(b + d)[0, target]", "objective = model(b + d).softmax(-1)[0, target]"))
mut(A + "ascent_step", "unnormalized-step", "mean(|g|)",
    ("new = normalized_step(d, g, lr)", "new = d.detach() + lr * g"))

mut(A + "clip_small_values", "per-channel", "all 3 channels",
    ("norms = delta.norm(dim=1, keepdim=True)", "norms = delta.abs()"))
mut(A + "clip_small_values", "norm-over-width", "colour vector",
    ("norms = delta.norm(dim=1, keepdim=True)", "norms = delta.norm(dim=-1, keepdim=True)"))
mut(A + "clip_small_values", "strict", "at the percentile",
    ("return delta * (norms >= cut)", "return delta * (norms > cut)"))
mut(A + "clip_small_values", "in-place", "in place",
    ("return delta * (norms >= cut)", "return delta.mul_(norms >= cut)"))
mut(A + "clip_small_values", "percentile-not-fraction", "percentile / 100",
    ("torch.quantile(norms.flatten(), percentile / 100)", "torch.quantile(norms.flatten(), min(percentile, 1.0))"))
mut(A + "clip_small_values", "no-zero-guard", "",
    ("    if percentile <= 0:\n        return delta.clone()\n", ""),
    harmless="the 0th percentile is the smallest norm and every pixel's norm is >= it: nothing is zeroed")

mut(A + "clip_small_gradients", "abs-then-sum", "sum first, then abs",
    ("(delta * grad).sum(dim=1, keepdim=True).abs()", "(delta * grad).abs().sum(dim=1, keepdim=True)"))
mut(A + "clip_small_gradients", "no-abs", "|sum",
    ("(delta * grad).sum(dim=1, keepdim=True).abs()", "(delta * grad).sum(dim=1, keepdim=True)"))
mut(A + "clip_small_gradients", "gradient-only", "delta * grad",
    ("(delta * grad).sum(dim=1, keepdim=True).abs()", "grad.sum(dim=1, keepdim=True).abs()"))
mut(A + "clip_small_gradients", "strict", "at the percentile",
    ("return delta * (contrib >= cut)", "return delta * (contrib > cut)"))
mut(A + "clip_small_gradients", "in-place", "in place",
    ("return delta * (contrib >= cut)", "return delta.mul_(contrib >= cut)"))

mut(A + "facet_starts", "not-renumbered", "largest cluster",
    ("labels = torch.from_numpy(relabel[raw])", "labels = torch.from_numpy(raw).long()"))
mut(A + "facet_starts", "smallest-first", "largest cluster",
    ("key=lambda c: (-sizes[c], c)", "key=lambda c: (sizes[c], c)"))
mut(A + "facet_starts", "inverse-permutation", "renumber",
    ("relabel[order] = np.arange(k)", "relabel[:] = order"))
mut(A + "facet_starts", "ties-reversed", "ties",
    ("key=lambda c: (-sizes[c], c)", "key=lambda c: (-sizes[c], -c)"))
mut(A + "facet_starts", "seed-ignored", "random_state=seed",
    ("random_state=seed", "random_state=0"))
mut(A + "facet_starts", "clusters-images", "cluster the features",
    ("torch.as_tensor(features).detach().cpu().double().numpy())", "images.flatten(1).detach().cpu().double().numpy())"))
mut(A + "facet_starts", "means-of-raw-labels", "mean image of the images labelled",
    ("images[labels.to(images.device) == c]", "images[torch.from_numpy(raw).to(images.device) == c]"))

mut(A + "fooling_image", "no-clamp", "[0, 1]",
    ("x = normalized_step(x, g, lr).clamp(0, 1)", "x = normalized_step(x, g, lr)"))
mut(A + "fooling_image", "probability", "score (the logit",
    ("g, = torch.autograd.grad(out[0, target], xr)", "g, = torch.autograd.grad(out.softmax(-1)[0, target], xr)"))
mut(A + "fooling_image", "steps-off-by-one", "count the steps",
    ("return x.detach(), step", "return x.detach(), step + 1"))
mut(A + "fooling_image", "no-early-stop", "as soon as",
    ("if int(out.argmax(1)) == target or step == max_steps:", "if step == max_steps:"))
mut(A + "fooling_image", "descent", "ascend",
    ("x = normalized_step(x, g, lr)", "x = normalized_step(x, g, -lr)"))
mut(A + "fooling_image", "unnormalized-step", "mean(|g|)",
    ("x = normalized_step(x, g, lr)", "x = (x.detach() + lr * g)"))

mut(A + "fgsm", "no-sign", "sign",
    ("sign * eps * g.sign()", "sign * eps * g"))
mut(A + "fgsm", "targeted-flipped", "untargeted",
    ("sign = -1.0 if targeted else 1.0", "sign = 1.0 if targeted else -1.0"))
mut(A + "fgsm", "targeted-ignored", "targeted",
    ("sign = -1.0 if targeted else 1.0", "sign = 1.0"))
mut(A + "fgsm", "no-clamp", "[0, 1]",
    ("return (x + sign * eps * g.sign()).clamp(0, 1).detach()", "return (x + sign * eps * g.sign()).detach()"))
mut(A + "fgsm", "score-not-loss", "cross-entropy",
    ("loss = F.cross_entropy(model(xr), y)", "loss = -model(xr).gather(1, y[:, None]).sum()"))
mut(A + "fgsm", "softmax-into-ce", "logits",
    ("loss = F.cross_entropy(model(xr), y)", "loss = F.cross_entropy(model(xr).softmax(-1), y)"))
mut(A + "fgsm", "sum-loss", "",
    ("loss = F.cross_entropy(model(xr), y)", 'loss = F.cross_entropy(model(xr), y, reduction="sum")'),
    harmless="a positive factor on the loss does not change the sign of its gradient")

mut(A + "pgd", "global-generator", "generator",
    ("torch.rand(x.shape, generator=g)", "torch.rand(x.shape)"))
mut(A + "pgd", "noise-0-eps", "[-eps, eps]",
    ("(torch.rand(x.shape, generator=g) * 2 - 1) * eps", "torch.rand(x.shape, generator=g) * eps"))
mut(A + "pgd", "seed-ignored", "seed",
    ("torch.Generator().manual_seed(seed)", "torch.Generator().manual_seed(0)"))
mut(A + "pgd", "no-projection", "project",
    ("adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)", "adv = adv.clamp(0, 1)"))
mut(A + "pgd", "no-clamp", "[0, 1]",
    ("adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)", "adv = torch.min(torch.max(adv, x - eps), x + eps)"))
mut(A + "pgd", "step-eps", "alpha",
    ("adv = adv.detach() + sign * alpha * grad.sign()", "adv = adv.detach() + sign * eps * grad.sign()"))
mut(A + "pgd", "targeted-ignored", "targeted",
    ("sign = -1.0 if targeted else 1.0", "sign = 1.0"))
mut(A + "pgd", "start-not-clamped", "clamped to [0, 1]",
    ("adv = (adv + noise.to(x.device)).clamp(0, 1)", "adv = adv + noise.to(x.device)"))
mut(A + "pgd", "project-around-previous", "ORIGINAL x",
    ("        adv = adv.detach() + sign * alpha * grad.sign()\n"
     "        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)",
     "        prev = adv.detach()\n        adv = prev + sign * alpha * grad.sign()\n"
     "        adv = torch.min(torch.max(adv, prev - eps), prev + eps).clamp(0, 1)"))

# ============================================================================ notebook 4: inversion
I = "inversion."
mut(I + "total_variation", "anisotropic", "add the squares first",
    ("return sq.pow(beta / 2).sum()", "return (dx.abs() ** beta + dy.abs() ** beta + eps).sum()"))
mut(I + "total_variation", "power-beta", "beta / 2",
    ("return sq.pow(beta / 2).sum()", "return sq.pow(beta).sum()"))
mut(I + "total_variation", "cropped", "last row/column",
    ("    dx = torch.zeros_like(x)\n    dy = torch.zeros_like(x)\n"
     "    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]\n    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]\n",
     "    dx = x[..., :-1, 1:] - x[..., :-1, :-1]\n    dy = x[..., 1:, :-1] - x[..., :-1, :-1]\n"))
mut(I + "total_variation", "mean", "sum over",
    ("        return sq.sum()\n    return sq.pow(beta / 2).sum()", "        return sq.mean()\n    return sq.pow(beta / 2).mean()"))
mut(I + "total_variation", "eps-ignored", "eps",
    ("sq = dx ** 2 + dy ** 2 + eps", "sq = dx ** 2 + dy ** 2"))
mut(I + "total_variation", "dx-only", "dx^2 + dy^2",
    ("sq = dx ** 2 + dy ** 2 + eps", "sq = dx ** 2 + eps"))

mut(I + "inversion_loss", "not-relative", "||t||^2",
    (" / (target ** 2).sum().clamp_min(1e-12)", ""))
mut(I + "inversion_loss", "relative-to-features", "||t||^2",
    ("/ (target ** 2).sum()", "/ (features ** 2).sum()"))
mut(I + "inversion_loss", "tv-not-per-pixel", "/ (H * W)",
    (" / (h * w)", ""))
mut(I + "inversion_loss", "tv-per-value", "not by 3 H W",
    (" / (h * w)", " / image.numel()"))
mut(I + "inversion_loss", "beta-ignored", "beta",
    ("total_variation(image, beta,", "total_variation(image, 2.0,"))
mut(I + "inversion_loss", "mean-mismatch", "sum of squares",
    ("((features - target) ** 2).sum() /", "((features - target) ** 2).mean() /"))
mut(I + "inversion_loss", "no-eps", "eps=1e-8",
    ("eps=1e-8 if beta < 2 else 0.0", "eps=0.0"))

mut(I + "dream_step", "no-roll-back", "roll back",
    ("return torch.roll(new, (-dy, -dx), dims=(-2, -1)), float", "return new, float"))
mut(I + "dream_step", "roll-back-same-way", "roll back",
    ("torch.roll(new, (-dy, -dx), dims=(-2, -1))", "torch.roll(new, (dy, dx), dims=(-2, -1))"))
mut(I + "dream_step", "no-clamp", "clamp",
    ("new = normalized_step(xr, g, lr).clamp(0, 1)", "new = normalized_step(xr, g, lr)"))
mut(I + "dream_step", "no-half", "1/2",
    ("float(0.5 * (a.detach() ** 2).sum())", "float((a.detach() ** 2).sum())"))
mut(I + "dream_step", "backward-ones", "a.backward(a)",
    ("a.backward(a.detach())", "a.sum().backward()"))
mut(I + "dream_step", "unnormalized-step", "mean(|g|)",
    ("new = normalized_step(xr, g, lr).clamp(0, 1)", "new = (xr.detach() + lr * g).clamp(0, 1)"))
mut(I + "dream_step", "objective-mean", "1/2 ||a||^2",
    ("float(0.5 * (a.detach() ** 2).sum())", "float(0.5 * (a.detach() ** 2).mean())"))

mut(I + "octave_sizes", "largest-first", "smallest first",
    ("for i in range(octaves)][::-1]", "for i in range(octaves)]"))
mut(I + "octave_sizes", "int-not-round", "round(",
    ("(round(height / scale ** i), round(width / scale ** i))", "(int(height / scale ** i), int(width / scale ** i))"))
mut(I + "octave_sizes", "full-size-missing", "the last is the full size",
    ("for i in range(octaves)][::-1]", "for i in range(1, octaves + 1)][::-1]"))
mut(I + "octave_sizes", "one-too-many", "octaves sizes",
    ("for i in range(octaves)][::-1]", "for i in range(octaves + 1)][::-1]"))
mut(I + "octave_sizes", "min-size-inclusive", "at least min_size",
    ("if min(sizes[0]) < min_size:", "if min(sizes[0]) <= min_size:"))
mut(I + "octave_sizes", "no-error", "raise a CourseError",
    ("if min(sizes[0]) < min_size:", "if False:"))
mut(I + "octave_sizes", "long-side", "short side",
    ("if min(sizes[0]) < min_size:", "if max(sizes[0]) < min_size:"))

# ============================================================================ notebook 5: style
Y = "style."
mut(Y + "neighbourhood_ssd", "no-mask", "multiply by the mask",
    ("a = weights * mask", "a = weights"))
mut(Y + "neighbourhood_ssd", "no-normalization", "divide by sum(weights * mask)",
    ("return d.clamp_min(0) / total", "return d.clamp_min(0)"))
mut(Y + "neighbourhood_ssd", "divide-by-count", "not by the number of known pixels",
    ("return d.clamp_min(0) / total", "return d.clamp_min(0) / mask.sum()"))
mut(Y + "neighbourhood_ssd", "cross-term-sign", "(patch - neighbourhood)^2",
    ("- 2 * (patches @ (a * neighbourhood))", "+ 2 * (patches @ (a * neighbourhood))"))
mut(Y + "neighbourhood_ssd", "constant-dropped", "constant term",
    (" + (a * neighbourhood ** 2).sum()", ""))
mut(Y + "neighbourhood_ssd", "weights-squared", "weights * mask",
    ("a = weights * mask", "a = weights ** 2 * mask"))

mut(Y + "pick_match", "global-generator", "generator you are given",
    ("torch.randint(len(ok), (1,), generator=generator)", "torch.randint(len(ok), (1,))"))
mut(Y + "pick_match", "strict", "<= (1 + eps) * best",
    ("distances <= best * (1 + eps)", "distances < best * (1 + eps)"))
mut(Y + "pick_match", "additive-eps", "(1 + eps) * best",
    ("distances <= best * (1 + eps)", "distances <= best + eps"))
mut(Y + "pick_match", "always-best", "uniformly at random",
    ("return int(ok[torch.randint(len(ok), (1,), generator=generator)])", "return int(distances.argmin())"))
mut(Y + "pick_match", "index-into-candidates", "index of the candidate",
    ("return int(ok[torch.randint(len(ok), (1,), generator=generator)])",
     "return int(torch.randint(len(ok), (1,), generator=generator))"))
mut(Y + "pick_match", "tensor-not-int", "Python int",
    ("return int(ok[torch.randint(len(ok), (1,), generator=generator)])",
     "return ok[torch.randint(len(ok), (1,), generator=generator)]"))

mut(Y + "gram_matrix", "no-normalization", "divide by H * W",
    ("return f @ f.transpose(-1, -2) / f.shape[-1]", "return f @ f.transpose(-1, -2)"))
mut(Y + "gram_matrix", "chw", "not by C * H * W",
    ("/ f.shape[-1]", "/ (f.shape[-1] * f.shape[-2])"))
mut(Y + "gram_matrix", "by-channels", "the number of positions",
    ("/ f.shape[-1]", "/ f.shape[-2]"))
mut(Y + "gram_matrix", "positions-gram", "(N, C, C)",
    ("f @ f.transpose(-1, -2)", "f.transpose(-1, -2) @ f"))
mut(Y + "gram_matrix", "batch-merged", "each image",
    ("f = features.flatten(-2)", "f = features.transpose(0, -3).reshape(features.shape[-3], -1) if features.ndim == 4 "
     "else features.flatten(-2)"))

mut(Y + "content_loss", "sum", "the mean (not the sum)",
    ("return ((features - target) ** 2).mean()", "return ((features - target) ** 2).sum()"))
mut(Y + "content_loss", "abs", "squared differences",
    ("return ((features - target) ** 2).mean()", "return (features - target).abs().mean()"))
mut(Y + "content_loss", "half", "no factor 1/2",
    ("return ((features - target) ** 2).mean()", "return 0.5 * ((features - target) ** 2).mean()"))
mut(Y + "content_loss", "norm", "squared differences",
    ("return ((features - target) ** 2).mean()", "return (features - target).norm() / (features - target).numel()"))
mut(Y + "content_loss", "swapped", "",
    ("return ((features - target) ** 2).mean()", "return ((target - features) ** 2).mean()"),
    harmless="the square does not care about the order")

mut(Y + "style_loss", "sum-entries", "mean((gram",
    ("** 2).mean()", "** 2).sum()"))
mut(Y + "style_loss", "weights-ignored", "w * mean",
    ("total = total + weights[k] * ((", "total = total + (("))
mut(Y + "style_loss", "last-layer-only", "sum the weighted losses of all",
    ("total = total + weights[k]", "total = weights[k]"))
mut(Y + "style_loss", "layers-of-features", "only the layers in targets",
    ("for k, target in targets.items():", "for k in features:\n        target = targets[k]"))
mut(Y + "style_loss", "features-not-gram", "gram_matrix(features)",
    ("((gram_matrix(features[k]) - target) ** 2).mean()",
     "((features[k].flatten(-2).mean(-1)[..., None] - target) ** 2).mean()"))

mut(Y + "instance_norm", "unbiased", "biased",
    ("unbiased=False", "unbiased=True"))
mut(Y + "instance_norm", "eps-outside-sqrt", "sqrt(var + eps)",
    ("torch.rsqrt(var + eps)", "1 / (var.sqrt() + eps)"))
mut(Y + "instance_norm", "batch-norm", "per image",
    ("torch.var_mean(x, (2, 3),", "torch.var_mean(x, (0, 2, 3),"))
mut(Y + "instance_norm", "layer-norm", "per channel",
    ("torch.var_mean(x, (2, 3),", "torch.var_mean(x, (1, 2, 3),"))
mut(Y + "instance_norm", "divide-by-var", "standard deviation",
    ("torch.rsqrt(var + eps)", "1 / (var + eps)"))
mut(Y + "instance_norm", "no-eps", "eps",
    ("torch.rsqrt(var + eps)", "torch.rsqrt(var)"))

mut(Y + "ConditionalInstanceNorm.forward", "gamma-beta-swapped", "gamma (scale) and beta (shift)",
    ("instance_norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]",
     "instance_norm(x) * beta[:, :, None, None] + gamma[:, :, None, None]"))
mut(Y + "ConditionalInstanceNorm.forward", "argmax-style", "mixing styles mixes gamma and beta",
    ("gamma = style @ self.gamma", "gamma = self.gamma[style.argmax(-1)]"),
    ("beta = style @ self.beta", "beta = self.beta[style.argmax(-1)]"))
mut(Y + "ConditionalInstanceNorm.forward", "batch-mean-style", "its own style weights",
    ("gamma = style @ self.gamma", "gamma = style.mean(0, keepdim=True) @ self.gamma"),
    ("beta = style @ self.beta", "beta = style.mean(0, keepdim=True) @ self.beta"))
mut(Y + "ConditionalInstanceNorm.forward", "affine-before-norm", "normalize first",
    ("return instance_norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]",
     "return instance_norm(x * gamma[:, :, None, None] + beta[:, :, None, None])"))
mut(Y + "ConditionalInstanceNorm.forward", "style-transposed", "",
    ("gamma = style @ self.gamma", "gamma = (self.gamma.T @ style.T).T"),
    harmless="(gamma^T style^T)^T is style @ gamma")
