// What mixup / CutMix do to a batch, drawn as timm's Mixup does in "batch" mode
// (timm/data/mixup.py: _params_per_batch, rand_bbox, cutmix_bbox_and_lam): whether to mix,
// which of the two, the weight lambda ~ Beta(alpha, alpha) and CutMix's box. The pixels and
// the soft targets are mixed natively (native/augment/mix.cc).
import type { Random } from "../data/random.js";
import type { NativeMixPlan } from "../native/surface.js";

export interface MixOptions {
  /** mixup's alpha; 0: off. */
  mixup: number;
  /** CutMix's alpha; 0: off. */
  cutmix: number;
  /** Probability that a batch is mixed at all. */
  mixupProb: number;
  /** With both on: probability of CutMix rather than mixup. */
  mixupSwitchProb: number;
}

export const NO_MIX: NativeMixPlan = { lambda: 1 };

/** This batch's mixing, for images of width x height. */
export function drawMix(random: Random, o: MixOptions, width: number, height: number): NativeMixPlan {
  if (!(o.mixup > 0 || o.cutmix > 0) || !random.chance(o.mixupProb)) return NO_MIX;
  const useCutmix = o.mixup > 0 && o.cutmix > 0 ? random.chance(o.mixupSwitchProb) : o.cutmix > 0;
  const alpha = useCutmix ? o.cutmix : o.mixup;
  const lambda = beta(random, alpha, alpha);
  if (lambda === 1) return NO_MIX;
  if (!useCutmix) return { lambda };
  return cutmixBox(random, lambda, width, height);
}

/**
 * CutMix's box for weight `lambda`: sides sqrt(1 - lambda) of the image's, centred anywhere,
 * clipped to the image; lambda becomes the share the clipped box leaves uncovered.
 */
export function cutmixBox(random: Random, lambda: number, width: number, height: number): NativeMixPlan {
  const ratio = Math.sqrt(1 - lambda);
  const cutH = Math.trunc(height * ratio);
  const cutW = Math.trunc(width * ratio);
  const cy = random.int(0, height);
  const cx = random.int(0, width);
  const clip = (v: number, high: number) => Math.min(Math.max(v, 0), high);
  const y0 = clip(cy - Math.floor(cutH / 2), height);
  const y1 = clip(cy + Math.floor(cutH / 2), height);
  const x0 = clip(cx - Math.floor(cutW / 2), width);
  const x1 = clip(cx + Math.floor(cutW / 2), width);
  return { lambda: 1 - ((y1 - y0) * (x1 - x0)) / (width * height), box: [x0, y0, x1, y1] };
}

/** A standard normal draw (Box-Muller). */
export function normal(random: Random): number {
  const u = 1 - random.next(); // in (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/** A Gamma(shape, 1) draw (Marsaglia and Tsang; shapes below 1 through Gamma(shape + 1) * U^(1/shape)). */
export function gamma(random: Random, shape: number): number {
  if (shape < 1) return gamma(random, shape + 1) * (1 - random.next()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(random);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - random.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** A Beta(a, b) draw, from two Gamma draws. */
export function beta(random: Random, a: number, b: number): number {
  const x = gamma(random, a);
  const y = gamma(random, b);
  return x / (x + y);
}
