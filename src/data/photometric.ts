// The photometric parameters of one view, drawn with the probabilities of the method
// (spec section 2): colour jitter (p 0.8: brightness 0.4, contrast 0.4, saturation 0.2,
// hue 0.1, in a random order, as torchvision's ColorJitter), grayscale (p 0.2), Gaussian
// blur with sigma ~ U(0.1, 2) (p per view kind), solarisation (p per view kind).
import type { Random } from "./random.js";

/** Operation ids of the colour jitter, as native/augment numbers them. */
export const JITTER_OPS = ["brightness", "contrast", "saturation", "hue"] as const;

export interface ViewPhotometry {
  /** Colour jitter applied; when false the factors are the identity. */
  jitter: boolean;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  /** Order in which the four jitter ops run (indices into JITTER_OPS). */
  order: [number, number, number, number];
  grayscale: boolean;
  /** Gaussian blur sigma (PIL's radius); 0 = no blur. */
  blurSigma: number;
  solarize: boolean;
}

/** Probabilities that differ between view kinds. */
export interface ViewKind {
  blur: number;
  solarize: number;
}

/** Global view 1, global view 2, local views (spec section 2). */
export const VIEW_KINDS = {
  global1: { blur: 1.0, solarize: 0 },
  global2: { blur: 0.1, solarize: 0.2 },
  local: { blur: 0.5, solarize: 0 },
} as const satisfies Record<string, ViewKind>;

export const JITTER = { probability: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 } as const;
export const GRAYSCALE_PROBABILITY = 0.2;
export const BLUR_SIGMA: readonly [number, number] = [0.1, 2.0];

export function drawPhotometry(random: Random, kind: ViewKind): ViewPhotometry {
  const view: ViewPhotometry = {
    jitter: false,
    brightness: 1,
    contrast: 1,
    saturation: 1,
    hue: 0,
    order: [0, 1, 2, 3],
    grayscale: false,
    blurSigma: 0,
    solarize: false,
  };
  if (random.chance(JITTER.probability)) {
    view.jitter = true;
    view.order = random.permutation(4) as ViewPhotometry["order"];
    view.brightness = random.uniform(1 - JITTER.brightness, 1 + JITTER.brightness);
    view.contrast = random.uniform(1 - JITTER.contrast, 1 + JITTER.contrast);
    view.saturation = random.uniform(1 - JITTER.saturation, 1 + JITTER.saturation);
    view.hue = random.uniform(-JITTER.hue, JITTER.hue);
  }
  view.grayscale = random.chance(GRAYSCALE_PROBABILITY);
  if (random.chance(kind.blur)) view.blurSigma = random.uniform(BLUR_SIGMA[0], BLUR_SIGMA[1]);
  view.solarize = random.chance(kind.solarize);
  return view;
}

/** Columns of one view's row in the native colour table (native/augment/augment.h). */
export const COLOUR_COLUMNS = 12;

export function writeColourRow(view: ViewPhotometry, out: Float32Array, row: number): void {
  const o = row * COLOUR_COLUMNS;
  out[o] = view.jitter ? 1 : 0;
  out[o + 1] = view.brightness;
  out[o + 2] = view.contrast;
  out[o + 3] = view.saturation;
  out[o + 4] = view.hue;
  for (let i = 0; i < 4; i++) out[o + 5 + i] = view.order[i]!;
  out[o + 9] = view.grayscale ? 1 : 0;
  out[o + 10] = view.blurSigma;
  out[o + 11] = view.solarize ? 1 : 0;
}
