// Fine-tuning steps against an independent PyTorch implementation of iBOT's classification
// recipe (fixtures from test/fixtures/finetune/generate.py): random erasing, CutMix, mixup,
// label smoothing, the soft-target cross-entropy and AdamW with layer-wise lr decay; the losses
// of two steps and the weights after them, with the CLS token and with mean pooling.
import { describe, expect, it } from "vitest";

import { modelOptionsSchema } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { native } from "../../src/native/load.js";
import type { NativeMixPlan } from "../../src/native/surface.js";
import type { Tensor } from "../../src/tensor.js";
import { DEVICES, onDevice } from "../devices.js";
import { maxAbsDiff } from "../model/helpers.js";

const fixture = (name: string) => new URL(`../fixtures/finetune/${name}`, import.meta.url).pathname;
const TOLERANCE = { cpu: 1e-5, cuda: 1e-3 };

const cases = [
  { name: "CLS token", file: "finetune_cls.pth", meanPooling: false },
  { name: "mean pooling under fc_norm", file: "finetune_mean.pth", meanPooling: true },
];

const scalar = (t: Tensor) => Number((t.toArray() as Float64Array | BigInt64Array)[0]);

describe.each(DEVICES)("fine-tuning steps against the PyTorch reference, on %s", (device) => {
  const tolerance = TOLERANCE[device];
  it.runIf(onDevice(device)).each(cases)(
    `$name: the same losses and weights after two steps (${tolerance.toExponential()})`,
    async ({ file, meanPooling }) => {
      const groups = new Map((await readWeightGroups(fixture(file))).map(([k, e]) => [k, new Map(e)]));
      const group = (k: string) => groups.get(k)!;
      const step = new (native().FinetuneStep)({
        network: modelOptionsSchema.parse({ arch: "custom", embedDim: 16, depth: 2, numHeads: 2, patchSize: 4, imgSize: 16, head: false }),
        numClasses: 5,
        meanPooling,
        initScale: 1,
        layerDecay: 0.75,
        clipGrad: 0,
        labelSmoothing: 0.1,
        normalisation: { mean: [0, 0, 0], std: [1, 1, 1] }, // the fixture's images are the classifier's inputs
        precision: "float32",
        device,
      });
      await step.restore({ model: [...group("model")], optimizer: [], iteration: 0, cpuGenerator: group("generator").get("state")! });
      for (const i of [1, 2]) {
        const batch = group(`batch${i}`);
        const box = [...(batch.get("box")!.toArray() as BigInt64Array)].map(Number) as [number, number, number, number];
        const mix: NativeMixPlan = box[0]! < 0 ? { lambda: scalar(batch.get("lambda")!) } : { lambda: scalar(batch.get("lambda")!), box };
        const eraseBoxes = batch.get("erase_boxes")!;
        const { loss } = await step.run(
          { images: batch.get("images")!, labels: batch.get("labels")!, eraseBoxes: eraseBoxes.shape()[0]! > 0 ? eraseBoxes : undefined, mix },
          { lr: 2e-3, weightDecay: 0.05 },
        );
        expect(Math.abs(loss - scalar(group(`loss${i}`).get("loss")!)), `loss of step ${i}`).toBeLessThan(tolerance);
      }
      const expected = group("model_after");
      const ours = await step.state();
      expect(ours.map(([n]) => n).sort()).toEqual([...expected.keys()].sort());
      for (const [name, t] of ours) {
        if (name.endsWith("attn.qkv.bias")) continue;
        expect(maxAbsDiff(t, expected.get(name)!), name).toBeLessThan(tolerance);
      }
      // The key bias has no gradient but rounding noise (softmax ignores a constant per query), which
      // Adam scales up to steps of up to lr: compare its query and value parts, and bound its key part.
      for (const block of [0, 1]) {
        const name = `blocks.${block}.attn.qkv.bias`;
        const [ourBias, theirs, before] = [ours.find(([n]) => n === name)![1], expected.get(name)!, group("model").get(name)!].map(
          (t) => t.toArray() as Float32Array,
        );
        for (let i = 0; i < 48; i++) {
          if (i >= 16 && i < 32) expect(Math.abs(ourBias![i]! - before![i]!), `${name}[${i}] (key)`).toBeLessThanOrEqual(2 * 2e-3 + 1e-6);
          else expect(Math.abs(ourBias![i]! - theirs![i]!), `${name}[${i}]`).toBeLessThan(tolerance);
        }
      }
      // The weights moved: the comparison is not of two unchanged states.
      expect(maxAbsDiff(expected.get("blocks.0.attn.qkv.weight")!, group("model").get("blocks.0.attn.qkv.weight")!)).toBeGreaterThan(1e-4);
      step.dispose();
    },
  );
});
