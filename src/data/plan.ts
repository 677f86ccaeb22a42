// One step's plan: for every image, 2 global and V_l local views (crop record and
// photometric parameters) and the masks of the global views, all drawn from one seeded
// generator in a fixed order (per image: global views, local views, masks).
// Views are stacked view-major, as the objective expects: row v * B + b is view v of image b.

import type { PhotometryOptions, ViewsOptions } from "./config.js";
import { CROP_RATIO, type CropRecord, randomResizedCrop } from "./crops.js";
import { drawMask } from "./masks.js";
import { BLUR_REFERENCE_SIZE, COLOUR_COLUMNS, drawPhotometry, type GroupPhotometry, type ViewPhotometry, writeColourRow } from "./photometric.js";
import type { Random } from "./random.js";

export const GLOBAL_VIEWS = 2;
/** Columns of a record row: x, y, width, height, flipped (0/1). */
export const RECORD_COLUMNS = 5;
/** Columns of a native box row: image, x, y, width, height, flipped. */
export const BOX_COLUMNS = 6;

/** The views of one output size, view-major. */
export interface ViewGroupPlan {
  size: number;
  viewsPerImage: number;
  records: CropRecord[];
  photometry: ViewPhotometry[];
  /** (views, RECORD_COLUMNS) float32: the objective's input. */
  recordTable: Float32Array;
  /** (views, BOX_COLUMNS) int32 and (views, COLOUR_COLUMNS) float32: native/augment's input. */
  boxes: Int32Array;
  colour: Float32Array;
}

export interface StepPlan {
  images: number;
  global: ViewGroupPlan;
  local: ViewGroupPlan;
  /** Side of the mask grid (globalSize / patchSize). */
  maskSide: number;
  /** (2B, n, n) uint8, view-major like the global views; 1 = masked. */
  masks: Uint8Array;
}

export interface ImageSize {
  width: number;
  height: number;
}

interface DrawnView {
  record: CropRecord;
  photometry: ViewPhotometry;
}

function drawView(random: Random, size: ImageSize, scale: readonly [number, number], photometry: GroupPhotometry): DrawnView {
  const box = randomResizedCrop(size.width, size.height, scale, CROP_RATIO, () => random.next());
  const record = { ...box, flipped: random.chance(0.5) };
  return { record, photometry: drawPhotometry(random, photometry) };
}

/** The photometry of view group `group` (0: global view 1, 1: global view 2, 2: local views) at `viewSize` px. */
export function groupPhotometry(o: PhotometryOptions, group: 0 | 1 | 2, viewSize: number): GroupPhotometry {
  const scale = o.blurSigmaRelative ? viewSize / BLUR_REFERENCE_SIZE : 1;
  return {
    jitter: o.colorJitterProb,
    jitterStrength: o.colorJitterStrength,
    grayscale: o.grayscaleProb,
    blur: o.blurProb[group],
    blurSigma: [o.blurSigma[0] * scale, o.blurSigma[1] * scale],
    solarize: o.solarizationProb[group],
  };
}

function group(size: number, viewsPerImage: number, drawn: DrawnView[][]): ViewGroupPlan {
  const images = drawn.length;
  const total = images * viewsPerImage;
  const out: ViewGroupPlan = {
    size,
    viewsPerImage,
    records: new Array<CropRecord>(total),
    photometry: new Array<ViewPhotometry>(total),
    recordTable: new Float32Array(total * RECORD_COLUMNS),
    boxes: new Int32Array(total * BOX_COLUMNS),
    colour: new Float32Array(total * COLOUR_COLUMNS),
  };
  for (let b = 0; b < images; b++) {
    for (let v = 0; v < viewsPerImage; v++) {
      const row = v * images + b;
      const { record, photometry } = drawn[b]![v]!;
      out.records[row] = record;
      out.photometry[row] = photometry;
      out.recordTable.set([record.x, record.y, record.width, record.height, record.flipped ? 1 : 0], row * RECORD_COLUMNS);
      out.boxes.set([b, record.x, record.y, record.width, record.height, record.flipped ? 1 : 0], row * BOX_COLUMNS);
      writeColourRow(photometry, out.colour, row);
    }
  }
  return out;
}

/** Plans one step for images of the given sizes. */
export function planStep(random: Random, sizes: readonly ImageSize[], views: ViewsOptions): StepPlan {
  const n = views.globalSize / views.patchSize;
  const maskOptions = { ratio: views.maskRatio, ratioVar: views.maskRatioVar, minAspect: views.maskMinAspect };
  const globals: DrawnView[][] = [];
  const locals: DrawnView[][] = [];
  const masks = new Uint8Array(GLOBAL_VIEWS * sizes.length * n * n);
  const [global1, global2, local] = [
    groupPhotometry(views.photometry, 0, views.globalSize),
    groupPhotometry(views.photometry, 1, views.globalSize),
    groupPhotometry(views.photometry, 2, views.localSize),
  ];
  sizes.forEach((size, b) => {
    globals.push([drawView(random, size, views.globalScale, global1), drawView(random, size, views.globalScale, global2)]);
    locals.push(Array.from({ length: views.localCount }, () => drawView(random, size, views.localScale, local)));
    for (let v = 0; v < GLOBAL_VIEWS; v++) {
      masks.set(drawMask(random, n, maskOptions).mask, (v * sizes.length + b) * n * n);
    }
  });
  return {
    images: sizes.length,
    global: group(views.globalSize, GLOBAL_VIEWS, globals),
    local: group(views.localSize, views.localCount, locals),
    maskSide: n,
    masks,
  };
}
