// A weights file over 4 GiB (zip64 offsets, records past 4 GiB), such as a ViT-L checkpoint
// with its optimiser state: written by Python's torch.save, read natively. The file is
// made once here, in a temporary folder, and removed after.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { materialize, type StoredTensor, torchLoad } from "../../src/io/torch-load.js";
import { Model } from "../../src/model/model.js";
import { tensor } from "../../src/tensor.js";
import { hasPythonTorch, pythonWithTorch } from "../requirements.js";
import { maxAbsDiff } from "./helpers.js";

const tiny = { arch: "custom", embedDim: 24, depth: 2, numHeads: 2, patchSize: 4, imgSize: 16 } as const;
const images = tensor(
  Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.cos(i)),
  [2, 3, 16, 16],
);
// 2^30 + 2^20 float32 elements: 4 GiB + 4 MiB, stored first, so every other record lies past 4 GiB.
const BIG_ELEMENTS = 2 ** 30 + 2 ** 20;

describe("a .pth file over 4 GiB", () => {
  const dir = mkdtempSync(join(tmpdir(), "sere-large-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(hasPythonTorch())(
    "loads its teacher into a model, and its 4 GiB tensor reads whole",
    async () => {
      const model = Model.create({ ...tiny, head: false, seed: 7 });
      const weights = join(dir, "teacher.pth");
      await model.save(weights);
      const big = join(dir, "big.pth");
      // Untouched pages of torch.empty read as zeros: the 4 GiB cost disk, not memory.
      const script = [
        "import torch",
        `big = torch.empty(${BIG_ELEMENTS}, dtype=torch.float32)`,
        `torch.save({"optimizer": {"big": big}, "teacher": torch.load("${weights}")}, "${big}")`,
      ].join("\n");
      const run = spawnSync(pythonWithTorch()!, ["-c", script], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      expect(statSync(big).size).toBeGreaterThan(2 ** 32);

      const loaded = Model.create({ ...tiny, head: false, seed: 8 });
      const expected = await model.features(images);
      expect(maxAbsDiff(await loaded.features(images), expected)).toBeGreaterThan(1e-3);
      await loaded.load(big); // the teacher, read without the optimiser's 4 GiB
      expect(maxAbsDiff(await loaded.features(images), expected)).toBe(0);

      const root = (await torchLoad(big)) as Map<string, Map<string, StoredTensor>>;
      const stored = root.get("optimizer")!.get("big")!;
      const whole = await materialize(stored, `${big}: optimizer.big`);
      expect(whole.shape()).toEqual([BIG_ELEMENTS]);
      whole.dispose();
      loaded.dispose();
      model.dispose();
    },
    180_000,
  );
});
