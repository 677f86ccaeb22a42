// Export: a training checkpoint's teacher (or student) backbone as .pth and .safetensors
// with the reference's names (cls_token, blocks.0.attn.qkv.weight, ...), as DINO publishes them.
import { dirname, join, resolve } from "node:path";

import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { makeFolder } from "../io/folders.js";
import { loadBackbone, storedTrainConfig } from "./backbone.js";
import { checkpointKind, runOf } from "./checkpoint.js";

const exportOptionsSchema = z.object({
  /** "teacher" (default) or "student". */
  checkpointKey: z.string().default("teacher"),
  /** Default: the checkpoint's folder. */
  outputDir: z.string().optional(),
});
export type ExportOptions = z.input<typeof exportOptionsSchema>;

/** Writes <outputDir>/<key>_backbone.{pth,safetensors}; returns their paths. */
export async function exportBackbone(checkpoint: string, options: ExportOptions = {}): Promise<string[]> {
  const { checkpointKey: key, outputDir: given } = parseOptions(exportOptionsSchema, options, "export options", { knownFieldsOnly: true });
  const config = await storedTrainConfig(checkpoint);
  if (!config) {
    const fineTuning = (await checkpointKind(checkpoint)) === "fine-tuning";
    throw new Error(
      fineTuning
        ? `${checkpoint} is ${runOf("fine-tuning")} checkpoint: export writes a pretraining run's backbone; evaluation, sere features and --pretrained-weights read this one's as it is`
        : `${checkpoint} is not a sere-torch training checkpoint (it has no "config"); export works on the checkpoint.pth a run writes`,
    );
  }
  const model = await loadBackbone({ ...config, device: "cpu" }, checkpoint, key);
  try {
    const outputDir = resolve(given ?? dirname(checkpoint));
    makeFolder(outputDir);
    const paths = [join(outputDir, `${key}_backbone.pth`), join(outputDir, `${key}_backbone.safetensors`)];
    for (const path of paths) await model.save(path, { part: "backbone" });
    return paths;
  } finally {
    model.dispose();
  }
}
