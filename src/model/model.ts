// A ViT backbone with SERE heads and an iBOT head (docs/method.md#networks), held in native memory.
import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { native } from "../native/load.js";
import type { NativeModel, NativeTrainingOutputs } from "../native/surface.js";
import type { Tensor } from "../tensor.js";
import { type ImageBatch, imagesToTensor } from "./images.js";
import { type ModelOptions, modelOptionsSchema, type ResolvedModelOptions } from "./options.js";
import { type Entries, layoutOf, readStateDict, type StoredLayout, toModelNames, writeWeights } from "./weights.js";

const loadOptionsSchema = z.object({
  /** Which state dict of a training checkpoint: "teacher" (default) or "student". */
  checkpointKey: z.string().optional(),
  /**
   * Load only the backbone: a file's head is ignored, and so are the parts only training
   * uses (masked_embed; the SERE heads, which DINO and iBOT weights lack and which keep
   * their values when the file has none). Default: true for a model made without a head.
   */
  backboneOnly: z.boolean().optional(),
});
export type LoadOptions = z.input<typeof loadOptionsSchema>;

const saveOptionsSchema = z.object({
  /** "backbone": the backbone alone, with names relative to it (`cls_token`, `blocks.0...`). */
  part: z.enum(["all", "backbone"]).default("all"),
});
export type SaveOptions = z.input<typeof saveOptionsSchema>;

export class Model {
  readonly options: ResolvedModelOptions;
  private readonly handle: NativeModel;

  private constructor(options: ResolvedModelOptions) {
    this.options = options;
    this.handle = new (native().Model)(options);
  }

  /**
   * A new model with the method's initialisation (docs/method.md#initialisation-and-parameter-names).
   * Throws a ConfigError naming bad options.
   */
  static create(options: ModelOptions = {}): Model {
    return new Model(parseOptions(modelOptionsSchema, options, "model options", { knownFieldsOnly: true }));
  }

  parameterCount(options: { trainableOnly?: boolean } = {}): number {
    return this.handle.parameterCount(options.trainableOnly ?? false);
  }

  /** Names and shapes of the parameters and buffers, under the reference's names. */
  stateShapes(): Array<{ name: string; shape: number[] }> {
    return this.state().map(([name, t]) => {
      const shape = t.shape();
      t.dispose();
      return { name, shape };
    });
  }

  /** Parameters and buffers as tensors that share the model's memory (dispose them after use). */
  state(): Entries {
    return this.handle.state();
  }

  /** The CLS token after the final norm, (B, D); with `tokens`, all tokens (B, 1+N, D). */
  async features(images: ImageBatch | Tensor, options: { tokens?: boolean } = {}): Promise<Tensor> {
    return this.withImages(images, (t) => this.handle.features(t, options.tokens ? "tokens" : "cls"));
  }

  /** The last block's self-attention, (B, heads, 1+N, 1+N). */
  async lastSelfAttention(images: ImageBatch | Tensor): Promise<Tensor> {
    return this.withImages(images, (t) => this.handle.lastSelfAttention(t));
  }

  /**
   * DINO's evaluation features (eval_linear.py's --n_last_blocks, --avgpool_patchtokens): the
   * CLS tokens of the last n blocks (each after the final norm), concatenated, and optionally
   * the last block's mean patch token after them: (B, (n + avgpool) * D).
   */
  async evaluationFeatures(images: ImageBatch | Tensor, options: { nLastBlocks?: number; avgpoolPatchtokens?: boolean } = {}): Promise<Tensor> {
    const n = options.nLastBlocks ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > this.options.depth) {
      throw new RangeError(`evaluationFeatures: nLastBlocks must be an integer in [1, ${this.options.depth}], got ${n}`);
    }
    return this.withImages(images, (t) => this.handle.evaluationFeatures(t, n, options.avgpoolPatchtokens ?? false));
  }

  /** The outputs of the last `n` blocks, each after the final norm, (B, 1+N, D). */
  async intermediateLayers(images: ImageBatch | Tensor, n: number): Promise<Tensor[]> {
    if (!Number.isInteger(n) || n < 1 || n > this.options.depth) {
      throw new RangeError(`intermediateLayers: n must be an integer in [1, ${this.options.depth}], got ${n}`);
    }
    return this.withImages(images, (t) => this.handle.intermediateLayers(t, n));
  }

  /**
   * One network's part of a training step (docs/method.md#forward-passes): head outputs and
   * relations, no gradients; under autocast, as the step runs it, when `precision` is bfloat16
   * or float16 (default float32).
   */
  async trainingForward(
    images: ImageBatch | Tensor,
    options: { mask?: Tensor; local?: boolean; precision?: "float32" | "bfloat16" | "float16" } = {},
  ): Promise<NativeTrainingOutputs> {
    return this.withImages(images, (t) =>
      this.handle.trainingForward(t, { mask: options.mask, local: options.local ?? false, precision: options.precision ?? "float32" }),
    );
  }

  /**
   * Training-forward (+ backward) speed on `images`, in images per second: backbone, SERE
   * heads and head, under autocast when `precision` is bfloat16 or float16. For the
   * benchmarks (the addon's testing entry).
   */
  async measureThroughput(
    images: ImageBatch | Tensor,
    options: { backward?: boolean; precision?: "float32" | "bfloat16" | "float16"; warmup?: number; iterations?: number } = {},
  ): Promise<number> {
    const seconds = await this.withImages(images, (t) =>
      native().testing.throughput(this.handle, t, {
        backward: options.backward ?? false,
        precision: options.precision ?? "float32",
        warmup: options.warmup ?? 1,
        iterations: options.iterations ?? 3,
      }),
    );
    const batch = typeof images.shape === "function" ? images.shape()[0]! : images.shape[0];
    return batch / seconds;
  }

  /** Writes the weights: .safetensors by extension, else torch.save's format (.pth). */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    const { part } = parseOptions(saveOptionsSchema, options, "save options", { knownFieldsOnly: true });
    const entries = this.state();
    try {
      const chosen =
        part === "backbone"
          ? entries.filter(([name]) => name.startsWith("backbone.")).map(([name, t]): [string, Tensor] => [name.slice("backbone.".length), t])
          : entries;
      await writeWeights(path, chosen);
    } finally {
      for (const [, t] of entries) t.dispose();
    }
  }

  /**
   * Loads weights from a .pth (ours or PyTorch's torch.save) or .safetensors file: a state
   * dict with or without `module.`/`backbone.` prefixes, or a training checkpoint's teacher
   * or student. A mismatch throws listing missing, unexpected and wrongly-shaped keys.
   */
  async load(path: string, options: LoadOptions = {}): Promise<void> {
    const { checkpointKey, backboneOnly: onlyBackbone } = parseOptions(loadOptionsSchema, options, "load options", { knownFieldsOnly: true });
    const stored = await readStateDict(path, checkpointKey);
    try {
      const { entries, backboneOnly } = toModelNames(stored.entries);
      try {
        await this.handle.loadState(entries, backboneOnly || (onlyBackbone ?? this.options.head === false));
      } catch (err) {
        const fix = optionsToFit(layoutOf(entries), this.options);
        throw new Error(`cannot load ${path}: ${(err as Error).message}${fix ? `\nThe weights fit a model made with ${fix}.` : ""}`);
      }
    } finally {
      for (const [, t] of stored.entries) t.dispose();
    }
  }

  dispose(): void {
    this.handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private async withImages<T>(images: ImageBatch | Tensor, run: (t: Tensor) => Promise<T>): Promise<T> {
    if (this.options.dtype === "float16" && this.options.device === "cpu") {
      // LibTorch's CPU kernels lack float16 convolutions (1.13): its own error names a kernel
      throw new RangeError(
        'a float16 model runs on CUDA only (it can be made, loaded and saved on the CPU): make it with dtype "bfloat16" or "float32" to run it here',
      );
    }
    if (!("data" in images) && !("pixels" in images)) {
      if (!/^(float|bfloat)/.test(images.dtype())) {
        throw new RangeError(
          `images: a ${images.dtype()} tensor would be taken as normalised values; give uint8 pixels as { pixels, shape } (normalised here) or a float tensor`,
        );
      }
      return run(images);
    }
    const t = imagesToTensor(images);
    try {
      return await run(t);
    } finally {
      t.dispose();
    }
  }
}

/**
 * The options whose values the weights' shapes contradict, as the values that fit them
 * (`convStem: true, patchSize: 8, imgSize: 24`), or "" when their shapes do not say.
 */
function optionsToFit(stored: StoredLayout, options: ResolvedModelOptions): string {
  const fit: string[] = [];
  if (stored.embedDim > 0 && stored.embedDim !== options.embedDim) fit.push(`embedDim: ${stored.embedDim}`);
  if (stored.depth > 0 && stored.depth !== options.depth) fit.push(`depth: ${stored.depth}`);
  const convStem = stored.convStages > 0;
  if (convStem !== options.convStem) fit.push(`convStem: ${convStem}`);
  const patchSize = stored.patchSize || options.patchSize;
  if (patchSize !== options.patchSize) fit.push(`patchSize: ${patchSize}`);
  // The position embedding fixes the grid it was made for; the model still takes any input size.
  if (stored.gridSide > 0 && stored.gridSide * patchSize !== options.imgSize) fit.push(`imgSize: ${stored.gridSide * patchSize}`);
  return fit.join(", ");
}
