// Random erasing's boxes, drawn as timm's RandomErasing (timm/data/random_erasing.py, one box,
// "pixel" mode as the recipe's --remode pixel): with probability p an image gets a box of
// 2% to 1/3 of its area with a log-uniform aspect ratio in [0.3, 1/0.3], placed anywhere it
// fits (10 tries, else none). The noise that fills it is drawn natively.
import type { Random } from "../data/random.js";

const AREA = [0.02, 1 / 3] as const;
const LOG_ASPECT = [Math.log(0.3), Math.log(1 / 0.3)] as const;
const ATTEMPTS = 10;

/** Rows (image, x, y, width, height) for a batch of `count` images of width x height. */
export function drawErasing(random: Random, probability: number, count: number, width: number, height: number): number[][] {
  const boxes: number[][] = [];
  for (let image = 0; image < count; image++) {
    if (probability <= 0 || random.next() > probability) continue;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const area = random.uniform(AREA[0], AREA[1]) * width * height;
      const aspect = Math.exp(random.uniform(LOG_ASPECT[0], LOG_ASPECT[1]));
      const h = Math.round(Math.sqrt(area * aspect));
      const w = Math.round(Math.sqrt(area / aspect));
      if (w < width && h < height) {
        boxes.push([image, random.int(0, width - w + 1), random.int(0, height - h + 1), w, h]);
        break;
      }
    }
  }
  return boxes;
}
