// Full training steps against an independent PyTorch implementation of docs/method.md (fixtures
// from test/fixtures/train/generate.py): losses, updated weights, centres. Three cases: two
// local views, no local views, and gradients accumulated over two micro-batches; each with one
// intra-op thread (the forwards in turn) and with two (on the CPU, teacher and student forwards side by side).
import { describe, expect, it, onTestFinished } from "vitest";

import { info, modelOptionsSchema, setThreads, tensor } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { native } from "../../src/native/load.js";
import type { NativeEntries } from "../../src/native/surface.js";
import type { Tensor } from "../../src/tensor.js";
import { DEVICES, onDevice } from "../devices.js";
import { maxAbsDiff } from "../model/helpers.js";

const fixture = (name: string) => new URL(`../fixtures/train/${name}`, import.meta.url).pathname;
const LOSSES = ["total", "ibot", "cls", "mim", "spatial", "channel"] as const;

const cases = [
  { name: "two local views", file: "step_reference.pth", locals: true, microBatches: 1 },
  { name: "no local views (--local-crops-number 0)", file: "step_reference_no_locals.pth", locals: false, microBatches: 1 },
  { name: "gradient accumulation over two micro-batches (accum_iter 2)", file: "step_reference_accumulation.pth", locals: true, microBatches: 2 },
].flatMap((c) => [1, 2].map((threads) => ({ ...c, threads })));

// CUDA's kernels (cuDNN's TF32 convolutions among them) round differently: 1e-3 there.
const TOLERANCE = { cpu: 1e-4, cuda: 1e-3 };

describe.each(DEVICES)("one SERE step against the PyTorch reference, on %s", (device) => {
  const tolerance = TOLERANCE[device];
  it.runIf(onDevice(device)).each(cases)(
    `$name, $threads intra-op thread(s): the same losses, student, teacher and centres (${tolerance.toExponential()})`,
    async ({ file, locals, microBatches, threads }) => {
      const threadsBefore = info().threads;
      setThreads(threads);
      onTestFinished(() => setThreads(threadsBefore));
      const groups = new Map((await readWeightGroups(fixture(file))).map(([k, e]) => [k, e]));
      const group = (k: string) => new Map(groups.get(k)!);
      const architecture = { arch: "custom", embedDim: 16, depth: 2, numHeads: 2, patchSize: 4, imgSize: 16, localHeads: locals } as const;
      const head = { outDim: 32, hiddenDim: 16, bottleneckDim: 8, normLastLayer: false, sharedHead: true };
      const step = new (native().SereStep)({
        student: modelOptionsSchema.parse({ ...architecture, head, maskedImModeling: true }),
        teacher: modelOptionsSchema.parse({ ...architecture, head }),
        objective: {
          outDim: 32,
          studentTemp: 0.1,
          centreMomentum: 0.9,
          spatialTeacherTemp: 0.5,
          channelTeacherTemp: 0.1,
          lambda1: 1,
          lambda2: 1,
          alpha: 0.2,
          beta: 0.5,
        },
        globalQuerySide: 3,
        globalKeySide: 3,
        localSide: 0,
        clipGrad: 0.05,
        precision: "float32",
        accumIter: microBatches,
        device,
        sideBySide: true,
      });
      await step.restore({
        student: groups.get("student")!,
        teacher: groups.get("teacher")!,
        optimizer: [],
        centre: tensor(new Float32Array(32), [1, 32]),
        patchCentre: tensor(new Float32Array(32), [1, 1, 32]),
        lossScale: 65536,
        goodSteps: 0,
        iteration: 0,
      });
      const before = group("student");
      for (let i = 0; i < microBatches; i++) {
        const suffix = i === 0 ? "" : String(i + 1);
        const batch = group(`batch${suffix}`);
        const result = await step.run(
          {
            globalViews: batch.get("global_views")!,
            localViews: locals ? batch.get("local_views")! : undefined,
            masks: batch.get("masks")!,
            globalRecords: batch.get("global_records")!,
            localRecords: locals ? batch.get("local_records")! : undefined,
          },
          { lr: 1e-3, weightDecay: 0.04, momentum: 0.9, teacherTemp: 0.04, teacherPatchTemp: 0.05, freezeLastLayer: false },
        );
        const losses = group(`losses${suffix}`);
        for (const key of LOSSES) {
          expect(Math.abs(result[key] - (losses.get(key)!.toArray() as Float32Array)[0]!), `${key}, micro-batch ${i + 1}`).toBeLessThan(tolerance);
        }
        // the optimiser steps at the end of the round only
        expect(result.stepped).toBe(i === microBatches - 1);
        const moved = maxAbsDiff(
          (await step.state("student")).find(([n]) => n === "backbone.blocks.0.attn.qkv.weight")![1],
          before.get("backbone.blocks.0.attn.qkv.weight")!,
        );
        if (i < microBatches - 1) expect(moved).toBe(0);
        else expect(moved).toBeGreaterThan(1e-4);
      }

      const compare = (ours: NativeEntries, expected: Map<string, Tensor>, which: string) => {
        const names = ours.map(([n]) => n).filter((n) => !n.endsWith("num_batches_tracked"));
        expect(names.length).toBeGreaterThan(30);
        for (const [name, t] of ours) {
          if (name.endsWith("num_batches_tracked")) continue;
          expect(expected.has(name), `${which}: ${name}`).toBe(true);
          expect(maxAbsDiff(t, expected.get(name)!), `${which}: ${name}`).toBeLessThan(tolerance);
        }
      };
      compare(await step.state("student"), group("student_after"), "student");
      compare(await step.state("teacher"), group("teacher_after"), "teacher");
      const centres = group("centres");
      const { centre, patchCentre } = await step.centres();
      expect(maxAbsDiff(centre, centres.get("centre")!)).toBeLessThan(tolerance);
      expect(maxAbsDiff(patchCentre, centres.get("patch_centre")!)).toBeLessThan(tolerance);
      step.dispose();
    },
  );
});
