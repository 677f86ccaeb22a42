#!/usr/bin/python3
"""One full SERE training step in eager PyTorch, written as the reference implementation
(iBOT's training loop with SERE's losses) writes it: the yardstick of `npm run bench -- train`.

  /usr/bin/python3 bench/eager_step.py --config '{"embedDim": 192, "depth": 12, ...}'
  /usr/bin/python3 bench/eager_step.py --config case.json

The configuration (a JSON object, or the path of a JSON file) is the one bench/native-step.ts
takes: embedDim, depth, numHeads, patchSize, outDim, hiddenDim, bottleneckDim, sharedHead,
normLastLayer, dropPath, globalSize, localSize, localCount, batch, overlapSize, clipGrad,
alpha, beta, lambda1, lambda2, temperaturePixel, temperatureChannel, precision ("float32",
"bfloat16" or, on CUDA, "float16" with a loss scale: autocast of the forwards), threads, warmup,
steps (and optionally lr, seed, device: "cpu" when absent, "cuda" or "cuda:N").

Each step: teacher forward under no_grad and student forwards (masked global views, local
views) in autocast; the SERE relations, their alignment by grid sampling and the losses in
float32, as loops over view pairs with batched terms (the reference's iBOTLoss and
sere_loss_*); backward; per-parameter gradient clipping; AdamW with two parameter groups;
EMA of the teacher; centre update. As in the reference, the local views' patch outputs of
the head are computed and discarded, and the grids come from the crop records of each
image (here computed batched inside the step; the reference computes them in its data
loader). The views are synthetic, with the crop records and masks of bench/train.ts's
syntheticBatch; the same batch every step.

Run it with the OpenBLAS kernels the project picks (bench/train.ts does: OPENBLAS_CORETYPE,
src/native/cpu.ts); Debian's OpenBLAS takes CPUs newer than it for a Prescott, with SSE3 kernels
about 3x slower on this step.

Prints one JSON line: seconds per step over the timed steps (median, min, max, all), the
process's peak RSS (MiB) and on CUDA the device's peak (cudaPeakMiB), the losses of every step
and the OpenBLAS kernels that ran.
"""
import argparse
import ctypes
import json
import math
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from reference_vit import IBOTHead, Network, VisionTransformer  # bench/reference_vit.py: this script's folder is on sys.path


# ---- Networks (bench/reference_vit.py: docs/method.md#networks, the reference's vision_transformer.py and heads) ---
def network(c, masked, drop_path):
    """The student (masked, with drop path) or the teacher, initialised as the reference does."""
    backbone = VisionTransformer(c["globalSize"], c["patchSize"], c["embedDim"], c["depth"], c["numHeads"], drop_path,
                                 masked=masked, local_heads=c["localCount"] > 0)
    head = IBOTHead(c["embedDim"], c["outDim"], c["hiddenDim"], c["bottleneckDim"], shared_head=c["sharedHead"],
                    norm_last_layer=c["normLastLayer"])
    return Network(backbone, head)


# ---- Crop geometry and alignment (docs/method.md#overlap-grids, docs/method.md#aligning-relations) ---
def overlap_grids(q, k, side):
    """Records (M, 5) = (x, y, w, h, flipped) of pairs -> the (M, s, s, 2) grids on q and on k."""
    ox0, oy0 = torch.maximum(q[:, 0], k[:, 0]), torch.maximum(q[:, 1], k[:, 1])
    ow = torch.minimum(q[:, 0] + q[:, 2], k[:, 0] + k[:, 2]) - ox0
    oh = torch.minimum(q[:, 1] + q[:, 3], k[:, 1] + k[:, 3]) - oy0
    steps = torch.arange(side, dtype=torch.float64, device=q.device) / (side - 1)
    empty = ((ow <= 0) | (oh <= 0)).reshape(-1, 1, 1, 1)

    def place(r):
        u = ((ox0 - r[:, 0]) / r[:, 2]).unsqueeze(1) + steps * (ow / r[:, 2]).unsqueeze(1)
        v = ((oy0 - r[:, 1]) / r[:, 3]).unsqueeze(1) + steps * (oh / r[:, 3]).unsqueeze(1)
        u = torch.where(r[:, 4:5] > 0.5, 1 - u, u)
        gx = (2 * u - 1).unsqueeze(1).expand(-1, side, side)
        gy = (2 * v - 1).unsqueeze(2).expand(-1, side, side)
        return torch.where(empty, torch.tensor(-2.0, dtype=torch.float64, device=q.device), torch.stack([gx, gy], -1)).float()

    return place(q.double()), place(k.double())


def sample(relation, grid_q, grid_k):
    """Relation (M, H, N, N): key axis at grid_k, then query axis at grid_q -> (M, H, Tq, Tk)."""
    m, h, n, _ = relation.shape
    side = int(math.sqrt(n))
    tk, tq = grid_k.shape[1] * grid_k.shape[2], grid_q.shape[1] * grid_q.shape[2]
    keyed = F.grid_sample(relation.reshape(m, h * n, side, side), grid_k, mode="bilinear", align_corners=False)
    keyed = keyed.reshape(m, h, n, tk).transpose(2, 3).reshape(m, h * tk, side, side)
    both = F.grid_sample(keyed, grid_q, mode="bilinear", align_corners=False)
    return both.reshape(m, h, tk, tq).transpose(2, 3)


# ---- Losses (docs/method.md#objective; the reference's iBOTLoss, sere_loss_pixel, sere_loss_channel) -
def ce(targets, logits):
    return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1)


def ibot_loss(c, t_cls, t_patch, s_cls, s_patch, masks, centre, patch_centre, temps):
    views = 2 + c["localCount"]
    s_cls_c = (s_cls / c["studentTemp"]).chunk(views)
    s_patch_c = (s_patch / c["studentTemp"]).chunk(2)
    t_cls_c = F.softmax((t_cls - centre) / temps["cls"], dim=-1).chunk(2)
    t_patch_c = F.softmax((t_patch - patch_centre) / temps["patch"], dim=-1).chunk(2)
    masks_c = masks.chunk(2)
    cls, mim, n_cls, n_mim = 0, 0, 0, 0
    for q in range(2):
        for v in range(views):
            if v == q:
                m = masks_c[v].flatten(-2, -1).float()
                per_image = torch.sum(ce(t_patch_c[q], s_patch_c[v]) * m, dim=-1) / m.sum(-1).clamp(min=1.0)
                mim, n_mim = mim + per_image.mean(), n_mim + 1
            else:
                cls, n_cls = cls + ce(t_cls_c[q], s_cls_c[v]).mean(), n_cls + 1
    return c["lambda1"] * cls / n_cls, c["lambda2"] * mim / n_mim


def spatial_loss(c, teacher_aligned, student_aligned, teacher_raw, student_local, grid_local, grid_global):
    t = (teacher_aligned / c["temperaturePixel"]).chunk(2)
    s = student_aligned.chunk(2)
    t_raw = (teacher_raw / c["temperaturePixel"]).chunk(2)
    s_local = student_local.chunk(c["localCount"]) if c["localCount"] > 0 else []
    total, terms = 0, 0
    for q in range(2):
        total, terms = total + ce(F.softmax(t[q], dim=-1), s[1 - q]).mean(), terms + 1
    for g in range(2):
        for v in range(len(s_local)):
            local = sample(s_local[v], grid_local[g][v], grid_local[g][v])
            glob = sample(t_raw[g], grid_global[g][v], grid_global[g][v])
            total, terms = total + ce(F.softmax(glob, dim=-1), local).mean(), terms + 1
    return total / terms


def channel_loss(c, teacher, student, student_local):
    t = F.softmax(teacher / c["temperatureChannel"], dim=-1).chunk(2)
    s = student.chunk(2)
    s_local = student_local.chunk(c["localCount"]) if c["localCount"] > 0 else []
    total, terms = 0, 0
    for q in range(2):
        total, terms = total + ce(t[q], s[1 - q]).mean(), terms + 1
        for v in range(len(s_local)):
            total, terms = total + ce(t[q], s_local[v]).mean(), terms + 1
    return total / terms


# ---- The step -----------------------------------------------------------------------------
class EagerSereStep:
    def __init__(self, c):
        self.c = c
        self.device = torch.device(c.get("device", "cpu"))
        # Built on the CPU (the same initial weights from the same seed), then moved.
        self.student = network(c, masked=True, drop_path=c["dropPath"]).to(self.device)
        self.teacher = network(c, masked=False, drop_path=0.0).to(self.device)
        self.teacher.load_state_dict(self.student.state_dict(), strict=False)
        for p in self.teacher.parameters():
            p.requires_grad = False
        self.student.train()
        self.teacher.train()  # BatchNorm of the SERE heads uses batch statistics in both
        regularised, not_regularised = [], []
        for name, p in self.student.named_parameters():
            if p.requires_grad:
                (regularised if name.endswith(".bias") or p.dim() >= 2 else not_regularised).append(p)
        self.optimizer = torch.optim.AdamW([{"params": regularised}, {"params": not_regularised, "weight_decay": 0.0}])
        student_params = dict(self.student.named_parameters())
        self.ema_pairs = [(p, student_params[name]) for name, p in self.teacher.named_parameters() if name in student_params]
        self.centre = torch.zeros(1, c["outDim"], device=self.device)
        self.patch_centre = torch.zeros(1, 1, c["outDim"], device=self.device)
        # float16 (CUDA only) scales the loss, as torch.cuda.amp does: a step whose gradients overflow is skipped.
        self.scaler = None
        if c["precision"] == "float16":
            self.scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()

    def grids(self, global_records, local_records):
        c, b = self.c, self.c["batch"]
        g1, g2 = global_records[:b], global_records[b:]
        q1, k1 = overlap_grids(g1, g2, c["overlapSize"][0])
        q2, k2 = overlap_grids(g1, g2, c["overlapSize"][1])
        grid_local, grid_global = [[], []], [[], []]
        side = c["localSize"] // c["patchSize"]
        for g, glob in enumerate([g1, g2]):
            for v in range(c["localCount"]):
                lq, gk = overlap_grids(local_records[v * b:(v + 1) * b], glob, side)
                grid_local[g].append(lq)
                grid_global[g].append(gk)
        return torch.cat([q1, k1]), torch.cat([q2, k2]), grid_local, grid_global

    def run(self, batch, schedule):
        c = self.c
        dtype = torch.float16 if c["precision"] == "float16" else torch.bfloat16
        autocast = torch.autocast(self.device.type, dtype=dtype, enabled=c["precision"] != "float32")
        query_grid, key_grid, grid_local, grid_global = self.grids(batch["global_records"], batch["local_records"])
        with torch.no_grad(), autocast:
            t_tokens, t_channel, t_spatial = self.teacher.backbone(batch["global_views"])
            t_cls, t_patch = self.teacher.head(t_tokens)
        with autocast:
            s_tokens, s_channel, s_spatial = self.student.backbone(batch["global_views"], batch["masks"])
            s_cls, s_patch = self.student.head(s_tokens)
            if c["localCount"] > 0:
                l_tokens, l_channel, l_spatial = self.student.backbone(batch["local_views"], local=True)
                l_cls, _ = self.student.head(l_tokens)  # the local patch outputs are discarded
                s_cls = torch.cat([s_cls, l_cls])
        with torch.no_grad():
            t_aligned = sample(t_spatial[0], query_grid, key_grid)
        s_aligned = sample(s_spatial[1], query_grid, key_grid)
        temps = {"cls": schedule["teacherTemp"], "patch": schedule["teacherPatchTemp"]}
        t_cls, t_patch = t_cls.float(), t_patch.float()
        cls, mim = ibot_loss(c, t_cls, t_patch, s_cls.float(), s_patch.float(), batch["masks"], self.centre, self.patch_centre, temps)
        local = c["localCount"] > 0
        spatial = spatial_loss(c, t_aligned, s_aligned, t_spatial[0], l_spatial[1] if local else None, grid_local, grid_global)
        channel = channel_loss(c, t_channel[0], s_channel[1], l_channel[1] if local else None)
        ibot = cls + mim
        loss = ibot * (4 - c["alpha"] - c["beta"]) / 2 + c["alpha"] * spatial + c["beta"] * channel
        losses = {k: v.item() for k, v in
                  {"total": loss, "ibot": ibot, "cls": cls, "mim": mim, "spatial": spatial, "channel": channel}.items()}
        if not math.isfinite(losses["total"]):
            raise SystemExit(f"the loss is not finite: {losses}")

        self.optimizer.zero_grad()
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clipping sees the true gradients
        else:
            loss.backward()
        if c["clipGrad"] > 0:  # per parameter, as the reference's utils.clip_gradients
            for p in self.student.parameters():
                if p.grad is not None:
                    coef = c["clipGrad"] / (p.grad.data.norm(2) + 1e-6)
                    if coef < 1:
                        p.grad.data.mul_(coef)
        for i, group in enumerate(self.optimizer.param_groups):
            group["lr"] = schedule["lr"]
            if i == 0:
                group["weight_decay"] = schedule["weightDecay"]
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        with torch.no_grad():
            m = schedule["momentum"]
            for t, s in self.ema_pairs:
                t.data.mul_(m).add_((1 - m) * s.detach().data)
            self.centre = self.centre * 0.9 + t_cls.sum(0, keepdim=True) / len(t_cls) * 0.1
            self.patch_centre = self.patch_centre * 0.9 + t_patch.mean(1, keepdim=True).sum(0, keepdim=True) / len(t_patch) * 0.1
        return losses


def synthetic_batch(c):
    """Random views; the crop records and masks of bench/train.ts's syntheticBatch (on the CPU)."""
    b, n = c["batch"], c["globalSize"] // c["patchSize"]

    def record(v):
        return [v * 10, v * 5, 80, 80, v] if v < 2 else [(v * 7) % 60, (v * 11) % 60, 30, 30, v % 2]

    views = lambda count, size: torch.rand(count, 3, size, size) * 2 - 1
    return {
        "global_views": views(2 * b, c["globalSize"]),
        "local_views": views(c["localCount"] * b, c["localSize"]) if c["localCount"] > 0 else None,
        "masks": (torch.arange(2 * b * n * n) % 7 < 2).reshape(2 * b, n, n),
        "global_records": torch.tensor([record(v) for v in range(2) for _ in range(b)], dtype=torch.float32),
        "local_records": torch.tensor([record(v + 2) for v in range(c["localCount"]) for _ in range(b)], dtype=torch.float32).reshape(-1, 5),
    }


REQUIRED = ["embedDim", "depth", "numHeads", "patchSize", "outDim", "hiddenDim", "bottleneckDim", "sharedHead", "normLastLayer",
            "dropPath", "globalSize", "localSize", "localCount", "batch", "overlapSize", "clipGrad", "alpha", "beta", "lambda1",
            "lambda2", "temperaturePixel", "temperatureChannel", "precision", "threads", "warmup", "steps"]


def read_config(text, required=REQUIRED, writer="bench/train.ts's stepCaseOf"):
    """The case (a JSON object, or the path of a JSON file) with every field in `required`,
    its device and precision checked; `writer` is named as what writes the cases."""
    try:
        c = json.loads(text) if text.lstrip().startswith("{") else json.load(open(text))
    except (OSError, ValueError) as err:
        raise SystemExit(f"--config: not a JSON object or a readable JSON file ({err})")
    missing = [k for k in required if k not in c]
    if missing:
        raise SystemExit(f"--config: missing fields {', '.join(missing)} ({writer} writes them all)")
    device = c.get("device", "cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise SystemExit(f'--config: device must be "cpu", "cuda" or "cuda:N", got {device!r}')
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--config: device {device!r}, but this PyTorch ({torch.__version__}) sees no CUDA device: run it where one is, with a CUDA build of PyTorch")
    precisions = ("float32", "bfloat16", "float16") if device.startswith("cuda") else ("float32", "bfloat16")
    if c["precision"] not in precisions:
        raise SystemExit(f'--config: precision must be one of {", ".join(precisions)} on {device}, got {c["precision"]!r}')
    if c["steps"] < 1:
        raise SystemExit("--config: steps must be >= 1")
    if c.get("convStem"):
        raise SystemExit("--config: convStem is true, but the eager step builds the reference's patch embedding only: give convStem false")
    return c


def blas_core():
    """The kernels OpenBLAS runs (as the project's info().blasCore), or None with another BLAS."""
    try:
        name = ctypes.CDLL("libblas.so.3").openblas_get_corename
    except (OSError, AttributeError):
        return None
    name.restype = ctypes.c_char_p
    return name().decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="the step case: a JSON object or the path of a JSON file")
    parser.add_argument("--save", help="also torch.save the initial student, teacher and the batch here (parity checks)")
    args = parser.parse_args()
    c = read_config(args.config)
    torch.set_num_threads(c["threads"])
    torch.manual_seed(c.get("seed", 0))
    step = EagerSereStep(c)
    batch = synthetic_batch(c)
    if args.save:
        state = lambda net: {k: v.detach().clone() for k, v in net.state_dict().items()}
        stored = {k: v.to(torch.uint8) if v.dtype == torch.bool else v for k, v in batch.items() if v is not None}
        torch.save({"student": state(step.student), "teacher": state(step.teacher), "batch": stored}, args.save)
    schedule = {"lr": c.get("lr", 1e-4), "weightDecay": 0.04, "momentum": 0.996, "teacherTemp": 0.04, "teacherPatchTemp": 0.04}
    batch = {k: v.to(step.device) if v is not None else None for k, v in batch.items()}
    print_times(*time_steps(c, step.device, lambda: step.run(batch, schedule)), step.device)


def time_steps(c, device, run):
    """c["warmup"] + c["steps"] calls of run() (each returns its step's losses): the seconds of
    the timed steps and the losses of all."""
    seconds, losses = [], []
    for i in range(c["warmup"] + c["steps"]):
        started = time.perf_counter()
        losses.append(run())
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the step's last kernels (optimizer, EMA) are done
        if i >= c["warmup"]:
            seconds.append(time.perf_counter() - started)
    return seconds, losses


def print_times(seconds, losses, device):
    """The one JSON line of a step process: the timed steps' seconds, the process's peak RSS,
    on CUDA the device's peak, every step's losses, the threads and OpenBLAS kernels."""
    print(json.dumps({
        "secondsPerStep": {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "all": seconds},
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **({"cudaPeakMiB": torch.cuda.max_memory_allocated(device) / 2 ** 20} if device.type == "cuda" else {}),
        "losses": losses,
        "threads": torch.get_num_threads(),
        "blasCore": blas_core(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
