// Options of the data pipeline. The zod schemas are the single source of their types,
// defaults and error messages.
import { z } from "zod";

import { deviceSchema } from "../model/options.js";
import { DEFAULT_MAX_FAILURE_SHARE } from "./failures.js";

const range = (name: string, low: number, high: number) =>
  z
    .tuple([z.number().min(low).max(high), z.number().min(low).max(high)])
    .refine(([a, b]) => a <= b, { message: `${name}: the first bound must not exceed the second` });

const probability = z.number().min(0).max(1);
const perGroup = z.tuple([probability, probability, probability]);

/**
 * The photometric augmentation of each view group (docs/method.md#photometric-augmentation),
 * as fields that the training configuration shares. Defaults are the reference's;
 * probabilities per group are [global view 1, global view 2, local views].
 */
export const photometryFields = {
  blurProb: perGroup.default([1, 0.1, 0.5]).describe("Gaussian blur probability per view group: global view 1, global view 2, local views"),
  blurSigma: z
    .tuple([z.number().min(0), z.number().min(0)])
    .refine(([a, b]) => a <= b, { message: "the first bound must not exceed the second" })
    .default([0.1, 2])
    .describe("Gaussian blur sigma range, in pixels (of a 224 px view when blurSigmaRelative)"),
  blurSigmaRelative: z.boolean().default(false).describe("scale the blur sigma with the view's size (blurSigma is for 224 px)"),
  solarizationProb: perGroup.default([0, 0.2, 0]).describe("solarisation probability per view group: global view 1, global view 2, local views"),
  colorJitterProb: probability.default(0.8).describe("probability of colour jitter"),
  colorJitterStrength: z
    .number()
    .min(0)
    .default(1)
    .describe("colour jitter factors relative to the reference's (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1)"),
  grayscaleProb: probability.default(0.2).describe("probability of turning a view gray"),
};
export const photometrySchema = z.object(photometryFields);
export type PhotometryOptions = z.output<typeof photometrySchema>;

/** The photometry fields of an object that has them (a training configuration). */
export function photometryOf(c: PhotometryOptions): PhotometryOptions {
  const { blurProb, blurSigma, blurSigmaRelative, solarizationProb, colorJitterProb, colorJitterStrength, grayscaleProb } = c;
  return { blurProb, blurSigma, blurSigmaRelative, solarizationProb, colorJitterProb, colorJitterStrength, grayscaleProb };
}

/** Multi-crop views and their masks (docs/method.md#multi-crop-views); defaults are ViT-S/16's. */
export const viewsSchema = z
  .object({
    globalSize: z.number().int().positive().default(224),
    globalScale: range("globalScale", 0, 1).default([0.4, 1]),
    localCount: z.number().int().min(0).default(10),
    localSize: z.number().int().positive().default(96),
    localScale: range("localScale", 0, 1).default([0.05, 0.4]),
    /** The backbone's patch size: masks are on the (globalSize / patchSize)^2 grid. */
    patchSize: z.number().int().positive().default(16),
    maskRatio: z.array(z.number().min(0).max(1)).min(1).default([0, 0.3]),
    maskRatioVar: z.array(z.number().min(0).max(1)).min(1).default([0, 0.2]),
    maskMinAspect: z.number().positive().max(1).default(0.3),
    photometry: photometrySchema.prefault({}),
  })
  .refine((v) => v.globalSize % v.patchSize === 0, {
    message: "globalSize must be a multiple of patchSize (masks cover whole patches)",
  })
  .refine((v) => v.maskRatio.length === v.maskRatioVar.length, {
    message: "maskRatio and maskRatioVar need the same number of entries",
  })
  .refine((v) => v.maskRatio.every((r, i) => r >= (v.maskRatioVar[i] ?? 0)), {
    message: "each maskRatio must be at least its maskRatioVar (ratios cannot go below 0)",
  });

export type ViewsOptions = z.output<typeof viewsSchema>;
export type ViewsInput = z.input<typeof viewsSchema>;

/** The loader: batching, shuffling, sharding, prefetching, failure policy, device. */
export const loaderSchema = z
  .object({
    batchSize: z.number().int().positive().default(64),
    seed: z.number().int().min(0).default(0),
    shuffle: z.boolean().default(true),
    dropLast: z.boolean().default(true),
    /** Batches prepared ahead of the consumer (decoded, planned and augmented). */
    prefetch: z.number().int().min(1).default(2),
    /**
     * LibTorch threads for rendering a batch on the CPU (0: setThreads' count). With 1 (the
     * default) the `prefetch` batches in flight render side by side, and rendering never
     * keeps an OpenMP team of its own beside the training step's (README, Runtime).
     */
    renderThreads: z.number().int().min(0).default(1),
    /** Images decoded at once. */
    decodeConcurrency: z.number().int().positive().default(8),
    rank: z.number().int().min(0).default(0),
    worldSize: z.number().int().positive().default(1),
    /** Share of this rank's images per epoch that may fail to decode before the run stops. */
    maxFailureShare: z.number().min(0).max(1).default(DEFAULT_MAX_FAILURE_SHARE),
    /** Where the views are rendered: "cpu", "cuda", "cuda:1", ... */
    device: deviceSchema,
    views: viewsSchema.default(viewsSchema.parse({})),
    mean: z.tuple([z.number(), z.number(), z.number()]).default([0.485, 0.456, 0.406]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([0.229, 0.224, 0.225]),
  })
  .refine((o) => o.rank < o.worldSize, { message: "rank must be smaller than worldSize" });

export type LoaderOptions = z.output<typeof loaderSchema>;
export type LoaderInput = z.input<typeof loaderSchema>;
