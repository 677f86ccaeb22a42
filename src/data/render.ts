// Hands a step plan and its decoded images to native/augment, which renders the views on
// the device in one call: crop + bicubic resize (antialiased when shrinking), flip,
// colour jitter, grayscale, blur, solarisation, normalisation.
import { native } from "../native/load.js";
import type { NativeTensor } from "../native/surface.js";
import type { StepPlan, ViewGroupPlan } from "./plan.js";

/** A decoded image: uint8 RGB, `height` rows of `width` x 3 bytes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Normalisation {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const IMAGENET_NORMALISATION: Normalisation = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/** Leaves pixel values in [0, 1]. */
export const NO_NORMALISATION: Normalisation = { mean: [0, 0, 0], std: [1, 1, 1] };

/** The native layout: the pixel arrays as they are (read in place) and their sizes. */
function sourceImages(images: readonly RgbImage[]): { pixels: Uint8Array[]; sizes: Int32Array } {
  const sizes = new Int32Array(images.length * 2);
  images.forEach((img, i) => {
    if (img.data.length !== img.width * img.height * 3) {
      throw new RangeError(`image ${i}: ${img.data.length} bytes, but ${img.width}x${img.height} RGB needs ${img.width * img.height * 3}`);
    }
    sizes[2 * i] = img.height;
    sizes[2 * i + 1] = img.width;
  });
  return { pixels: images.map((img) => img.data), sizes };
}

/**
 * Renders arbitrary view groups (the building block; renderStep is the usual entry).
 * `tensorOps`: render with the batched tensor ops that CUDA runs, even on the CPU.
 */
export function renderGroups(
  images: readonly RgbImage[],
  groups: readonly Pick<ViewGroupPlan, "size" | "boxes" | "colour">[],
  normalisation: Normalisation,
  device: string,
  threads = 0,
  tensorOps = false,
): Promise<NativeTensor[]> {
  const render = tensorOps ? native().testing.renderViewsWithTensorOps : native().renderViews;
  return render(
    sourceImages(images),
    groups.map((g) => ({ size: g.size, boxes: g.boxes, colour: g.colour })),
    { mean: Float32Array.from(normalisation.mean), std: Float32Array.from(normalisation.std) },
    device,
    threads,
  );
}

/**
 * The global views (2B, 3, S, S) and local views (V_l B, 3, s, s) of a step, view-major.
 * `threads` > 0 sets LibTorch's threads for this render (0: setThreads' count).
 */
export async function renderStep(
  plan: StepPlan,
  images: readonly RgbImage[],
  normalisation: Normalisation,
  device: string,
  threads = 0,
): Promise<{ global: NativeTensor; local: NativeTensor | null }> {
  if (images.length !== plan.images) throw new RangeError(`renderStep: the plan is for ${plan.images} images, got ${images.length}`);
  const groups = plan.local.records.length > 0 ? [plan.global, plan.local] : [plan.global];
  const [global, local] = await renderGroups(images, groups, normalisation, device, threads);
  return { global: global!, local: local ?? null };
}
