// Model options: the zod schema is the single source of truth for their types and defaults.
import { z } from "zod";

/** The reference's ViT sizes (docs/method.md#vit-backbone). */
export const ARCHITECTURES = {
  vit_tiny: { embedDim: 192, depth: 12, numHeads: 3 },
  vit_small: { embedDim: 384, depth: 12, numHeads: 6 },
  vit_base: { embedDim: 768, depth: 12, numHeads: 12 },
  vit_large: { embedDim: 1024, depth: 24, numHeads: 16 },
} as const;

const positiveInt = z.number().int().positive();

/** Where a network runs: "cpu", "cuda" or "cuda:N"; every schema with a device uses this one. */
export const deviceSchema = z
  .string()
  .regex(/^(cpu|cuda(:\d+)?)$/, 'expected "cpu", "cuda" or "cuda:N"')
  .default("cpu");

/** The architecture: one of ARCHITECTURES, or "custom" with embedDim, depth and numHeads given; every schema with an arch uses this one. */
export const archSchema = z.enum(["vit_tiny", "vit_small", "vit_base", "vit_large", "custom"]).default("vit_small");

export const headOptionsSchema = z.object({
  outDim: positiveInt.default(8192),
  /** Output size of the patch layer; only differs from outDim with separate heads. */
  patchOutDim: positiveInt.optional(),
  hiddenDim: positiveInt.default(2048),
  bottleneckDim: positiveInt.default(256),
  /** Freeze last_layer.weight_g at 1. */
  normLastLayer: z.boolean().default(true),
  /** Patch tokens go through last_layer too (no last_layer2). */
  sharedHead: z.boolean().default(true),
});

/**
 * What stops a convolutional stem for these sizes, if anything: it has log2(patchSize) stride-2
 * stages, the first with embedDim / (patchSize / 2) channels (embedDim as given, else the arch's).
 */
export function convStemIssue(o: {
  arch: keyof typeof ARCHITECTURES | "custom";
  embedDim?: number | undefined;
  patchSize: number;
}): { path: string[]; message: string } | undefined {
  const { patchSize } = o;
  const embedDim = o.embedDim ?? (o.arch === "custom" ? undefined : ARCHITECTURES[o.arch].embedDim);
  if (patchSize < 2 || (patchSize & (patchSize - 1)) !== 0) {
    return { path: ["patchSize"], message: `must be a power of two (2, 4, 8, 16, ...) with convStem, got ${patchSize}` };
  }
  if (embedDim !== undefined && embedDim % (patchSize / 2) !== 0) {
    return { path: ["embedDim"], message: `must be a multiple of patchSize / 2 (${patchSize / 2}) with convStem, got ${embedDim}` };
  }
  return undefined;
}

export const modelOptionsSchema = z
  .object({
    arch: archSchema,
    /** Width, depth and heads: required for "custom", override the preset otherwise. */
    embedDim: positiveInt.optional(),
    depth: positiveInt.optional(),
    numHeads: positiveInt.optional(),
    mlpRatio: z.number().positive().default(4),
    patchSize: positiveInt.default(16),
    /** patch_embed as a convolutional stem (log2(patchSize) 3x3 stride-2 convolutions) instead of one patchSize convolution. */
    convStem: z.boolean().default(false),
    /** The resolution pos_embed is built for; other sizes are interpolated. */
    imgSize: positiveInt.default(224),
    /** Stochastic depth rate of the last block. */
    dropPathRate: z.number().min(0).max(1).default(0),
    /** Adds masked_embed (the student of masked image modelling). */
    maskedImModeling: z.boolean().default(false),
    /** Separate SERE heads for local views. */
    localHeads: z.boolean().default(true),
    /** The iBOT head, or false for a backbone alone. */
    head: z.union([headOptionsSchema, z.literal(false)]).default(() => headOptionsSchema.parse({})),
    device: deviceSchema,
    dtype: z.enum(["float32", "bfloat16", "float16", "float64"]).default("float32"),
    /** Seed of the initial weights. */
    seed: z.number().int().min(0).optional(),
  })
  .transform((o, ctx) => {
    const preset = o.arch === "custom" ? undefined : ARCHITECTURES[o.arch];
    const embedDim = o.embedDim ?? preset?.embedDim;
    const depth = o.depth ?? preset?.depth;
    const numHeads = o.numHeads ?? preset?.numHeads;
    if (embedDim === undefined || depth === undefined || numHeads === undefined) {
      ctx.addIssue({ code: "custom", path: ["arch"], message: 'arch "custom" needs embedDim, depth and numHeads' });
      return z.NEVER;
    }
    if (embedDim % numHeads !== 0) {
      ctx.addIssue({ code: "custom", path: ["numHeads"], message: `must divide embedDim (${embedDim})` });
    }
    if (o.imgSize % o.patchSize !== 0) {
      ctx.addIssue({ code: "custom", path: ["imgSize"], message: `must be a multiple of patchSize (${o.patchSize})` });
    }
    const stemIssue = o.convStem ? convStemIssue({ ...o, embedDim }) : undefined;
    if (stemIssue) ctx.addIssue({ code: "custom", ...stemIssue });
    const head = o.head === false ? (false as const) : { ...o.head, patchOutDim: o.head.patchOutDim ?? o.head.outDim };
    if (head !== false && head.sharedHead && head.patchOutDim !== head.outDim) {
      ctx.addIssue({ code: "custom", path: ["head", "patchOutDim"], message: "must equal outDim when sharedHead is true" });
    }
    return { ...o, embedDim, depth, numHeads, head };
  });

export type ModelOptions = z.input<typeof modelOptionsSchema>;
export type ResolvedModelOptions = z.output<typeof modelOptionsSchema>;
