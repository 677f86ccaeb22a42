// The SERE objective (docs/method.md#objective): iBOT CLS and masked-patch losses with
// their centres, SERE spatial and channel losses, and the weighted total.
import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { native } from "../native/load.js";
import type { NativeSereInputs, NativeSereLosses, NativeSereObjective, NativeStudentInput } from "../native/surface.js";
import { type Tensor, tensor } from "../tensor.js";
import { isTensor, ShapeCheck } from "./check.js";
import type { SereGrids } from "./grids.js";
import { type ResolvedObjectiveOptions, resolveObjectiveOptions, type SereObjectiveOptions } from "./options.js";

export type { SereObjectiveOptions };

/**
 * One step's network outputs. Views are stacked view-major along the batch: rows
 * [view 1's B images; view 2's; local view 1's; ...]. Any floating dtype; computed in
 * at least fp32. Relations are the heads' raw relations; the objective aligns them.
 */
export interface SereInputs {
  /** (2B, K) teacher CLS outputs of the global views. */
  teacherCls: Tensor;
  /** (2B, N, K) teacher patch outputs. */
  teacherPatch: Tensor;
  /** (2B, D, D) channel relation of the teacher's z. */
  teacherChannel: Tensor;
  /** (2B, H, N, N) spatial relation of the teacher's z. */
  teacherSpatial: Tensor;
  /** ((2 + V_l) B, K) student CLS outputs: global views, then local views. */
  studentCls: Tensor;
  /** (2B, N, K) student patch outputs (masked inputs). */
  studentPatch: Tensor;
  /** (2B, D, D) channel relation of the student's p. */
  studentChannel: Tensor;
  /** (2B, H, N, N) spatial relation of the student's p. */
  studentSpatial: Tensor;
  /** (V_l B, D, D); may be omitted when V_l = 0. */
  studentLocalChannel?: Tensor;
  /** (V_l B, H, N_l, N_l); may be omitted when V_l = 0. */
  studentLocalSpatial?: Tensor;
  /** (2B, N) uint8 or bool: 1 where the student's patch was masked. */
  masks: Tensor;
  /** From sereGrids(). */
  grids: SereGrids;
}

export const computeSettingsSchema = z.object({
  /** tau_t, the CLS teacher temperature of this epoch. */
  teacherTemp: z.number().positive(),
  /** tau_p, the patch teacher temperature of this epoch. */
  teacherPatchTemp: z.number().positive(),
  /** Also return d total / d each student input. */
  requiresGrad: z.boolean().default(false),
  /** Update both centres with this step's teacher outputs after the losses. */
  updateCentres: z.boolean().default(false),
  /**
   * Compute term by term as docs/method.md#objective writes it, through the addon's testing
   * entry (slow; for checks and benchmarks of the batched form).
   */
  termByTerm: z.boolean().default(false),
});
export type ComputeSettings = z.input<typeof computeSettingsSchema>;

export type StudentInput = NativeStudentInput;

/** The losses; with requiresGrad also `grads`: d total / d each student input, shaped like it. */
export type SereLosses = NativeSereLosses;

const WHERE = "SereObjective";

/** Whether every value of `t` is finite. */
const allFinite = (t: Tensor) => (t.toArray() as Float32Array).every(Number.isFinite);

/** The SERE objective with its two iBOT centres (initially zero). */
export class SereObjective {
  readonly options: ResolvedObjectiveOptions;
  private readonly handle: NativeSereObjective;
  /** Empty local inputs for V_l = 0, made on first need. */
  private noLocals = new Map<string, Tensor>();

  constructor(options: SereObjectiveOptions = {}) {
    this.options = resolveObjectiveOptions(options);
    this.handle = new (native().SereObjective)(this.options);
  }

  /** The losses of one step (and, on request, gradients and the centre update), off the JS thread. */
  async compute(inputs: SereInputs, settings: ComputeSettings): Promise<SereLosses> {
    const { termByTerm, ...resolved } = parseOptions(computeSettingsSchema, settings, `${WHERE}.compute() settings`, { knownFieldsOnly: true });
    const full: NativeSereInputs = this.checkInputs(inputs);
    const run = () => (termByTerm ? native().testing.computeTermByTerm(this.handle, full, resolved) : this.handle.compute(full, resolved));
    if (!resolved.updateCentres) return run();
    // the losses' gradients are freed where the centres are refused
    return this.keepingFiniteCentres(`${WHERE}.compute()`, run, (losses) => {
      for (const g of Object.values(losses.grads ?? {})) g.dispose();
    });
  }

  /** c <- m c + (1 - m) mean(teacher CLS); c2 likewise with the images' mean patch outputs. */
  updateCentres(teacherCls: Tensor, teacherPatch: Tensor): Promise<void> {
    const where = `${WHERE}.updateCentres()`;
    const check = new ShapeCheck(where);
    check.tensor("teacherCls", teacherCls, ["rows", this.options.outDim]);
    check.tensor("teacherPatch", teacherPatch, ["rows", "N", this.options.outDim]);
    return this.keepingFiniteCentres(where, () => this.handle.updateCentres(teacherCls, teacherPatch));
  }

  /**
   * Runs `update`, which moves the centres; where it left them NaN or infinite (teacher outputs
   * that are), puts them back as they were and throws. Checked on the centres, (1, K) each, as
   * the teacher's outputs are too large to copy every step: a NaN centre stays NaN for good, and
   * every later loss with it.
   */
  private async keepingFiniteCentres<T>(where: string, update: () => Promise<T>, discard?: (result: T) => void): Promise<T> {
    const before = await this.handle.centres();
    try {
      const result = await update();
      const after = await this.handle.centres();
      const broken = (
        [
          ["teacherCls", after.centre],
          ["teacherPatch", after.patchCentre],
        ] as const
      ).filter(([, t]) => !allFinite(t));
      for (const t of Object.values(after)) t.dispose();
      if (broken.length === 0) return result;
      discard?.(result);
      await this.handle.setCentres(before.centre, before.patchCentre);
      throw new RangeError(
        `${where}: ${broken.map(([name]) => name).join(" and ")} hold${broken.length === 1 ? "s" : ""} NaN or infinite values, which would leave the centres ` +
          "NaN for every later step: the centres are kept as they were; check the teacher's outputs (a diverged teacher, or inputs that hold NaN)",
      );
    } finally {
      for (const t of Object.values(before)) t.dispose();
    }
  }

  /**
   * Copies of the centres: centre (1, K), patchCentre (1, 1, K), float32, once a compute in
   * flight is done (calls on one objective run one at a time).
   */
  centres(): Promise<{ centre: Tensor; patchCentre: Tensor }> {
    return this.handle.centres();
  }

  setCentres(centre: Tensor, patchCentre: Tensor): Promise<void> {
    const where = `${WHERE}.setCentres()`;
    const check = new ShapeCheck(where);
    check.tensor("centre", centre, [1, this.options.outDim]);
    check.tensor("patchCentre", patchCentre, [1, 1, this.options.outDim]);
    for (const [name, t] of [
      ["centre", centre],
      ["patchCentre", patchCentre],
    ] as const) {
      if (!allFinite(t))
        throw new RangeError(`${where}: ${name} holds NaN or infinite values; give finite centres (those of centres() from a healthy run)`);
    }
    return this.handle.setCentres(centre, patchCentre);
  }

  dispose(): void {
    this.handle.dispose();
    for (const t of this.noLocals.values()) t.dispose();
    this.noLocals.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Checks every shape against the others; fills in empty local inputs when V_l = 0. */
  private checkInputs(inputs: SereInputs): Required<SereInputs> {
    const c = new ShapeCheck(`${WHERE}.compute()`);
    const K = this.options.outDim;
    c.tensor("teacherCls", inputs.teacherCls, ["2B", K], "rows are the 2 global views of B images, view-major; K is outDim");
    const rows = c.size("2B");
    if (rows % 2 !== 0 || rows === 0) throw new RangeError(`${WHERE}.compute(): teacherCls must have 2B rows (two global views), got ${rows}`);
    const B = rows / 2;
    const [studentRows] = c.tensor("studentCls", inputs.studentCls, ["(2 + V_l) B", K]);
    if (studentRows! % B !== 0 || studentRows! < rows) {
      throw new RangeError(
        `${WHERE}.compute(): studentCls must have (2 + V_l) B rows with B = ${B}, got ${studentRows}; stack global views, then local views`,
      );
    }
    const locals = studentRows! / B - 2;
    c.bind("V_l B", locals * B);
    c.tensor("teacherPatch", inputs.teacherPatch, ["2B", "N", K]);
    c.tensor("studentPatch", inputs.studentPatch, ["2B", "N", K]);
    c.tensor("masks", inputs.masks, ["2B", "N"], "one flag per student patch");
    if (!["uint8", "bool"].includes(inputs.masks.dtype())) {
      throw new TypeError(`${WHERE}.compute(): masks must be uint8 or bool (build them from a Uint8Array of 0/1), got ${inputs.masks.dtype()}`);
    }
    c.tensor("teacherChannel", inputs.teacherChannel, ["2B", "D", "D"]);
    c.tensor("studentChannel", inputs.studentChannel, ["2B", "D", "D"]);
    c.tensor("teacherSpatial", inputs.teacherSpatial, ["2B", "H", "N", "N"], "N must equal the patch count of teacherPatch");
    c.tensor("studentSpatial", inputs.studentSpatial, ["2B", "H", "N", "N"]);
    const D = c.size("D"),
      H = c.size("H");
    const local = (name: "studentLocalChannel" | "studentLocalSpatial", shape: number[]): Tensor => {
      const given = inputs[name];
      if (given !== undefined || locals > 0) return given as Tensor;
      const key = `${name}:${shape.join(",")}`;
      if (!this.noLocals.has(key)) this.noLocals.set(key, tensor(new Float32Array(0), shape));
      return this.noLocals.get(key)!;
    };
    const studentLocalChannel = local("studentLocalChannel", [0, D, D]);
    const studentLocalSpatial = local("studentLocalSpatial", [0, H, 1, 1]);
    c.tensor("studentLocalChannel", studentLocalChannel, ["V_l B", "D", "D"], `V_l = ${locals} from studentCls`);
    c.tensor("studentLocalSpatial", studentLocalSpatial, ["V_l B", "H", "N_l", "N_l"], `V_l = ${locals} from studentCls`);
    const names = [
      "teacherCls",
      "teacherPatch",
      "teacherChannel",
      "teacherSpatial",
      "studentCls",
      "studentPatch",
      "studentChannel",
      "studentSpatial",
    ] as const;
    for (const name of names) c.floating(name, inputs[name]);
    c.floating("studentLocalChannel", studentLocalChannel);
    c.floating("studentLocalSpatial", studentLocalSpatial);

    const g = inputs.grids as SereGrids | undefined;
    if (!g || !isTensor(g.globalQueryAxis)) throw new TypeError(`${WHERE}.compute(): grids must come from sereGrids()`);
    c.tensor("grids.globalQueryAxis", g.globalQueryAxis, ["2B", "s1", "s1", 2], "make grids for the same B images");
    c.tensor("grids.globalKeyAxis", g.globalKeyAxis, ["2B", "s2", "s2", 2]);
    c.bind("V_l", locals);
    c.tensor("grids.globalToLocal", g.globalToLocal, ["2B", "V_l", "s", "s", 2], "records must hold 2 + V_l views per image");
    c.tensor("grids.localToGlobal", g.localToGlobal, ["V_l B", 2, "s", "s", 2]);
    return { ...inputs, studentLocalChannel, studentLocalSpatial };
  }
}
