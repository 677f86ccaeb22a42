// The objective's options have one definition (src/objective/options.ts): the library, the
// training step and the native binding all take their defaults and checks from it.
import { describe, expect, it } from "vitest";

import { trainConfigSchema } from "../../src/config/train.js";
import { SereObjective } from "../../src/index.js";
import { native } from "../../src/native/load.js";
import { objectiveOptionsSchema, resolveObjectiveOptions } from "../../src/objective/options.js";
import { stepOptionsFrom } from "../../src/train/step-options.js";

describe("the objective's options", () => {
  it("fills in the defaults once, for the library's objective and for the training step", () => {
    const defaults = resolveObjectiveOptions();
    expect(defaults).toEqual({
      outDim: 8192,
      studentTemp: 0.1,
      centreMomentum: 0.9,
      spatialTeacherTemp: 0.5,
      channelTeacherTemp: 0.1,
      lambda1: 1,
      lambda2: 1,
      alpha: 1,
      beta: 1,
    });
    const objective = new SereObjective({ outDim: 4 });
    expect(objective.options).toEqual({ ...defaults, outDim: 4 });
    objective.dispose();
    // the training flags set what they name; the rest are the schema's defaults
    const step = stepOptionsFrom(trainConfigSchema.parse({ outDim: 64, temperaturePixel: 0.3, alpha: 0.5 }));
    expect(step.objective).toEqual({ ...defaults, outDim: 64, spatialTeacherTemp: 0.3, alpha: 0.5 });
    expect(objectiveOptionsSchema.parse(step.objective)).toEqual(step.objective);
  });

  it("names each bad field with what was given and what is allowed", () => {
    const bad = () => new SereObjective({ spatialTeacherTemp: -1, centreMomentum: 1.5, lambda1: Number.POSITIVE_INFINITY });
    expect(bad).toThrow("invalid SereObjective options:");
    expect(bad).toThrow("spatialTeacherTemp: Too small: expected number to be >0 (given: -1)");
    expect(bad).toThrow("centreMomentum: Too big: expected number to be <=1 (given: 1.5)");
    expect(bad).toThrow("lambda1: Invalid input: expected number, received Infinity (given: Infinity)");
  });

  it("refuses a field it does not know (a misspelt or a training flag's name) instead of ignoring it", () => {
    expect(() => new SereObjective({ temperaturePixel: 0.3 } as never)).toThrow(
      /^invalid SereObjective options:\n {2}temperaturePixel: no such field/,
    );
    // said once, with the field meant
    expect(() => new SereObjective({ outdim: 64 } as never)).toThrow(
      /^invalid SereObjective options:\n {2}outdim: no such field; did you mean outDim\? \(given: 64\)$/,
    );
  });

  it("is complete when it reaches the native objective, which defaults nothing", () => {
    // the binding reads every field as required: a caller that skips the schema learns which one is missing
    expect(() => new (native().SereObjective)({ outDim: 4 } as never)).toThrow("option `studentTemp` is required");
    expect(() => new (native().SereObjective)({ ...resolveObjectiveOptions({ outDim: 4 }), beta: "1" } as never)).toThrow(
      "option `beta` must be a number",
    );
  });
});
