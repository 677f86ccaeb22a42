// The objective against test/fixtures/objective/generate.py, which computes the
// grids, the three losses and their gradients term by term from the text of docs/method.md#objective.
import { afterAll, describe, expect, it } from "vitest";

import { type CropRecord, disposeGrids, type SereInputs, SereObjective, type StudentInput, sereGrids, tensor } from "../../src/index.js";
import { expectAllClose, type FixtureTensor, f32, loadFixture, values } from "./helpers.js";

interface Fixture {
  sizes: { B: number; V_l: number; K: number; globalSides: [number, number]; localSide: number };
  records: [number, number, number, number, boolean][][];
  options: Record<string, number>;
  centre: FixtureTensor;
  patchCentre: FixtureTensor;
  inputs: Record<string, FixtureTensor>;
  grids: Record<"pair1" | "pair2", { query: FixtureTensor; key: FixtureTensor }>;
  expected: {
    losses: Record<"total" | "ibot" | "cls" | "mim" | "spatial" | "channel", number>;
    grads: Record<StudentInput, FixtureTensor>;
    centre: FixtureTensor;
    patchCentre: FixtureTensor;
  };
}

const TOL = 1e-5;
const cases = ["b2-vl0", "b3-vl2", "b2-vl4"];

describe.each(cases)("parity with the method's term-by-term definition, case %s", (name) => {
  const fx = loadFixture<Fixture>(`parity-${name}.json`);
  const records: CropRecord[][] = fx.records.map((image) => image.map(([x, y, width, height, flipped]) => ({ x, y, width, height, flipped })));
  const grids = sereGrids(records, { globalSides: fx.sizes.globalSides, localSide: fx.sizes.localSide });
  const inputs: SereInputs = {
    teacherCls: f32(fx.inputs.teacherCls!),
    teacherPatch: f32(fx.inputs.teacherPatch!),
    teacherChannel: f32(fx.inputs.teacherChannel!),
    teacherSpatial: f32(fx.inputs.teacherSpatial!),
    studentCls: f32(fx.inputs.studentCls!),
    studentPatch: f32(fx.inputs.studentPatch!),
    studentChannel: f32(fx.inputs.studentChannel!),
    studentSpatial: f32(fx.inputs.studentSpatial!),
    studentLocalChannel: f32(fx.inputs.studentLocalChannel!),
    studentLocalSpatial: f32(fx.inputs.studentLocalSpatial!),
    masks: tensor(Uint8Array.from(fx.inputs.masks!.data), fx.inputs.masks!.shape),
    grids,
  };
  const o = fx.options;
  const objective = async () => {
    const obj = new SereObjective({
      outDim: fx.sizes.K,
      studentTemp: o.studentTemp,
      centreMomentum: o.centreMomentum,
      spatialTeacherTemp: o.spatialTeacherTemp,
      channelTeacherTemp: o.channelTeacherTemp,
      lambda1: o.lambda1,
      lambda2: o.lambda2,
      alpha: o.alpha,
      beta: o.beta,
    });
    const c = f32(fx.centre),
      c2 = f32(fx.patchCentre);
    await obj.setCentres(c, c2);
    c.dispose();
    c2.dispose();
    return obj;
  };
  const settings = { teacherTemp: o.teacherTemp!, teacherPatchTemp: o.teacherPatchTemp!, requiresGrad: true };
  afterAll(() => {
    disposeGrids(grids);
    for (const t of Object.values(inputs)) if ("dispose" in t) (t as { dispose(): void }).dispose();
  });

  it("builds the same global-global grids (view-1 rows grid q, view-2 rows grid k)", () => {
    const stacked = (pair: { query: FixtureTensor; key: FixtureTensor }) => [...pair.query.data, ...pair.key.data];
    expectAllClose(values(grids.globalQueryAxis), stacked(fx.grids.pair1), 1e-6, "first pair");
    expectAllClose(values(grids.globalKeyAxis), stacked(fx.grids.pair2), 1e-6, "second pair");
  });

  for (const termByTerm of [false, true]) {
    it(`matches losses and gradients within ${TOL} (${termByTerm ? "term by term" : "batched"})`, async () => {
      const obj = await objective();
      const got = await obj.compute(inputs, { ...settings, termByTerm });
      for (const [key, want] of Object.entries(fx.expected.losses)) {
        expect(Math.abs(got[key as keyof typeof fx.expected.losses] - want), `${key}: ${got[key as "total"]} vs ${want}`).toBeLessThanOrEqual(TOL);
      }
      for (const [key, want] of Object.entries(fx.expected.grads)) {
        const grad = got.grads![key as StudentInput];
        expect(grad.shape()).toEqual(want.shape);
        expectAllClose(values(grad), want.data, TOL, `d total / d ${key}`);
        grad.dispose();
      }
      obj.dispose();
    });
  }

  it("updates the centres after the step's loss, with the step's teacher outputs", async () => {
    const obj = await objective();
    const before = await obj.compute(inputs, { ...settings, requiresGrad: false, updateCentres: true });
    expect(Math.abs(before.total - fx.expected.losses.total)).toBeLessThanOrEqual(TOL); // computed with the old centres
    const { centre, patchCentre } = await obj.centres();
    expectAllClose(values(centre), fx.expected.centre.data, 1e-6, "centre");
    expectAllClose(values(patchCentre), fx.expected.patchCentre.data, 1e-6, "patch centre");
    for (const t of [centre, patchCentre]) t.dispose();
    obj.dispose();
  });
});
