// Models: training-forward and forward+backward images/s on the CPU, fp32 and bf16 autocast.
import { availableParallelism } from "node:os";

import { Model, type ModelOptions, setThreads, tensor } from "../src/index.js";

const CASES: Array<{ name: string; options: ModelOptions; batch: number; size: number }> = [
  { name: "vit_small/16@224 b8", options: { arch: "vit_small", patchSize: 16, imgSize: 224 }, batch: 8, size: 224 },
  { name: "vit_tiny/4@32 b64", options: { arch: "vit_tiny", patchSize: 4, imgSize: 32 }, batch: 64, size: 32 },
];

export async function run(): Promise<object> {
  setThreads(availableParallelism());
  const results: Record<string, object> = {};
  for (const c of CASES) {
    const model = Model.create({ ...c.options, dropPathRate: 0.1, maskedImModeling: true, seed: 0 });
    const images = tensor(
      Float32Array.from({ length: c.batch * 3 * c.size * c.size }, () => Math.random() - 0.5),
      [c.batch, 3, c.size, c.size],
    );
    const row: Record<string, number> = {};
    for (const precision of ["float32", "bfloat16"] as const) {
      for (const backward of [false, true]) {
        const key = `${precision}_${backward ? "forwardBackward" : "forward"}_imagesPerSecond`;
        row[key] = await model.measureThroughput(images, { precision, backward, iterations: 3 });
      }
    }
    results[c.name] = { threads: availableParallelism(), parameters: model.parameterCount(), ...row };
    images.dispose();
    model.dispose();
  }
  return results;
}
