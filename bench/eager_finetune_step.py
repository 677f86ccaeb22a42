#!/usr/bin/python3
"""One fine-tuning step in eager PyTorch, written as iBOT's and BEiT's classification code writes
it (evaluation/classification_layer_decay: modeling_finetune.py, optim_factory.py,
engine_for_finetuning.py; timm's Mixup and SoftTargetCrossEntropy): the yardstick of
`npm run bench -- finetune`.

  /usr/bin/python3 bench/eager_finetune_step.py --config '{"embedDim": 192, "depth": 12, ...}'
  /usr/bin/python3 bench/eager_finetune_step.py --config case.json

The configuration (a JSON object, or the path of a JSON file) is the one
bench/native-finetune-step.ts takes: embedDim, depth, numHeads, patchSize, size, classes, batch,
meanPooling, layerDecay, mixLambda, precision ("float32", "bfloat16" or, on CUDA, "float16" with
GradScaler: autocast of the forward), threads, warmup, steps (and optionally lr, seed, device:
"cpu" when absent, "cuda" or "cuda:N").

Each step: the normalisation ((pixels - mean) / std, ImageNet's), timm's batch mixup with the
flipped batch at a fixed lambda and label-smoothed (0.1) one-hot targets mixed alike, the
classifier's forward in autocast (modeling_finetune's VisionTransformer: qkv bias, LayerNorm eps
1e-6, GELU MLP, no drop path; the CLS token after the final norm, or the mean patch token under
fc_norm, into a linear head scaled by init_scale 0.001), the soft-target cross-entropy in
float32, backward, and AdamW over optim_factory.get_parameter_groups' groups: one per (layer,
decayed or not) at lr * layerDecay ** (depth + 1 - layer), no weight decay for 1-D parameters,
biases, cls_token and pos_embed. Synthetic pixels in [0, 1] and labels from a fixed seed; the
same batch every step. The project's step does the same work (no RandAugment, no erasing).

Prints one JSON line as bench/eager_step.py does: seconds per step over the timed steps
(median, min, max, all), the process's peak RSS (MiB) and on CUDA the device's peak
(cudaPeakMiB), the loss of every step and the OpenBLAS kernels that ran. Run it with the
OpenBLAS kernels the project picks (bench/finetune.ts does, as bench/train.ts).
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from eager_step import print_times, read_config, time_steps
from reference_vit import Block, PatchEmbed, trunc_normal_  # bench/reference_vit.py: this script's folder is on sys.path

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SMOOTHING, INIT_SCALE, WEIGHT_DECAY = 0.1, 0.001, 0.05


# ---- The classifier (modeling_finetune.VisionTransformer without layer scale and relative position bias) ----
class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, patch, n = c["embedDim"], c["patchSize"], c["size"] // c["patchSize"]
        self.mean_pooling = c["meanPooling"]
        self.patch_embed = PatchEmbed(patch, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n * n, d))
        self.blocks = nn.ModuleList([Block(d, c["numHeads"], scale_queries=True) for _ in range(c["depth"])])
        self.norm = nn.Identity() if self.mean_pooling else nn.LayerNorm(d, eps=1e-6)
        self.fc_norm = nn.LayerNorm(d, eps=1e-6) if self.mean_pooling else None
        self.head = nn.Linear(d, c["classes"])
        trunc_normal_(self.pos_embed)
        trunc_normal_(self.cls_token)
        self.apply(self._init_weights)
        with torch.no_grad():
            self.head.weight.mul_(INIT_SCALE)
            self.head.bias.mul_(INIT_SCALE)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @staticmethod
    def no_weight_decay():
        return {"pos_embed", "cls_token"}

    def forward_features(self, x):
        x = self.patch_embed(x).float()  # the token stream in float32, as under CUDA autocast
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        if self.fc_norm is not None:
            return self.fc_norm(x[:, 1:].mean(1))
        return x[:, 0]

    def forward(self, x):
        return self.head(self.forward_features(x))


# ---- Optimiser groups (optim_factory.get_parameter_groups with LayerDecayValueAssigner) ---------------
def layer_id_for_vit(name, num_max_layer):
    if name in ("cls_token", "mask_token", "pos_embed") or name.startswith("patch_embed"):
        return 0
    if name.startswith("blocks"):
        return int(name.split(".")[1]) + 1
    return num_max_layer - 1


def parameter_groups(model, weight_decay, layer_decay):
    depth = len(model.blocks)
    scales = [layer_decay ** (depth + 1 - i) for i in range(depth + 2)]
    skip = model.no_weight_decay()
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 1 or name.endswith(".bias") or name in skip:
            group_name, this_weight_decay = "no_decay", 0.0
        else:
            group_name, this_weight_decay = "decay", weight_decay
        layer = layer_id_for_vit(name, depth + 2)
        group = groups.setdefault(f"layer_{layer}_{group_name}",
                                  {"weight_decay": this_weight_decay, "params": [], "lr_scale": scales[layer]})
        group["params"].append(p)
    return list(groups.values())


# ---- Mixing and the loss (timm's Mixup in batch mode at a fixed lambda; SoftTargetCrossEntropy) -------
def one_hot(x, num_classes, on_value=1.0, off_value=0.0):
    x = x.long().view(-1, 1)
    return torch.full((x.size(0), num_classes), off_value, device=x.device).scatter_(1, x, on_value)


def mixup_target(target, num_classes, lam, smoothing):
    off_value = smoothing / num_classes
    on_value = 1.0 - smoothing + off_value
    y1 = one_hot(target, num_classes, on_value, off_value)
    y2 = one_hot(target.flip(0), num_classes, on_value, off_value)
    return y1 * lam + y2 * (1.0 - lam)


class FixedLambdaMixup:
    """timm's Mixup (mode "batch", mixup only) with lambda given instead of drawn from Beta."""

    def __init__(self, lam, num_classes, smoothing):
        self.lam, self.num_classes, self.smoothing = lam, num_classes, smoothing

    def __call__(self, x, target):
        if self.lam != 1.0:
            x_flipped = x.flip(0).mul_(1.0 - self.lam)
            x.mul_(self.lam).add_(x_flipped)
        return x, mixup_target(target, self.num_classes, self.lam, self.smoothing)


class SoftTargetCrossEntropy(nn.Module):
    def forward(self, x, target):
        return torch.sum(-target * F.log_softmax(x, dim=-1), dim=-1).mean()


# ---- The step -----------------------------------------------------------------------------
class EagerFinetuneStep:
    def __init__(self, c):
        self.c = c
        self.device = torch.device(c.get("device", "cpu"))
        # Built on the CPU (the same initial weights from the same seed), then moved.
        self.model = VisionTransformer(c).to(self.device)
        self.model.train()
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, WEIGHT_DECAY, c["layerDecay"]), lr=0.0, weight_decay=0.0)
        self.mixup = FixedLambdaMixup(c["mixLambda"], c["classes"], SMOOTHING)
        self.criterion = SoftTargetCrossEntropy()
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        # float16 (CUDA only) scales the loss, as torch.cuda.amp does: a step whose gradients overflow is skipped.
        self.scaler = None
        if c["precision"] == "float16":
            self.scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()

    def run(self, pixels, labels, schedule):
        c = self.c
        # engine_for_finetuning.train_one_epoch: the schedule's values into the groups.
        for group in self.optimizer.param_groups:
            group["lr"] = schedule["lr"] * group["lr_scale"]
            if group["weight_decay"] > 0:
                group["weight_decay"] = schedule["weightDecay"]
        samples = (pixels - self.mean) / self.std
        samples, targets = self.mixup(samples, labels)
        dtype = torch.float16 if c["precision"] == "float16" else torch.bfloat16
        with torch.autocast(self.device.type, dtype=dtype, enabled=c["precision"] != "float32"):
            outputs = self.model(samples)
        loss = self.criterion(outputs.float(), targets)
        value = loss.item()
        if not math.isfinite(value):
            raise SystemExit(f"the loss is not finite: {value}")
        self.optimizer.zero_grad()
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return {"loss": value}


REQUIRED = ["embedDim", "depth", "numHeads", "patchSize", "size", "classes", "batch", "meanPooling", "layerDecay", "mixLambda",
            "precision", "threads", "warmup", "steps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="the step case: a JSON object or the path of a JSON file")
    args = parser.parse_args()
    c = read_config(args.config, REQUIRED, "bench/finetune.ts")
    if c["size"] % c["patchSize"] != 0:
        raise SystemExit(f"--config: size {c['size']} is not a multiple of patchSize {c['patchSize']}")
    torch.set_num_threads(c["threads"])
    torch.manual_seed(c.get("seed", 0))
    step = EagerFinetuneStep(c)
    pixels = torch.rand(c["batch"], 3, c["size"], c["size"]).to(step.device)
    labels = torch.randint(0, c["classes"], (c["batch"],)).to(step.device)
    schedule = {"lr": c.get("lr", 1e-3), "weightDecay": WEIGHT_DECAY}
    print_times(*time_steps(c, step.device, lambda: step.run(pixels, labels, schedule)), step.device)


if __name__ == "__main__":
    main()
