// RandAugment's plan for a batch, drawn as torchvision 0.14's RandAugment(num_ops, magnitude,
// num_magnitude_bins) draws it: for each image, `numOps` ops chosen uniformly among the 14, each
// at bin `magnitude` of its magnitude table, negated with probability 1/2 for the signed ops.
// The pixel work is native (native/augment/rand_augment.h documents each op's units).
import { roundHalfEven } from "./crops.js";
import type { Random } from "./random.js";

/** The ops in torchvision's order; an op's index is its native id. */
export const RAND_AUGMENT_OPS = [
  "Identity",
  "ShearX",
  "ShearY",
  "TranslateX",
  "TranslateY",
  "Rotate",
  "Brightness",
  "Color",
  "Contrast",
  "Sharpness",
  "Posterize",
  "Solarize",
  "AutoContrast",
  "Equalize",
] as const;
export type RandAugmentOp = (typeof RAND_AUGMENT_OPS)[number];

export interface RandAugmentOptions {
  /** Ops per image, applied in order (torchvision's num_ops). */
  numOps: number;
  /** The bin every op takes its magnitude from (torchvision's magnitude). */
  magnitude: number;
  /** Bins of each magnitude table (torchvision's num_magnitude_bins). */
  numMagnitudeBins: number;
}

/** torchvision's defaults. */
export const RAND_AUGMENT_DEFAULTS: Readonly<RandAugmentOptions> = { numOps: 2, magnitude: 9, numMagnitudeBins: 31 };

/** One op's magnitude at each bin (none: the op takes no magnitude) and whether its sign is drawn. */
export interface MagnitudeTable {
  op: RandAugmentOp;
  magnitudes?: Float32Array;
  signed: boolean;
}

/** (images, numOps) row-major: each image's ops and their signed magnitudes, for the native call. */
export interface RandAugmentPlan {
  ops: Int32Array;
  magnitudes: Float32Array;
}

/** `bins` values from `start` to `end`, in float32 (torch.linspace's last bit can differ). */
function linspace(start: number, end: number, bins: number): Float32Array {
  return Float32Array.from({ length: bins }, (_, i) => start + ((end - start) * i) / (bins - 1));
}

/**
 * torchvision's RandAugment._augmentation_space for `height` x `width` images, in the units
 * of the native ops: the same, except Solarize's thresholds, which are torchvision's uint8
 * values / 255 (the images are float in [0, 1]).
 */
export function randAugmentSpace(bins: number, height: number, width: number): MagnitudeTable[] {
  const colour = linspace(0, 0.9, bins);
  const table: Record<RandAugmentOp, Omit<MagnitudeTable, "op">> = {
    Identity: { signed: false },
    ShearX: { magnitudes: linspace(0, 0.3, bins), signed: true },
    ShearY: { magnitudes: linspace(0, 0.3, bins), signed: true },
    TranslateX: { magnitudes: linspace(0, (150 / 331) * width, bins), signed: true },
    TranslateY: { magnitudes: linspace(0, (150 / 331) * height, bins), signed: true },
    Rotate: { magnitudes: linspace(0, 30, bins), signed: true },
    Brightness: { magnitudes: colour, signed: true },
    Color: { magnitudes: colour, signed: true },
    Contrast: { magnitudes: colour, signed: true },
    Sharpness: { magnitudes: colour, signed: true },
    // 8 - round(bin / ((bins - 1) / 4)): torch.round takes halves to the even neighbour.
    Posterize: { magnitudes: Float32Array.from({ length: bins }, (_, i) => 8 - roundHalfEven(i / ((bins - 1) / 4))), signed: false },
    Solarize: { magnitudes: linspace(255, 0, bins).map((threshold) => threshold / 255), signed: false },
    AutoContrast: { signed: false },
    Equalize: { signed: false },
  };
  return RAND_AUGMENT_OPS.map((op) => ({ op, ...table[op] }));
}

/** Each of `images` images' ops and magnitudes; all images are `height` x `width`. */
export function planRandAugment(
  random: Random,
  images: number,
  size: { height: number; width: number },
  options: Readonly<RandAugmentOptions> = RAND_AUGMENT_DEFAULTS,
): RandAugmentPlan {
  const { numOps, magnitude, numMagnitudeBins: bins } = options;
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`RandAugment: numMagnitudeBins must be an integer >= 2, got ${bins}`);
  if (!Number.isInteger(magnitude) || magnitude < 0 || magnitude >= bins) {
    throw new RangeError(`RandAugment: magnitude must be a bin 0..${bins - 1}, got ${magnitude}`);
  }
  if (!Number.isInteger(numOps) || numOps < 0) throw new RangeError(`RandAugment: numOps must be a non-negative integer, got ${numOps}`);
  const space = randAugmentSpace(bins, size.height, size.width);
  const plan: RandAugmentPlan = { ops: new Int32Array(images * numOps), magnitudes: new Float32Array(images * numOps) };
  for (let slot = 0; slot < images * numOps; slot++) {
    // Drawn in torchvision's order: the op, then (for a signed op only) the sign.
    const op = random.int(0, space.length);
    const { magnitudes, signed } = space[op]!;
    const value = magnitudes ? magnitudes[magnitude]! : 0;
    plan.ops[slot] = op;
    plan.magnitudes[slot] = signed && random.chance(0.5) ? -value : value;
  }
  return plan;
}
