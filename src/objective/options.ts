// The objective's options: this zod schema is their one source of truth (types, defaults,
// allowed values). The native objective reads a complete, validated object and defaults nothing.
import { z } from "zod";

import { parseOptions } from "../config/parse.js";

const temperature = z.number().positive();

// A field it does not know is refused by resolveObjectiveOptions, with the names it may have meant.
export const objectiveOptionsSchema = z.object({
  /** K, the iBOT head's output width. */
  outDim: z.number().int().positive().default(8192),
  /** iBOT student temperature (CLS and patches). */
  studentTemp: temperature.default(0.1),
  /** Momentum of both centres: c <- m c + (1 - m) mean. */
  centreMomentum: z.number().min(0).max(1).default(0.9),
  /** temperature_pixel, the spatial loss's teacher temperature. */
  spatialTeacherTemp: temperature.default(0.5),
  /** temperature_channel, the channel loss's teacher temperature. */
  channelTeacherTemp: temperature.default(0.1),
  /** iBOT = lambda1 * CLS + lambda2 * MIM. */
  lambda1: z.number().default(1),
  lambda2: z.number().default(1),
  /** total = iBOT * (4 - alpha - beta) / 2 + alpha * spatial + beta * channel. */
  alpha: z.number().default(1),
  beta: z.number().default(1),
});

/** The options a caller gives: any field may be left out for its default. */
export type SereObjectiveOptions = z.input<typeof objectiveOptionsSchema>;
/** Every field, validated: what the native objective receives. */
export type ResolvedObjectiveOptions = z.output<typeof objectiveOptionsSchema>;

/** Defaults filled in and every field checked; a ConfigError names each bad field otherwise. */
export function resolveObjectiveOptions(options: SereObjectiveOptions = {}): ResolvedObjectiveOptions {
  return parseOptions(objectiveOptionsSchema, options, "SereObjective options", { knownFieldsOnly: true });
}
