// The photometric parameters of one view, drawn with the probabilities of the method
// (docs/method.md#photometric-augmentation; the defaults of PhotometryOptions in
// config.ts): colour jitter (p 0.8: brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1,
// in a random order, as torchvision's ColorJitter), grayscale (p 0.2), Gaussian blur with
// sigma ~ U(0.1, 2) (p per view group), solarisation (p per view group).
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

/** The reference's jitter factors at strength 1 (torchvision's ColorJitter(0.4, 0.4, 0.2, 0.1)). */
export const JITTER = { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 } as const;
/** Sigmas of `blurSigma` are for a view of this size when they scale with the view. */
export const BLUR_REFERENCE_SIZE = 224;

/** How a view of one group is drawn (PhotometryOptions, src/data/config.ts, resolved for a group). */
export interface GroupPhotometry {
  jitter: number;
  jitterStrength: number;
  grayscale: number;
  blur: number;
  blurSigma: readonly [number, number];
  solarize: number;
}

/** A view's photometry that changes nothing. */
export const IDENTITY_PHOTOMETRY: Readonly<ViewPhotometry> = {
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

export function drawPhotometry(random: Random, p: GroupPhotometry): ViewPhotometry {
  const view: ViewPhotometry = { ...IDENTITY_PHOTOMETRY };
  if (random.chance(p.jitter)) {
    const s = p.jitterStrength;
    view.jitter = true;
    view.order = random.permutation(4) as ViewPhotometry["order"];
    view.brightness = random.uniform(1 - s * JITTER.brightness, 1 + s * JITTER.brightness);
    view.contrast = random.uniform(1 - s * JITTER.contrast, 1 + s * JITTER.contrast);
    view.saturation = random.uniform(1 - s * JITTER.saturation, 1 + s * JITTER.saturation);
    view.hue = random.uniform(-s * JITTER.hue, s * JITTER.hue);
  }
  view.grayscale = random.chance(p.grayscale);
  if (random.chance(p.blur)) view.blurSigma = random.uniform(p.blurSigma[0], p.blurSigma[1]);
  view.solarize = random.chance(p.solarize);
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
