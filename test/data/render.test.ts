// native/augment against torchvision's functional ops, and the geometry of rendered views.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";
import { viewsSchema } from "../../src/data/config.js";
import { COLOUR_COLUMNS, IDENTITY_PHOTOMETRY, type ViewPhotometry, writeColourRow } from "../../src/data/photometric.js";
import { planStep } from "../../src/data/plan.js";
import { Random } from "../../src/data/random.js";
import { IMAGENET_NORMALISATION, NO_NORMALISATION, type RgbImage, renderGroups } from "../../src/data/render.js";
import { onDevice, type TestDevice } from "../devices.js";

interface OpCase {
  op: string;
  param: number;
  expected: string;
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "photometric.json"), "utf8")) as {
  height: number;
  width: number;
  image: string;
  ops: OpCase[];
};
const source: RgbImage = {
  width: fixture.width,
  height: fixture.height,
  data: new Uint8Array(Buffer.from(fixture.image, "base64")),
};

function floats(b64: string): Float32Array {
  const bytes = Buffer.from(b64, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function plain(overrides: Partial<ViewPhotometry> = {}): ViewPhotometry {
  return {
    ...IDENTITY_PHOTOMETRY,
    ...overrides,
  };
}

interface View {
  image?: number;
  x: number;
  y: number;
  width: number;
  height: number;
  flipped?: boolean;
  photometry?: ViewPhotometry;
}

/**
 * Renders views of one size without normalisation; returns (views, 3, size, size) values
 * in [0, 1]. `tensorOps`: the batched tensor ops that CUDA runs, here on the CPU.
 */
async function render(images: RgbImage[], size: number, views: View[], device = "cpu", tensorOps = false): Promise<Float32Array> {
  const boxes = new Int32Array(views.length * 6);
  const colour = new Float32Array(views.length * COLOUR_COLUMNS);
  views.forEach((v, i) => {
    boxes.set([v.image ?? 0, v.x, v.y, v.width, v.height, v.flipped ? 1 : 0], i * 6);
    writeColourRow(v.photometry ?? plain(), colour, i);
  });
  const [out] = await renderGroups(images, [{ size, boxes, colour }], NO_NORMALISATION, device, 0, tensorOps);
  expect(out!.shape()).toEqual([views.length, 3, size, size]);
  const values = out!.toArray() as Float32Array;
  out!.dispose();
  return values;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const whole = { x: 0, y: 0, width: fixture.width, height: fixture.height };

// Tolerances: our ops are torchvision's definitions on float32, so they agree to float
// rounding (1e-5); the blur is separable here (2D kernel there), the resize the same
// antialiased bicubic kernel (a = -0.5, as PIL): 1e-4 covers the summation order.
const TOLERANCE: Record<string, number> = {
  brightness: 1e-5,
  contrast: 1e-5,
  saturation: 1e-5,
  hue: 1e-5,
  grayscale: 1e-5,
  solarize: 1e-5,
  blur: 1e-5,
  resize: 1e-4,
};

function photometryFor(c: OpCase): ViewPhotometry {
  switch (c.op) {
    case "brightness":
      return plain({ jitter: true, brightness: c.param });
    case "contrast":
      return plain({ jitter: true, contrast: c.param });
    case "saturation":
      return plain({ jitter: true, saturation: c.param });
    case "hue":
      return plain({ jitter: true, hue: c.param });
    case "grayscale":
      return plain({ grayscale: true });
    case "blur":
      return plain({ blurSigma: c.param });
    case "solarize":
      return plain({ solarize: true });
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

// The CPU renders with per-view loops (native/augment/cpu_render.cc); CUDA with batched
// tensor ops, which run on the CPU too: all are checked against the same fixtures.
const PATHS: Array<{ name: string; device: TestDevice; tensorOps: boolean }> = [
  { name: "per-view loops, on cpu", device: "cpu", tensorOps: false },
  { name: "batched tensor ops (the CUDA path), on cpu", device: "cpu", tensorOps: true },
  // The library's own call: on CUDA it renders with the tensor ops.
  { name: "batched tensor ops, on cuda", device: "cuda", tensorOps: false },
];

for (const path of PATHS) {
  describe.runIf(onDevice(path.device))(`native view rendering: ${path.name}`, () => {
    const draw = (images: RgbImage[], size: number, views: View[]) => render(images, size, views, path.device, path.tensorOps);
    it("an uncropped, unscaled view is the image itself", async () => {
      const out = await draw([source], fixture.width, [whole]);
      const expected = new Float32Array(out.length);
      const n = fixture.width * fixture.height;
      for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) expected[c * n + p] = source.data[p * 3 + c]! / 255;
      expect(maxAbsDiff(out, expected)).toBeLessThan(1e-6);
    });

    for (const c of fixture.ops) {
      it(`${c.op}(${c.param}) matches torchvision's functional op within ${TOLERANCE[c.op]}`, async () => {
        const out =
          c.op === "resize"
            ? await draw([source], c.param, [{ x: 5, y: 3, width: 20, height: 18 }])
            : await draw([source], fixture.width, [{ ...whole, photometry: photometryFor(c) }]);
        const diff = maxAbsDiff(out, floats(c.expected));
        expect(diff).toBeLessThan(TOLERANCE[c.op]!);
      });
    }

    it("renders many views with different ops and parameters in one call, each as its own fixture", async () => {
      const cases = fixture.ops.filter((c) => c.op !== "resize");
      const out = await draw(
        [source],
        fixture.width,
        cases.map((c) => ({ ...whole, photometry: photometryFor(c) })),
      );
      const per = 3 * fixture.width * fixture.height;
      cases.forEach((c, i) => {
        expect(maxAbsDiff(out.subarray(i * per, (i + 1) * per), floats(c.expected)), `${c.op}(${c.param})`).toBeLessThan(TOLERANCE[c.op]!);
      });
    });

    it("applies the jitter ops in the planned order (contrast then brightness differs from brightness then contrast)", async () => {
      const jitter = { jitter: true, brightness: 1.4, contrast: 0.6 };
      const [bc, cb] = await Promise.all([
        draw([source], fixture.width, [{ ...whole, photometry: plain({ ...jitter, order: [0, 1, 2, 3] }) }]),
        draw([source], fixture.width, [{ ...whole, photometry: plain({ ...jitter, order: [1, 0, 2, 3] }) }]),
      ]);
      expect(maxAbsDiff(bc, cb)).toBeGreaterThan(0.01);
      for (const v of [...bc, ...cb]) expect(v >= 0 && v <= 1).toBe(true);
    });

    it("shows the pattern where the record says: crop and flip", async () => {
      // Pixel (x, y) has red 4x, green 5y: a view's values name their source pixel.
      const width = 64;
      const height = 48;
      const data = new Uint8Array(width * height * 3);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([4 * x, 5 * y, 0], (y * width + x) * 3);
      const image = { width, height, data };
      const size = 32;
      const out = await draw([image], size, [
        { x: 10, y: 6, width: size, height: size },
        { x: 10, y: 6, width: size, height: size, flipped: true },
        { x: 30, y: 16, width: size, height: size, flipped: true },
      ]);
      const at = (v: number, c: number, i: number, j: number) => Math.round(out[((v * 3 + c) * size + i) * size + j]! * 255);
      for (const [i, j] of [
        [0, 0],
        [5, 7],
        [31, 31],
        [17, 0],
      ] as const) {
        expect([at(0, 0, i, j), at(0, 1, i, j)]).toEqual([4 * (10 + j), 5 * (6 + i)]);
        expect([at(1, 0, i, j), at(1, 1, i, j)]).toEqual([4 * (10 + size - 1 - j), 5 * (6 + i)]);
        expect([at(2, 0, i, j), at(2, 1, i, j)]).toEqual([4 * (30 + size - 1 - j), 5 * (16 + i)]);
      }
      // A shrunk view keeps the orientation: red falls from left to right when flipped.
      const small = await draw([image], 8, [{ x: 0, y: 0, width: 64, height: 48, flipped: true }]);
      for (let j = 1; j < 8; j++) expect(small[j]!).toBeLessThan(small[j - 1]!);
    });

    it("downscales a fine checkerboard to flat grey, without aliasing", async () => {
      const side = 256;
      const data = new Uint8Array(side * side * 3);
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) data.fill((x + y) % 2 ? 255 : 0, (y * side + x) * 3, (y * side + x) * 3 + 3);
      const out = await draw([{ width: side, height: side, data }], 24, [{ x: 0, y: 0, width: side, height: side }]);
      for (const v of out) expect(Math.abs(v - 0.5)).toBeLessThan(0.02);
    });

    it("renders views of several images in one call, each from its own image", async () => {
      const a = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(40) };
      const b = { width: 10, height: 6, data: new Uint8Array(10 * 6 * 3).fill(200) };
      const out = await draw([a, b], 4, [
        { image: 1, x: 0, y: 0, width: 6, height: 6 },
        { image: 0, x: 2, y: 2, width: 4, height: 4 },
      ]);
      expect(Math.round(out[0]! * 255)).toBe(200);
      expect(Math.round(out[48]! * 255)).toBe(40);
    });
  });
}

/** A textured 150 x 110 image, the method's photometric probabilities, crops shrunk and enlarged. */
function randomPlan() {
  const width = 150;
  const height = 110;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < data.length; p++) data[p] = ((p * 2654435761) >>> 24) ^ ((p % 7) * 30);
  const images = Array.from({ length: 4 }, (_, i) => (i % 2 ? { width, height, data } : { width: height, height: width, data }));
  const views = viewsSchema.parse({ globalSize: 64, localSize: 32, patchSize: 16 });
  const plan = planStep(Random.seeded(3), images, views);
  return { images, plan, groups: [plan.global, plan.local] };
}

describe.runIf(onDevice("cuda"))("native view rendering, on cuda", () => {
  it("renders a whole random plan as the CPU's per-view loops do", async () => {
    const { images, groups } = randomPlan();
    const [loops, cuda] = await Promise.all([
      renderGroups(images, groups, IMAGENET_NORMALISATION, "cpu", 0, false),
      renderGroups(images, groups, IMAGENET_NORMALISATION, "cuda"),
    ]);
    for (let g = 0; g < 2; g++) expect(maxAbsDiff(loops[g]!.toArray() as Float32Array, cuda[g]!.toArray() as Float32Array)).toBeLessThan(5e-4);
    for (const t of [...loops, ...cuda]) t.dispose();
  });
});

describe("native view rendering", () => {
  it("renders a whole random plan the same way on both paths, on cpu", async () => {
    // The per-view loops and the tensor ops agree to float rounding.
    const { images, plan, groups } = randomPlan();
    const [loops, ops] = await Promise.all([
      renderGroups(images, groups, IMAGENET_NORMALISATION, "cpu", 0, false),
      renderGroups(images, groups, IMAGENET_NORMALISATION, "cpu", 0, true),
    ]);
    for (let g = 0; g < 2; g++) {
      const a = loops[g]!.toArray() as Float32Array;
      const b = ops[g]!.toArray() as Float32Array;
      // Normalised values (divided by std ~0.22): 1e-4 of a pixel range is 5e-4 here.
      expect(maxAbsDiff(a, b)).toBeLessThan(5e-4);
    }
    // The plan used every op somewhere: jitter, grayscale, blur, solarisation columns.
    const rows = [plan.global.colour, plan.local.colour].flatMap((c) =>
      Array.from({ length: c.length / COLOUR_COLUMNS }, (_, v) => c.subarray(v * COLOUR_COLUMNS, (v + 1) * COLOUR_COLUMNS)),
    );
    for (const column of [0, 9, 10, 11])
      expect(
        rows.some((row) => row[column]! > 0),
        `column ${column}`,
      ).toBe(true);
    for (const t of [...loops, ...ops]) t.dispose();
  });

  it("rejects bad plans and devices with errors that say what is wrong", async () => {
    await expect(render([source], 8, [{ x: 20, y: 0, width: 20, height: 8 }])).rejects.toThrow(/box .* is not inside its 32x32 image/);
    await expect(render([source], 8, [{ image: 3, ...whole }])).rejects.toThrow(/names image 3 of 1/);
    const { info } = await import("../../src/index.js");
    if (!info().cuda.available) {
      await expect(render([source], 8, [whole], "cuda")).rejects.toThrow(/no usable CUDA; use device 'cpu'/);
    }
    await expect(render([source], 8, [whole], "gpu-please")).rejects.toThrow();
  });
});
