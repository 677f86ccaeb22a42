// Tiny training runs on small generated image folders, for the evaluation tests.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { type TrainConfigInput, Trainer } from "../../src/index.js";
import { writeJpeg } from "../data/helpers.js";

import { TINY_RUN } from "../train/helpers.js";

export { TINY_RUN };

/** `count` small JPEGs in two class folders, "a" and "b". */
export async function writeImageFolder(root: string, count: number): Promise<void> {
  for (const c of ["a", "b"]) mkdirSync(join(root, c), { recursive: true });
  await Promise.all(
    Array.from({ length: count }, (_, i) => writeJpeg(join(root, i % 2 ? "b" : "a", `${String(i).padStart(3, "0")}.jpg`), 24, 20, i)),
  );
}

/** Trains TINY_RUN (with `config` over it) into `outputDir`; the warnings it gave. */
export async function tinyRun(dataPath: string, outputDir: string, config: TrainConfigInput = {}) {
  const trainer = new Trainer({ ...TINY_RUN, dataPath, outputDir, ...config }, { progress: false });
  const warnings: string[] = [];
  trainer.on("warning", (message) => warnings.push(message));
  const result = await trainer.fit();
  return { result, warnings };
}
