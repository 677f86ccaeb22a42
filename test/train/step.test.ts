// The native training step on a tiny network: losses, EMA teacher, centres, freezing, errors.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished, test } from "vitest";

import { info, Model, modelOptionsSchema, setThreads, tensor } from "../../src/index.js";
import { native } from "../../src/native/load.js";
import type { NativeEntries } from "../../src/native/surface.js";
import { DEVICES, onDevice, type TestDevice } from "../devices.js";
import { hasPythonTorch, pythonWithTorch } from "../requirements.js";
import { stepOutcome, TINY_ARCHITECTURE, TINY_HEAD, tinySchedule, tinyStepOptions } from "./helpers.js";

const B = 2;
const LOCALS = 2;
const architecture = TINY_ARCHITECTURE;
const head = TINY_HEAD;
// drop path on: the restored step must continue the generator too
const options = () => tinyStepOptions(0.1);
const optionsOn = (device: TestDevice) => ({ ...options(), device });

function batch(fill?: number) {
  const views = (n: number, size: number) =>
    tensor(
      Float32Array.from({ length: n * 3 * size * size }, (_, i) => fill ?? Math.sin(i * 0.37)),
      [n, 3, size, size],
    );
  // per image: two global crops and two local crops of a 100 x 100 source, (x, y, w, h, flipped)
  const crops = [
    [0, 0, 80, 80, 0],
    [20, 10, 70, 80, 1],
    [10, 10, 30, 30, 0],
    [60, 50, 30, 40, 1],
  ];
  return {
    globalViews: views(2 * B, 16),
    localViews: views(LOCALS * B, 8),
    masks: tensor(
      Uint8Array.from({ length: 2 * B * 16 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      [2 * B, 4, 4],
    ),
    // view-major rows: view v of image b at row v * B + b
    globalRecords: tensor(Float32Array.from([0, 0, 1, 1].flatMap((v) => crops[v]!)), [2 * B, 5]),
    localRecords: tensor(Float32Array.from([2, 2, 3, 3].flatMap((v) => crops[v]!)), [LOCALS * B, 5]),
  };
}

const schedule = tinySchedule;

const asMap = (entries: NativeEntries) => new Map(entries.map(([n, t]) => [n, Float64Array.from(t.toArray() as ArrayLike<number>, Number)]));

describe.each(DEVICES)("the native SERE step, on %s", (device) => {
  const it = test.runIf(onDevice(device));
  it("runs an iteration: finite losses, the teacher is the EMA of the student", async () => {
    const step = new (native().SereStep)(optionsOn(device));
    const teacher0 = asMap(await step.state("teacher"));
    const student0 = asMap(await step.state("student"));
    // teacher and student start from the same weights; masked_embed is the student's alone
    expect(teacher0.get("backbone.blocks.0.attn.qkv.weight")).toEqual(student0.get("backbone.blocks.0.attn.qkv.weight"));
    expect(student0.has("backbone.masked_embed")).toBe(true);
    expect(teacher0.has("backbone.masked_embed")).toBe(false);

    const result = await step.run(batch(), schedule);
    for (const key of ["total", "ibot", "cls", "mim", "spatial", "channel"] as const) expect(Number.isFinite(result[key])).toBe(true);
    expect(result.total).toBeCloseTo((result.ibot * (4 - 1 - 1)) / 2 + result.spatial + result.channel, 5);
    expect(result.stepped).toBe(true);

    const student1 = asMap(await step.state("student"));
    const teacher1 = asMap(await step.state("teacher"));
    for (const name of ["backbone.blocks.0.attn.qkv.weight", "backbone.pos_embed", "head.mlp.0.bias", "backbone.pixel_sere.predictor.0.weight"]) {
      const [t0, s1, t1] = [teacher0.get(name)!, student1.get(name)!, teacher1.get(name)!];
      expect(s1).not.toEqual(student0.get(name)); // the student moved
      t1.forEach((v, i) => {
        expect(v).toBeCloseTo(0.9 * t0[i]! + 0.1 * s1[i]!, 6);
      });
    }
    // the centres moved from zero towards the teacher outputs
    const { centre } = await step.centres();
    expect((centre.toArray() as Float32Array).some((v) => v !== 0)).toBe(true);
    step.dispose();
  });

  it("leaves the last layer alone while it is frozen", async () => {
    const step = new (native().SereStep)(optionsOn(device));
    const before = asMap(await step.state("student"));
    await step.run(batch(), { ...schedule, freezeLastLayer: true });
    const after = asMap(await step.state("student"));
    expect(after.get("head.last_layer.weight_v")).toEqual(before.get("head.last_layer.weight_v"));
    expect(after.get("head.last_layer.weight_g")).toEqual(before.get("head.last_layer.weight_g"));
    expect(after.get("head.mlp.4.weight")).not.toEqual(before.get("head.mlp.4.weight"));
    // Unfrozen, it takes its first AdamW step while the others take their second. Without weight
    // decay a first step moves each element by lr (the bias-corrected m / sqrt(v) is the
    // gradient's sign); a second one would move it by 0.74 lr at most here.
    await step.run(batch(), { ...schedule, weightDecay: 0 });
    const unfrozen = asMap(await step.state("student"));
    const moved = (name: string) => Math.max(...unfrozen.get(name)!.map((v, i) => Math.abs(v - after.get(name)![i]!)));
    expect(moved("head.last_layer.weight_v") / schedule.lr).toBeCloseTo(1, 2);
    step.dispose();
  });

  it("stops with an error when the loss is not finite", async () => {
    const step = new (native().SereStep)(optionsOn(device));
    await expect(step.run(batch(Number.NaN), schedule)).rejects.toThrow(
      /^the loss is not finite \(-?nan\) at iteration 0: training stopped\. Lower the learning rate or raise warmup\.$/,
    );
    step.dispose();
  });
});

describe("the step with two intra-op threads, side by side (teacher and student forwards; halves of the updates)", () => {
  it("turns an error in the student's forward into a rejection, then runs the next batch as one thread would", async () => {
    const threadsBefore = info().threads;
    onTestFinished(() => setThreads(threadsBefore));
    setThreads(2);
    const sideBySideOptions = { ...options(), sideBySide: true };
    const step = new (native().SereStep)(sideBySideOptions);
    // One-channel local views: only the student's forward reads them, so it fails while the teacher's runs.
    const bad = { ...batch(), localViews: tensor(new Float32Array(LOCALS * B * 64), [LOCALS * B, 1, 8, 8]) };
    await expect(step.run(bad, schedule)).rejects.toThrow(/images must be \(B, 3, H, W\), got \[4, 1, 8, 8\]/);
    const sideBySide = await step.run(batch(), schedule);
    step.dispose();

    // The failed iteration drew the student's drop path for the global views: do the same in turn.
    setThreads(1);
    const inTurn = new (native().SereStep)(sideBySideOptions);
    await expect(inTurn.run(bad, schedule)).rejects.toThrow(/images must be \(B, 3, H, W\), got \[4, 1, 8, 8\]/);
    const expected = await inTurn.run(batch(), schedule);
    inTurn.dispose();
    for (const key of ["total", "ibot", "cls", "mim", "spatial", "channel"] as const) expect(sideBySide[key]).toBeCloseTo(expected[key], 4);
  });
});

describe("the step's randomness", () => {
  it("a Model created between two iterations leaves the step's random stream (drop path) alone", async () => {
    const uninterrupted = new (native().SereStep)(options());
    const expected = [stepOutcome(await uninterrupted.run(batch(), schedule)), stepOutcome(await uninterrupted.run(batch(), schedule))];
    uninterrupted.dispose();
    const step = new (native().SereStep)(options());
    const first = stepOutcome(await step.run(batch(), schedule));
    Model.create({ ...architecture, head: false, seed: 5 }).dispose();
    const second = stepOutcome(await step.run(batch(), schedule));
    expect([first, second]).toEqual(expected);
    // and the stream matters: another seed drops other paths
    const other = new (native().SereStep)({ ...options(), seed: 1 });
    await other.run(batch(), schedule);
    expect(stepOutcome(await other.run(batch(), schedule))).not.toEqual(expected[1]);
    step.dispose();
    other.dispose();
  });

  it("the same seed gives the same initial weights, whatever was drawn before", () => {
    const first = Model.create({ ...architecture, head, seed: 7 });
    Model.create({ ...architecture, head, seed: 8 }).dispose();
    const again = Model.create({ ...architecture, head, seed: 7 });
    expect(asMap(again.state())).toEqual(asMap(first.state()));
    first.dispose();
    again.dispose();
  });
});

describe.each(DEVICES)("fp16's loss scale, on %s", (device) => {
  // On CUDA in float16 itself, the precision the scale is for; on the CPU the scale alone.
  const precision = device === "cuda" ? { precision: "float16" as const } : {};
  test.runIf(onDevice(device))(
    "an overflowing step skips the student's update, halves the scale and still moves the teacher (as the reference)",
    async () => {
      const step = new (native().SereStep)({ ...optionsOn(device), ...precision, lossScaling: true });
      const student0 = await step.state("student");
      // a teacher away from the student, so that the EMA shows; a scale that overflows float32
      const elsewhere = new (native().SereStep)({ ...optionsOn(device), ...precision, seed: 9 });
      const teacher0 = await elsewhere.state("teacher");
      elsewhere.dispose();
      const { centre, patchCentre } = await step.centres();
      await step.restore({ student: student0, teacher: teacher0, optimizer: [], centre, patchCentre, lossScale: 3e38, goodSteps: 0, iteration: 0 });
      const result = await step.run(batch(), schedule);
      expect(result).toMatchObject({ stepped: false, skipped: true, lossScale: 1.5e38 });
      const [s0, t0] = [asMap(student0), asMap(teacher0)];
      const [s1, t1] = [asMap(await step.state("student")), asMap(await step.state("teacher"))];
      for (const name of ["backbone.blocks.0.attn.qkv.weight", "backbone.pos_embed"]) {
        expect(s1.get(name), name).toEqual(s0.get(name)); // the student was not updated
        expect(t1.get(name), name).not.toEqual(t0.get(name)); // the teacher was
        t1.get(name)!.forEach((v, i) => {
          expect(v).toBeCloseTo(0.9 * t0.get(name)![i]! + 0.1 * s0.get(name)![i]!, 6);
        });
      }
      step.dispose();
    },
  );
});

describe("training checkpoints", () => {
  it("a restored step continues exactly as the uninterrupted one (CPU)", async () => {
    const { readTrainingCheckpoint, disposeCheckpoint } = await import("../../src/train/checkpoint.js");
    const path = join(mkdtempSync(join(tmpdir(), "sere-ckpt-")), "checkpoint.pth");

    const first = new (native().SereStep)(options());
    await first.run(batch(), schedule);
    await first.save(path, { epoch: 1, config: '{"lr":0.001}' });
    const uninterrupted = [stepOutcome(await first.run(batch(), schedule)), stepOutcome(await first.run(batch(), { ...schedule, lr: 5e-4 }))];

    // other initial weights and an iteration of their own (the update's flat buffers laid), then the checkpoint
    const second = new (native().SereStep)({ ...options(), seed: 123 });
    await second.run(batch(), schedule);
    const checkpoint = await readTrainingCheckpoint(path);
    expect(checkpoint.extra.get("epoch")).toBe(1);
    expect(checkpoint.extra.get("config")).toBe('{"lr":0.001}');
    expect(checkpoint.state.iteration).toBe(1);
    await second.restore(checkpoint.state);
    disposeCheckpoint(checkpoint);
    const resumed = [stepOutcome(await second.run(batch(), schedule)), stepOutcome(await second.run(batch(), { ...schedule, lr: 5e-4 }))];
    expect(resumed).toEqual(uninterrupted);
    first.dispose();
    second.dispose();
  });
});

describe.runIf(hasPythonTorch())("training checkpoints in Python", () => {
  // PyTorch's weights-only unpickler (torch.load's default from 2.6) allows tensors, storages and
  // plain containers; LibTorch's own writer wrapped typed dicts in torch.jit._pickle calls, which it
  // refuses. (1.13's weights-only unpickler cannot read floats at all, so its verdict is not asked.)
  it("holds only what PyTorch's weights-only torch.load allows, and Python reads its parts, iteration and teacher", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "sere-ckpt-py-")), "checkpoint.pth");
    const step = new (native().SereStep)(options());
    onTestFinished(() => step.dispose());
    await step.run(batch(), schedule);
    await step.save(path, { epoch: 1, config: '{"lr":0.001}' });
    const script = [
      "import json, pickletools, zipfile, torch",
      `z = zipfile.ZipFile("${path}")`,
      'program = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))',
      'calls = sorted({arg for op, arg, _ in pickletools.genops(program) if op.name in ("GLOBAL", "STACK_GLOBAL")})',
      `d = torch.load("${path}")`,
      'print(json.dumps({"globals": calls, "keys": sorted(d), "iteration": d["iteration"], "epoch": d["epoch"],',
      '  "teacher": {k: float(v.double().sum()) for k, v in d["teacher"].items()},',
      // The step keeps its parameters and moments as slices of flat buffers: each must be saved
      // as its own elements, and the shared head's alias as the tensor it aliases.
      '  "owned": [k for part in ("student", "teacher") for k, v in d[part].items() if v.storage().size() != v.numel()]',
      '    + [k for k, s in d["optimizer"]["state"].items() for v in (s["exp_avg"], s["exp_avg_sq"]) if v.storage().size() != v.numel()],',
      '  "aliased": d["student"]["head.last_layer2.weight_v"].data_ptr() == d["student"]["head.last_layer.weight_v"].data_ptr()}))',
    ].join("\n");
    const run = spawnSync(pythonWithTorch()!, ["-c", script], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const read = JSON.parse(run.stdout) as {
      globals: string[];
      keys: string[];
      iteration: number;
      epoch: number;
      teacher: Record<string, number>;
      owned: string[];
      aliased: boolean;
    };
    expect(read.owned).toEqual([]);
    expect(read.aliased).toBe(true);
    const allowed = /^(torch\._utils _rebuild_tensor_v2|torch [A-Za-z]+Storage|collections OrderedDict)$/;
    expect(read.globals.filter((g) => !allowed.test(g))).toEqual([]);
    expect(read.globals).toContain("torch._utils _rebuild_tensor_v2");
    expect(read.keys).toEqual(["config", "cpu_generator", "epoch", "fp16_scaler", "ibot_loss", "iteration", "optimizer", "student", "teacher"]);
    expect(read.iteration).toBe(1);
    expect(read.epoch).toBe(1);
    const teacher = await step.state("teacher");
    expect(Object.keys(read.teacher).sort()).toEqual(teacher.map(([name]) => name).sort());
    for (const [name, t] of teacher) {
      const sum = Array.from(t.toArray() as ArrayLike<number | bigint>, Number).reduce((a, b) => a + b, 0);
      expect(read.teacher[name]).toBeCloseTo(sum, 3);
      t.dispose();
    }
  });
});

describe("AdamW parameter groups (docs/method.md#adamw-parameter-groups)", () => {
  it("regularise every >= 2-D parameter and every bias; not norm weights; frozen ones left out", () => {
    const step = new (native().SereStep)({
      ...options(),
      student: modelOptionsSchema.parse({ ...architecture, head: { ...head, normLastLayer: true }, maskedImModeling: true }),
    });
    const [regularised, notRegularised] = step.parameterGroups();
    for (const name of [
      "backbone.cls_token",
      "backbone.pos_embed",
      "backbone.masked_embed",
      "backbone.blocks.0.attn.qkv.weight",
      "backbone.blocks.0.attn.qkv.bias",
      "backbone.norm.bias",
      "backbone.channel_sere.projection.0.bias",
      "head.mlp.0.bias",
      "head.last_layer.weight_v",
    ]) {
      expect(regularised, name).toContain(name);
    }
    for (const name of [
      "backbone.norm.weight",
      "backbone.blocks.1.norm2.weight",
      "backbone.channel_sere.projection.0.weight",
      "backbone.pixel_sere.predictor.1.weight",
    ]) {
      expect(notRegularised, name).toContain(name);
    }
    // norm_last_layer freezes weight_g: in no group
    expect([...regularised, ...notRegularised]).not.toContain("head.last_layer.weight_g");
    step.dispose();
  });
});
