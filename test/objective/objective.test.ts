// The objective's own facts: term counts, the no-overlap case, centres, gradients by
// finite differences, batched = term by term, and errors.
import { afterAll, describe, expect, it } from "vitest";

import { type CropRecord, disposeGrids, liveObjects, type SereInputs, SereObjective, sereGrids, type Tensor, tensor } from "../../src/index.js";
import { expectAllClose, filled, normals, values } from "./helpers.js";

interface Sizes {
  B: number;
  V_l: number;
  K: number;
  D: number;
  H: number;
  n: number;
  nLocal: number;
  globalSides: [number, number];
}

type Fill = (i: number) => number;
const zero: Fill = () => 0;

/** The same fill for every network output. */
const everyInput = (fill: Fill) => ({
  teacherCls: fill,
  studentCls: fill,
  teacherPatch: fill,
  studentPatch: fill,
  teacherChannel: fill,
  studentChannel: fill,
  studentLocalChannel: fill,
  teacherSpatial: fill,
  studentSpatial: fill,
  studentLocalSpatial: fill,
});

/** Inputs of the given sizes; each tensor filled by its own function (zeros by default). */
function makeInputs(
  z: Sizes,
  records: CropRecord[][],
  fills: Partial<Record<Exclude<keyof SereInputs, "grids" | "masks">, Fill>> & { masks?: Fill } = {},
  type: "f32" | "f64" = "f32",
): SereInputs {
  const { B, V_l, K, D, H } = z;
  const N = z.n * z.n,
    Nl = z.nLocal * z.nLocal;
  const f = (name: keyof typeof fills, shape: number[]) => filled(shape, fills[name] ?? zero, type);
  const maskFill = fills.masks ?? (() => 1);
  return {
    teacherCls: f("teacherCls", [2 * B, K]),
    teacherPatch: f("teacherPatch", [2 * B, N, K]),
    teacherChannel: f("teacherChannel", [2 * B, D, D]),
    teacherSpatial: f("teacherSpatial", [2 * B, H, N, N]),
    studentCls: f("studentCls", [(2 + V_l) * B, K]),
    studentPatch: f("studentPatch", [2 * B, N, K]),
    studentChannel: f("studentChannel", [2 * B, D, D]),
    studentSpatial: f("studentSpatial", [2 * B, H, N, N]),
    studentLocalChannel: f("studentLocalChannel", [V_l * B, D, D]),
    studentLocalSpatial: f("studentLocalSpatial", [V_l * B, H, Nl, Nl]),
    masks: tensor(
      Uint8Array.from({ length: 2 * B * N }, (_, i) => maskFill(i)),
      [2 * B, N],
    ),
    grids: sereGrids(records, { globalSides: z.globalSides, localSide: z.nLocal }),
  };
}

function disposeInputs(inputs: SereInputs): void {
  for (const [key, t] of Object.entries(inputs)) if (key !== "grids") (t as Tensor).dispose();
  disposeGrids(inputs.grids);
}

const crop = (x: number, y: number, w: number, h: number, flipped = false): CropRecord => ({ x, y, width: w, height: h, flipped });
/** B images: global views overlapping, local views each away from both global views. */
const disjointLocals = (B: number, V_l: number): CropRecord[][] =>
  Array.from({ length: B }, () => [
    crop(0, 0, 50, 50),
    crop(10, 10, 40, 40, true),
    ...Array.from({ length: V_l }, (_, v) => crop(60 + v, 60, 20, 20)),
  ]);

const temps = { teacherTemp: 0.04, teacherPatchTemp: 0.07 };

describe("the SERE objective", () => {
  const made: SereObjective[] = [];
  const objective = (options: ConstructorParameters<typeof SereObjective>[0] = {}) => {
    const o = new SereObjective(options);
    made.push(o);
    return o;
  };
  afterAll(() =>
    made.forEach((o) => {
      o.dispose();
    }),
  );

  it("with V_l = 10 averages 22 CLS, 22 spatial and 22 channel terms, and 2 MIM terms", async () => {
    // Uniform teacher targets everywhere; the student's global views give one CE value,
    // its local views another, so each average reveals its count of terms.
    const z: Sizes = { B: 2, V_l: 10, K: 5, D: 4, H: 1, n: 3, nLocal: 2, globalSides: [3, 3] };
    const { B, K, D } = z,
      N = 9,
      c = 0.3;
    const rowOf = (i: number, width: number) => Math.floor(i / width);
    const inputs = makeInputs(z, disjointLocals(B, z.V_l), {
      studentCls: (i) => (rowOf(i, K) >= 2 * B && i % K === 0 ? c : 0), // local views: c on class 0
      studentPatch: (i) => (rowOf(i, N * K) >= B && i % K === 0 ? c : 0), // view 2: c on class 0
      studentLocalChannel: (i) => (Math.floor(i / D) % D === i % D ? 1 : 0), // identity
    });
    const losses = await objective({ outDim: K }).compute(inputs, temps);
    const uniformCe = (logits: number[]) => {
      const lse = Math.log(logits.reduce((a, l) => a + Math.exp(l), 0));
      return lse - logits.reduce((a, l) => a + l, 0) / logits.length;
    };
    const oneHot = (width: number, value: number) => Array.from({ length: width }, (_, k) => (k === 0 ? value : 0));
    const cls = (2 * Math.log(K) + 20 * uniformCe(oneHot(K, c / 0.1))) / 22;
    const mim = (Math.log(K) + uniformCe(oneHot(K, c / 0.1))) / 2;
    const spatial = (2 * Math.log(9) + 20 * Math.log(4)) / 22; // all-zero relations: log(s^2)
    const channel = (2 * Math.log(D) + 20 * uniformCe(oneHot(D, 1))) / 22;
    expectAllClose([losses.cls, losses.mim, losses.spatial, losses.channel], [cls, mim, spatial, channel], 1e-5);
    expect(losses.ibot).toBeCloseTo(cls + mim, 5);
    expect(losses.total).toBeCloseTo(cls + mim + spatial + channel, 5); // alpha = beta = 1
    disposeInputs(inputs);
  });

  it("weights the total as iBOT (4 - alpha - beta) / 2 + alpha spatial + beta channel", async () => {
    const z: Sizes = { B: 1, V_l: 1, K: 3, D: 2, H: 1, n: 2, nLocal: 2, globalSides: [2, 2] };
    const rnd = normals(5);
    const r = () => rnd();
    const inputs = makeInputs(z, disjointLocals(1, 1), everyInput(r));
    const l = await objective({ outDim: 3, alpha: 0.2, beta: 0.5, lambda1: 0.7, lambda2: 1.3 }).compute(inputs, temps);
    expect(l.ibot).toBeCloseTo(0.7 * l.cls + 1.3 * l.mim, 5);
    expect(l.total).toBeCloseTo((l.ibot * (4 - 0.7)) / 2 + 0.2 * l.spatial + 0.5 * l.channel, 5);
    disposeInputs(inputs);
  });

  it("with no overlap anywhere: each spatial term is log(s^2) (5.13 at s = 13, 3.58 at s = 6), with zero gradient, and still counts", async () => {
    const z: Sizes = { B: 2, V_l: 2, K: 3, D: 2, H: 1, n: 14, nLocal: 6, globalSides: [13, 13] };
    const records = Array.from({ length: 2 }, () => [crop(0, 0, 40, 40), crop(50, 50, 40, 40, true), crop(45, 0, 5, 5), crop(0, 45, 5, 5)]);
    const rnd = normals(9);
    const inputs = makeInputs(z, records, { teacherSpatial: () => rnd(), studentSpatial: () => rnd(), studentLocalSpatial: () => rnd() });
    const l = await objective({ outDim: 3 }).compute(inputs, { ...temps, requiresGrad: true });
    expect(Math.log(169)).toBeCloseTo(5.13, 2);
    expect(Math.log(36)).toBeCloseTo(3.58, 2);
    expect(l.spatial).toBeCloseTo((2 * Math.log(169) + 4 * Math.log(36)) / 6, 5);
    for (const key of ["studentSpatial", "studentLocalSpatial"] as const) {
      expect(
        values(l.grads![key]).every((g) => g === 0),
        key,
      ).toBe(true);
    }
    for (const g of Object.values(l.grads!)) g.dispose();
    disposeInputs(inputs);
  });

  it("keeps the centres as the EMA c <- 0.9 c + 0.1 mean, worked by hand over several updates", async () => {
    const K = 3,
      N = 2;
    const obj = objective({ outDim: K });
    const c = [0, 0, 0],
      c2 = [0, 0, 0];
    const rnd = normals(21);
    for (let step = 0; step < 4; step++) {
      const rows = 4;
      const cls = Array.from({ length: rows * K }, () => rnd());
      const patch = Array.from({ length: rows * N * K }, () => rnd());
      for (let k = 0; k < K; k++) {
        let m = 0,
          m2 = 0;
        for (let r = 0; r < rows; r++) {
          m += cls[r * K + k]! / rows;
          for (let p = 0; p < N; p++) m2 += patch[(r * N + p) * K + k]! / (rows * N);
        }
        c[k] = 0.9 * c[k]! + 0.1 * m;
        c2[k] = 0.9 * c2[k]! + 0.1 * m2;
      }
      const t = tensor(Float32Array.from(cls), [rows, K]),
        tp = tensor(Float32Array.from(patch), [rows, N, K]);
      await obj.updateCentres(t, tp);
      t.dispose();
      tp.dispose();
    }
    const { centre, patchCentre } = await obj.centres();
    expect(centre.shape()).toEqual([1, K]);
    expect(patchCentre.shape()).toEqual([1, 1, K]);
    expectAllClose(values(centre), c, 1e-6, "centre");
    expectAllClose(values(patchCentre), c2, 1e-6, "patch centre");
    centre.dispose();
    patchCentre.dispose();
  });

  it("updates the centres once per call when computes overlap", async () => {
    const z: Sizes = { B: 1, V_l: 0, K: 2, D: 2, H: 1, n: 2, nLocal: 2, globalSides: [2, 2] };
    const inputs = makeInputs(z, disjointLocals(1, 0), { teacherCls: (i) => i + 1, teacherPatch: (i) => i % 2 });
    const obj = objective({ outDim: 2 });
    await Promise.all([1, 2, 3].map(() => obj.compute(inputs, { ...temps, updateCentres: true })));
    const { centre, patchCentre } = await obj.centres();
    const after3 = (mean: number) => mean * (1 - 0.9 ** 3); // from zero, three times towards the same mean
    expectAllClose(values(centre), [after3(2), after3(3)], 1e-6, "centre"); // rows [1, 2] and [3, 4]
    expectAllClose(values(patchCentre), [after3(0), after3(1)], 1e-6, "patch centre");
    centre.dispose();
    patchCentre.dispose();
    disposeInputs(inputs);
  });

  it("refuses to update the centres from NaN or infinite teacher outputs, keeping them as they were", async () => {
    const z: Sizes = { B: 1, V_l: 0, K: 2, D: 2, H: 1, n: 2, nLocal: 2, globalSides: [2, 2] };
    const good = makeInputs(z, disjointLocals(1, 0), { teacherCls: (i) => i + 1, teacherPatch: (i) => i % 2 });
    const nanCls = makeInputs(z, disjointLocals(1, 0), { teacherCls: (i) => (i === 1 ? Number.NaN : i) });
    const obj = objective({ outDim: 2 });
    const centres = async () => {
      const { centre, patchCentre } = await obj.centres();
      const both = [values(centre), values(patchCentre)];
      centre.dispose();
      patchCentre.dispose();
      return both;
    };
    await obj.compute(good, { ...temps, updateCentres: true });
    const kept = await centres();
    expect(kept[0]!.every((v) => v > 0)).toBe(true);
    await expect(obj.compute(nanCls, { ...temps, updateCentres: true, requiresGrad: true })).rejects.toThrow(
      "SereObjective.compute(): teacherCls holds NaN or infinite values, which would leave the centres NaN for every later step: the centres are kept as they were",
    );
    expect(await centres()).toEqual(kept);
    // later steps still give losses: the centres were not poisoned
    const after = await obj.compute(good, { ...temps, updateCentres: true });
    expect(Number.isFinite(after.total)).toBe(true);
    // without a centre update, NaN inputs give NaN losses and leave the centres alone
    const beforeNaN = await centres();
    expect(Number.isNaN((await obj.compute(nanCls, temps)).cls)).toBe(true);
    expect(await centres()).toEqual(beforeNaN);

    const patch = filled([2, 4, 2], (i) => (i === 5 ? Number.POSITIVE_INFINITY : 0));
    await expect(obj.updateCentres(good.teacherCls, patch)).rejects.toThrow(
      "SereObjective.updateCentres(): teacherPatch holds NaN or infinite values",
    );
    expect(await centres()).toEqual(beforeNaN);
    const nanCentre = filled([1, 2], () => Number.NaN);
    const patchCentre = filled([1, 1, 2], () => 0);
    expect(() => obj.setCentres(nanCentre, patchCentre)).toThrow("SereObjective.setCentres(): centre holds NaN or infinite values");
    for (const t of [patch, nanCentre, patchCentre]) t.dispose();
    disposeInputs(good);
    disposeInputs(nanCls);
  });

  it("gives spatial-loss gradients through the alignment that match finite differences (float64)", async () => {
    const z: Sizes = { B: 1, V_l: 1, K: 2, D: 2, H: 1, n: 3, nLocal: 2, globalSides: [2, 3] };
    const records = [[crop(0, 0, 80, 70), crop(20, 15, 70, 80, true), crop(30, 20, 30, 30, true)]];
    const rnd = normals(33);
    const base = {
      teacherSpatial: Array.from({ length: 2 * 81 }, () => rnd()),
      studentSpatial: Array.from({ length: 2 * 81 }, () => rnd()),
      studentLocalSpatial: Array.from({ length: 16 }, () => rnd()),
    };
    const obj = objective({ outDim: 2, alpha: 1, beta: 1 });
    const spatialAt = async (key: "studentSpatial" | "studentLocalSpatial", index: number, delta: number, grad = false) => {
      const data = { ...base, [key]: base[key].map((v, i) => (i === index ? v + delta : v)) };
      const inputs = makeInputs(
        z,
        records,
        {
          teacherSpatial: (i) => data.teacherSpatial[i]!,
          studentSpatial: (i) => data.studentSpatial[i]!,
          studentLocalSpatial: (i) => data.studentLocalSpatial[i]!,
        },
        "f64",
      );
      const l = await obj.compute(inputs, { ...temps, requiresGrad: grad });
      disposeInputs(inputs);
      return l;
    };
    const analytic = await spatialAt("studentSpatial", -1, 0, true);
    const eps = 1e-6;
    for (const key of ["studentSpatial", "studentLocalSpatial"] as const) {
      const grad = values(analytic.grads![key]); // d total / d x = alpha * d spatial / d x
      const numeric: number[] = [];
      for (let i = 0; i < base[key].length; i++) {
        const up = (await spatialAt(key, i, eps)).spatial,
          down = (await spatialAt(key, i, -eps)).spatial;
        numeric.push((up - down) / (2 * eps));
      }
      expect(
        grad.some((g) => Math.abs(g) > 1e-3),
        `${key} has a gradient to check`,
      ).toBe(true);
      expectAllClose(grad, numeric, 1e-7, key);
    }
    for (const g of Object.values(analytic.grads!)) g.dispose();
  });

  it("computes batched exactly what it computes term by term (V_l = 10, random crops, flips, masks)", async () => {
    const z: Sizes = { B: 3, V_l: 10, K: 16, D: 6, H: 2, n: 4, nLocal: 3, globalSides: [3, 4] };
    const rnd = normals(77);
    const uniform = () => (rnd() + 3) / 6;
    const records = Array.from({ length: z.B }, () =>
      Array.from({ length: 12 }, (_, v) => {
        const side = v < 2 ? 40 + 60 * uniform() : 10 + 30 * uniform();
        return crop(uniform() * (100 - side), uniform() * (100 - side), side, side * (0.8 + 0.4 * uniform()), uniform() > 0.5);
      }),
    );
    const r = () => 2 * rnd();
    const inputs = makeInputs(z, records, {
      ...everyInput(r),
      masks: () => (uniform() > 0.6 ? 1 : 0),
    });
    const obj = objective({ outDim: z.K, alpha: 0.2, beta: 0.5 });
    const batched = await obj.compute(inputs, { ...temps, requiresGrad: true });
    const loop = await obj.compute(inputs, { ...temps, requiresGrad: true, termByTerm: true });
    for (const key of ["total", "ibot", "cls", "mim", "spatial", "channel"] as const) expect(batched[key]).toBeCloseTo(loop[key], 5);
    for (const key of Object.keys(batched.grads!) as (keyof typeof batched.grads)[]) {
      expectAllClose(values(batched.grads![key]), values(loop.grads![key]), 1e-6, key);
    }
    for (const g of [...Object.values(batched.grads!), ...Object.values(loop.grads!)]) g.dispose();
    disposeInputs(inputs);
  });

  it("accepts V_l = 0 without local inputs", async () => {
    const z: Sizes = { B: 2, V_l: 0, K: 4, D: 2, H: 1, n: 2, nLocal: 2, globalSides: [2, 2] };
    const inputs = makeInputs(z, disjointLocals(2, 0));
    const { studentLocalChannel, studentLocalSpatial, ...rest } = inputs;
    const l = await objective({ outDim: 4 }).compute(rest, temps);
    expect(l.cls).toBeCloseTo(Math.log(4), 5);
    expect(l.spatial).toBeCloseTo(Math.log(4), 5);
    studentLocalChannel!.dispose();
    studentLocalSpatial!.dispose();
    disposeInputs(rest as SereInputs);
  });

  it("reports the entropy of the teacher's CLS targets: ln K when uniform, 0 when one-hot; cls - entropy is the KL part", async () => {
    const z: Sizes = { B: 2, V_l: 2, K: 8, D: 2, H: 1, n: 2, nLocal: 2, globalSides: [2, 2] };
    // equal teacher logits: uniform targets; the student uniform too, so CE = ln K and KL = 0
    const uniform = makeInputs(z, disjointLocals(2, 2));
    const u = await objective({ outDim: 8 }).compute(uniform, temps);
    expect(u.clsEntropy).toBeCloseTo(Math.log(8), 6);
    expect(u.cls - u.clsEntropy).toBeCloseTo(0, 6);
    disposeInputs(uniform);
    // one logit far above the others in every row (k = row mod K): one-hot targets, entropy 0;
    // the uniform student then pays ln K, all of it KL
    const oneHot = makeInputs(z, disjointLocals(2, 2), { teacherCls: (i) => (i % 8 === Math.floor(i / 8) % 8 ? 50 : 0) });
    const h = await objective({ outDim: 8 }).compute(oneHot, temps);
    expect(Math.abs(h.clsEntropy)).toBe(0);
    expect(h.cls).toBeCloseTo(Math.log(8), 5);
    // half the mass on each of two logits: entropy ln 2
    disposeInputs(oneHot);
    const twoHot = makeInputs(z, disjointLocals(2, 2), { teacherCls: (i) => (i % 8 < 2 ? 50 : 0) });
    expect((await objective({ outDim: 8 }).compute(twoHot, temps)).clsEntropy).toBeCloseTo(Math.log(2), 6);
    disposeInputs(twoHot);
  });

  it("rejects wrong shapes and settings with messages naming the input and the fix", async () => {
    const z: Sizes = { B: 2, V_l: 1, K: 4, D: 2, H: 1, n: 2, nLocal: 2, globalSides: [2, 2] };
    const inputs = makeInputs(z, disjointLocals(2, 1));
    const obj = objective({ outDim: 4 });
    const swap = async (key: keyof SereInputs, t: Tensor, message: string) => {
      const bad = { ...inputs, [key]: t };
      await expect(Promise.resolve().then(() => obj.compute(bad, temps))).rejects.toThrow(message);
      t.dispose();
    };
    await swap("teacherCls", filled([4, 5], zero), "teacherCls must have shape (2B, 4), got [4, 5]: dimension 1 is 5, not 4");
    await swap("studentCls", filled([7, 4], zero), "studentCls must have (2 + V_l) B rows with B = 2, got 7");
    await swap(
      "studentPatch",
      filled([4, 3, 4], zero),
      "studentPatch must have shape (2B, N, 4), got [4, 3, 4]: dimension 1 (N) is 3 but N = 4 elsewhere",
    );
    await swap("teacherSpatial", filled([4, 1, 3, 3], zero), "teacherSpatial must have shape (2B, H, N, N)");
    await swap(
      "studentLocalChannel",
      filled([4, 2, 2], zero),
      "studentLocalChannel must have shape (V_l B, D, D), got [4, 2, 2]: dimension 0 (V_l B) is 4 but V_l B = 2 elsewhere. V_l = 1 from studentCls",
    );
    await swap("masks", filled([4, 4], zero), "masks must be uint8 or bool");
    const otherGrids = sereGrids(disjointLocals(2, 3), { globalSides: [2, 2], localSide: 2 });
    await expect(Promise.resolve().then(() => obj.compute({ ...inputs, grids: otherGrids }, temps))).rejects.toThrow(
      "grids.globalToLocal must have shape (2B, V_l, s, s, 2), got [4, 3, 2, 2, 2]",
    );
    disposeGrids(otherGrids);
    await expect(Promise.resolve().then(() => obj.compute(inputs, { teacherTemp: 0, teacherPatchTemp: 0.04 }))).rejects.toThrow(
      "teacherTemp: Too small: expected number to be >0 (given: 0)",
    );
    await expect(Promise.resolve().then(() => obj.compute(inputs, { ...temps, updateCenters: true } as never))).rejects.toThrow(
      /updateCenters: no such field; did you mean updateCentres\?/,
    );
    expect(() => new SereObjective({ centreMomentum: 2 })).toThrow("centreMomentum: Too big: expected number to be <=1 (given: 2)");
    expect(() => new SereObjective({ outDim: 0 })).toThrow("outDim: Too small: expected number to be >0 (given: 0)");
    // the native checks hold for callers that bypass these (the training step, say)
    const { native } = await import("../../src/native/load.js");
    const raw = new (native().SereObjective)({ ...obj.options, outDim: 5 });
    await expect(Promise.resolve().then(() => raw.compute(inputs as never, { ...temps, requiresGrad: false, updateCentres: false }))).rejects.toThrow(
      "teacher_cls must have shape (*, 5), got [4, 4]",
    );
    raw.dispose();
    disposeInputs(inputs);
  });

  it("releases its native objects on dispose", () => {
    const before = liveObjects();
    const obj = new SereObjective({ outDim: 4 });
    expect(liveObjects()).toBe(before + 1);
    obj.dispose();
    expect(liveObjects()).toBe(before);
    expect(() => obj.centres()).toThrow("this SereObjective was disposed");
  });
});
