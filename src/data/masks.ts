// Block masks for masked image modelling (BEiT's generator, as iBOT uses it;
// docs/method.md#block-masks): with the default ratios, half the global views get no mask
// and the others a ratio r ~ U(0.1, 0.5), then blocks are added on the n x n patch grid
// until about r * n^2 patches are masked.
import { roundHalfEven } from "./crops.js";
import type { Random } from "./random.js";

export interface MaskOptions {
  /** Candidate mean ratios; one is chosen per view (iBOT's pred_ratio). */
  ratio: readonly number[];
  /** Half-width of the uniform range around each ratio (iBOT's pred_ratio_var). */
  ratioVar: readonly number[];
  /** Smallest block aspect ratio; the largest is its inverse. */
  minAspect: number;
}

export const DEFAULT_MASK_OPTIONS: MaskOptions = { ratio: [0, 0.3], ratioVar: [0, 0.2], minAspect: 0.3 };

/** A block the generator placed (rows top..top+height, columns left..left+width). */
export interface MaskBlock {
  top: number;
  left: number;
  height: number;
  width: number;
  /** The area it was drawn for, before rounding the sides. */
  targetArea: number;
  /** Patches still to mask when it was drawn: the target is uniform in [(n//3)^2, budget]. */
  budget: number;
}

export interface BlockMask {
  /** n x n, row-major, 1 = masked. */
  mask: Uint8Array;
  /** The ratio drawn for this view (0: no mask). */
  ratio: number;
  blocks: MaskBlock[];
}

/** iBOT's get_pred_ratio: one uniform per candidate, then a uniform choice among them. */
export function drawMaskRatio(random: Random, options: MaskOptions): number {
  const candidates = options.ratio.map((mean, i) => {
    const spread = options.ratioVar[i] ?? 0;
    return spread > 0 ? random.uniform(mean - spread, mean + spread) : mean;
  });
  return candidates[random.int(0, candidates.length)]!;
}

/** A block mask on an n x n grid with about ratio * n^2 patches masked. */
export function blockMask(random: Random, n: number, ratio: number, minAspect: number): BlockMask {
  const mask = new Uint8Array(n * n);
  const blocks: MaskBlock[] = [];
  const goal = ratio * n * n;
  const minArea = Math.floor(n / 3) ** 2;
  const logAspect = [Math.log(minAspect), Math.log(1 / minAspect)] as const;
  let count = 0;
  while (count < goal) {
    const budget = goal - count;
    let added = 0;
    for (let attempt = 0; attempt < 10 && added === 0; attempt++) {
      const targetArea = random.uniform(minArea, budget);
      const aspect = Math.exp(random.uniform(logAspect[0], logAspect[1]));
      const h = roundHalfEven(Math.sqrt(targetArea * aspect)); // Python 3 round(), as the reference
      const w = roundHalfEven(Math.sqrt(targetArea / aspect));
      if (w >= n || h >= n) continue;
      const top = random.int(0, n - h + 1);
      const left = random.int(0, n - w + 1);
      let already = 0;
      for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) already += mask[i * n + j]!;
      const fresh = h * w - already;
      if (fresh > 0 && fresh <= budget) {
        for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) mask[i * n + j] = 1;
        added = fresh;
        blocks.push({ top, left, height: h, width: w, targetArea, budget });
      }
    }
    if (added === 0) break;
    count += added;
  }
  return { mask, ratio, blocks };
}

/** One global view's mask: ratio by the method's rule (docs/method.md#block-masks), then blocks. */
export function drawMask(random: Random, n: number, options: MaskOptions = DEFAULT_MASK_OPTIONS): BlockMask {
  return blockMask(random, n, drawMaskRatio(random, options), options.minAspect);
}
