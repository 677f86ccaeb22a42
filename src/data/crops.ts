// Random resized crops, drawn exactly as torchvision's RandomResizedCrop.get_params does
// (torchvision 0.14): area fraction uniform in `scale`, log aspect ratio uniform in
// log(`ratio`), 10 tries, then a centre crop clamped to the ratio range. torchvision draws
// its uniforms in float32; the same roundings are applied here so that the same draws
// give the same boxes.

/** Where a view was cut from its source image, in that image's pixels. */
export interface CropRecord {
  x: number;
  y: number;
  width: number;
  height: number;
  flipped: boolean;
}

export type CropBox = Omit<CropRecord, "flipped">;

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * torchvision's RandomResizedCrop box for a `width` x `height` image. `draw` returns
 * uniforms in [0, 1); each of torchvision's random calls consumes one:
 * `uniform_(a, b)` is a + (b - a) * u in float32, `randint(lo, hi)` is lo + floor(u * (hi - lo)).
 */
export function randomResizedCrop(
  width: number,
  height: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  draw: () => number,
): CropBox {
  const area = width * height;
  const logRatio = [Math.fround(Math.log(Math.fround(ratio[0]))), Math.fround(Math.log(Math.fround(ratio[1])))] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * Math.fround(scale[0] + (scale[1] - scale[0]) * draw());
    const aspect = Math.fround(Math.exp(Math.fround(logRatio[0] + (logRatio[1] - logRatio[0]) * draw())));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = Math.floor(draw() * (height - h + 1));
      const x = Math.floor(draw() * (width - w + 1));
      return { x, y, width: w, height: h };
    }
  }
  // Fallback: the largest centred crop whose aspect ratio is inside the range.
  const inRatio = width / height;
  let w = width;
  let h = height;
  const lo = Math.min(ratio[0], ratio[1]);
  const hi = Math.max(ratio[0], ratio[1]);
  if (inRatio < lo) {
    h = roundHalfEven(w / lo);
  } else if (inRatio > hi) {
    w = roundHalfEven(h * hi);
  }
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/** The aspect ratio range of every crop (torchvision's default). */
export const CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

/** DINO's evaluation crop: the centre 224/256 of the shorter side (Resize(256) then CenterCrop(224) at 224 px). */
export const CENTRE_CROP_SHARE = 224 / 256;
