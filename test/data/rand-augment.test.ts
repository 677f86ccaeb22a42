// RandAugment: the native ops against torchvision's _apply_op (fixtures/rand_augment.json, from
// make_rand_augment.py), and the planner's draws against torchvision's RandAugment.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";
import { planRandAugment, RAND_AUGMENT_DEFAULTS, RAND_AUGMENT_OPS, type RandAugmentOp, randAugmentSpace } from "../../src/data/rand-augment.js";
import { Random } from "../../src/data/random.js";
import { native } from "../../src/native/load.js";
import { tensor } from "../../src/tensor.js";

interface Batch {
  height: number;
  width: number;
  images: string;
  /** alternatives: [flat index, values] where a point halfway between two pixels may take either (affine ops). */
  cases: Array<{ op: RandAugmentOp; magnitude: number; expected: string; alternatives?: Array<[number, number[]]> }>;
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "rand_augment.json"), "utf8")) as {
  bins: number;
  tables: Array<{ height: number; width: number; ops: Array<{ op: RandAugmentOp; signed: boolean; magnitudes: number[] | null }> }>;
  batches: Batch[];
  sequences: { height: number; width: number; images: string; ops: RandAugmentOp[][]; magnitudes: number[][]; expected: string };
};

function floats(b64: string): Float32Array {
  const bytes = Buffer.from(b64, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const opIndex = (op: RandAugmentOp) => RAND_AUGMENT_OPS.indexOf(op);

/** testing.randAugment on (N, 3, height, width) images with (N, K) ops and magnitudes. */
async function randAugment(images: Float32Array, height: number, width: number, ops: Int32Array, magnitudes: Float32Array): Promise<Float32Array> {
  const n = images.length / (3 * height * width);
  using input = tensor(images, [n, 3, height, width]);
  using opTable = tensor(ops, [n, ops.length / n]);
  using magnitudeTable = tensor(magnitudes, [n, ops.length / n]);
  using out = await native().testing.randAugment(input, opTable, magnitudeTable);
  expect(out.shape()).toEqual([n, 3, height, width]);
  return out.toArray() as Float32Array;
}

// Nearest sampling copies pixels (or 0 outside), Posterize, Equalize and Solarize give whole
// uint8 steps or 1 - x, and AutoContrast takes torchvision's float ops: all exact (the affine ops
// up to the pixels halfway between two, which may take either). The blends agree to float
// rounding: the ratio and 1 - ratio are rounded in another order, and Sharpness' smoothing sums
// in another order.
const TOLERANCE: Record<RandAugmentOp, number> = {
  Identity: 0,
  ShearX: 0,
  ShearY: 0,
  TranslateX: 0,
  TranslateY: 0,
  Rotate: 0,
  Brightness: 1e-5,
  Color: 1e-5,
  Contrast: 1e-5,
  Sharpness: 1e-5,
  Posterize: 0,
  Solarize: 0,
  AutoContrast: 0,
  Equalize: 0,
};

describe("RandAugment's native ops, on cpu", () => {
  for (const batch of fixture.batches) {
    const images = floats(batch.images);
    const n = images.length / (3 * batch.height * batch.width);
    for (const c of batch.cases) {
      it(`${c.op}(${c.magnitude}) on ${n} image(s) of ${batch.height}x${batch.width} matches torchvision's within ${TOLERANCE[c.op]}`, async () => {
        const ops = new Int32Array(n).fill(opIndex(c.op));
        const out = await randAugment(images, batch.height, batch.width, ops, new Float32Array(n).fill(c.magnitude));
        const expected = floats(c.expected);
        // Halfway between two pixels the last bit of the sampling grid picks one (torchvision's own
        // pick depends on its BLAS kernel): either value is torchvision's, as the fixture lists them.
        for (const [index, values] of c.alternatives ?? []) {
          expect(values).toContain(out[index]);
          expected[index] = out[index]!;
        }
        expect(maxAbsDiff(out, expected)).toBeLessThanOrEqual(TOLERANCE[c.op]);
      });
    }
  }

  it("applies each image's ops in order, an op drawn by several images at one position with each its own magnitude", async () => {
    const s = fixture.sequences;
    const out = await randAugment(
      floats(s.images),
      s.height,
      s.width,
      Int32Array.from(s.ops.flat(), opIndex),
      Float32Array.from(s.magnitudes.flat()),
    );
    expect(maxAbsDiff(out, floats(s.expected))).toBeLessThan(1e-5);
  });

  it("gives a planned batch the same images as each image's ops one call at a time", async () => {
    const batch = fixture.batches[0]!;
    const { height, width } = batch;
    const images = floats(batch.images);
    const plane = 3 * height * width;
    const n = images.length / plane;
    const plan = planRandAugment(Random.seeded(4), n, { height, width }, { ...RAND_AUGMENT_DEFAULTS, numOps: 4 });
    const together = await randAugment(images, height, width, plan.ops, plan.magnitudes);
    for (let i = 0; i < n; i++) {
      let image: Float32Array = images.slice(i * plane, (i + 1) * plane);
      for (let k = 0; k < 4; k++) {
        image = await randAugment(
          image,
          height,
          width,
          plan.ops.subarray(i * 4 + k, i * 4 + k + 1),
          plan.magnitudes.subarray(i * 4 + k, i * 4 + k + 1),
        );
      }
      expect(maxAbsDiff(together.subarray(i * plane, (i + 1) * plane), image)).toBeLessThan(1e-6);
    }
  });

  it("refuses what torchvision refuses, by name", async () => {
    const image = new Float32Array(3 * 4 * 4).fill(0.5);
    const one = (op: RandAugmentOp, magnitude: number) => randAugment(image, 4, 4, Int32Array.of(opIndex(op)), Float32Array.of(magnitude));
    await expect(one("Brightness", -1.5)).rejects.toThrow(/Brightness magnitude -1.5 is below -1/);
    await expect(one("Posterize", 9)).rejects.toThrow(/Posterize keeps 0 to 8 bits, got 9/);
    await expect(one("Solarize", 128)).rejects.toThrow(/Solarize threshold is a fraction of 1/);
    await expect(randAugment(image, 4, 4, Int32Array.of(14), Float32Array.of(0))).rejects.toThrow(/op 0 is 14, not an op index 0\.\.13/);
    using input = tensor(image, [1, 3, 4, 4]);
    using ops = tensor(Int32Array.of(1, 2), [2, 1]);
    using magnitudes = tensor(Float32Array.of(0, 0), [2, 1]);
    await expect(native().testing.randAugment(input, ops, magnitudes)).rejects.toThrow(/ops must be integer \(N, K\) with N = 1/);
    expect(() => native().testing.randAugment({} as never, ops, magnitudes)).toThrow("randAugment: images must be a Tensor");
  });
});

describe("RandAugment's plan", () => {
  it("has torchvision's magnitude tables (Solarize in fractions of 1: torchvision's uint8 thresholds / 255)", () => {
    for (const t of fixture.tables) {
      const ours = randAugmentSpace(fixture.bins, t.height, t.width);
      expect(ours.map((o) => [o.op, o.signed])).toEqual(t.ops.map((o) => [o.op, o.signed]));
      t.ops.forEach((theirs, i) => {
        const mine = ours[i]!.magnitudes;
        if (theirs.magnitudes === null) {
          expect(mine).toBeUndefined();
          return;
        }
        expect(mine).toHaveLength(fixture.bins);
        theirs.magnitudes.forEach((value, bin) => {
          const expected = theirs.op === "Solarize" ? Math.fround(value / 255) : value;
          // float32 linspace: LibTorch's and ours can differ in the last bit, never in the whole pixels of a translation
          expect(Math.abs(mine![bin]! - expected)).toBeLessThanOrEqual(Math.abs(expected) * 2 ** -23);
          if (theirs.op.startsWith("Translate")) expect(Math.trunc(mine![bin]!)).toBe(Math.trunc(expected));
        });
      });
    }
  });

  it("takes bin 9 of 31 as torchvision's tables give it, worked by hand", () => {
    const { width, height } = { width: 224, height: 160 };
    const at9 = Object.fromEntries(randAugmentSpace(31, height, width).map((o) => [o.op, o.magnitudes?.[9]]));
    const expected: Record<RandAugmentOp, number | undefined> = {
      Identity: undefined,
      ShearX: (0.3 * 9) / 30,
      ShearY: (0.3 * 9) / 30,
      TranslateX: ((150 / 331) * width * 9) / 30, // 30.45 px: the op moves 30
      TranslateY: ((150 / 331) * height * 9) / 30, // 21.75 px: 21
      Rotate: (30 * 9) / 30, // degrees
      Brightness: (0.9 * 9) / 30, // factor 1.27 (or 0.73 with the sign flipped)
      Color: (0.9 * 9) / 30,
      Contrast: (0.9 * 9) / 30,
      Sharpness: (0.9 * 9) / 30,
      Posterize: 8 - Math.round(9 / 7.5), // 7 bits
      Solarize: (255 - (9 * 255) / 30) / 255, // 178.5 of 255
      AutoContrast: undefined,
      Equalize: undefined,
    };
    for (const op of RAND_AUGMENT_OPS) {
      if (expected[op] === undefined) expect(at9[op]).toBeUndefined();
      else expect(at9[op]).toBeCloseTo(expected[op], 6);
    }
    expect([Math.trunc(at9.TranslateX!), Math.trunc(at9.TranslateY!), at9.Posterize, at9.Solarize]).toEqual([30, 21, 7, Math.fround(0.7)]);
  });

  it("draws as torchvision does: the op uniformly, then a sign for a signed op only", () => {
    const size = { height: 32, width: 48 };
    const plan = planRandAugment(Random.seeded(9), 50, size, { numOps: 3, magnitude: 12, numMagnitudeBins: 31 });
    const space = randAugmentSpace(31, size.height, size.width);
    const byHand = Random.seeded(9);
    for (let slot = 0; slot < 150; slot++) {
      const op = byHand.int(0, 14);
      const value = space[op]!.magnitudes?.[12] ?? 0;
      expect([plan.ops[slot], plan.magnitudes[slot]]).toEqual([op, space[op]!.signed && byHand.chance(0.5) ? -value : value]);
    }
  });

  it("chooses each of the 14 ops about equally often and flips about half the signs", () => {
    const images = 20000;
    const plan = planRandAugment(Random.seeded(2), images, { height: 224, width: 224 });
    expect(plan.ops).toHaveLength(images * 2);
    const space = randAugmentSpace(31, 224, 224);
    const counts = new Array<number>(14).fill(0);
    const negative = new Array<number>(14).fill(0);
    const offTable: number[] = [];
    plan.ops.forEach((op, slot) => {
      counts[op]!++;
      if (plan.magnitudes[slot]! < 0) negative[op]!++;
      if (Math.abs(plan.magnitudes[slot]!) !== (space[op]!.magnitudes?.[9] ?? 0)) offTable.push(slot);
    });
    expect(offTable).toEqual([]);
    const share = plan.ops.length / 14;
    // Binomial standard deviation of one op's count: sqrt(40000 * 1/14 * 13/14) = 51.5; 5 of them.
    for (const count of counts) expect(Math.abs(count - share)).toBeLessThan(5 * 51.5);
    space.forEach((o, op) => {
      const flipped = negative[op]! / counts[op]!;
      if (o.signed && o.magnitudes) expect(Math.abs(flipped - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / counts[op]!));
      else expect(flipped).toBe(0);
    });
  });

  it("checks its options", () => {
    const size = { height: 8, width: 8 };
    expect(() => planRandAugment(Random.seeded(1), 2, size, { numOps: 2, magnitude: 31, numMagnitudeBins: 31 })).toThrow(
      /magnitude must be a bin 0\.\.30/,
    );
    expect(() => planRandAugment(Random.seeded(1), 2, size, { numOps: -1, magnitude: 9, numMagnitudeBins: 31 })).toThrow(/numOps/);
    expect(() => planRandAugment(Random.seeded(1), 2, size, { numOps: 2, magnitude: 0, numMagnitudeBins: 1 })).toThrow(/numMagnitudeBins/);
    expect(planRandAugment(Random.seeded(1), 3, size, { numOps: 0, magnitude: 9, numMagnitudeBins: 31 }).ops).toHaveLength(0);
  });
});
