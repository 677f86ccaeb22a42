// Schedules against values worked out by hand from docs/method.md#schedules (and the reference's
// np.linspace / cosine formulas).
import { describe, expect, it } from "vitest";

import {
  accumulationRoundAt,
  cosineScheduleAt,
  learningRateAt,
  teacherMomentumAt,
  teacherTemperatureAt,
  weightDecayAt,
} from "../../src/train/schedules.js";

describe("schedules", () => {
  it("warms up linearly, both ends included, then follows the cosine", () => {
    // 3 epochs x 2 iterations, 1 warmup epoch: warmup [0, 1], cosine over I = 4 iterations
    const s = { base: 1, final: 0, epochs: 3, iterationsPerEpoch: 2, warmupEpochs: 1 };
    expect(cosineScheduleAt(0, s)).toBe(0);
    expect(cosineScheduleAt(1, s)).toBe(1);
    expect(cosineScheduleAt(2, s)).toBeCloseTo(1, 12); // cos(0)
    expect(cosineScheduleAt(3, s)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12); // cos(pi/4)
    expect(cosineScheduleAt(4, s)).toBeCloseTo(0.5, 12); // cos(pi/2)
    expect(cosineScheduleAt(5, s)).toBeCloseTo((1 - Math.SQRT1_2) / 2, 12); // cos(3pi/4)
    // past the end: the last value
    expect(cosineScheduleAt(99, s)).toBe(cosineScheduleAt(5, s));
  });

  it("learning rate: peak = lr * batch / 256, warmup from 0, cosine to minLr", () => {
    const o = { lr: 5e-4, minLr: 1e-6, globalBatchSize: 1024, epochs: 100, warmupEpochs: 10, iterationsPerEpoch: 1251 };
    expect(learningRateAt(0, o)).toBe(0);
    expect(learningRateAt(12509, o)).toBeCloseTo(2e-3, 15); // last warmup iteration: the peak
    expect(learningRateAt(12510, o)).toBeCloseTo(2e-3, 15);
    // halfway through the cosine: (peak + min) / 2
    expect(learningRateAt(12510 + (100 * 1251 - 12510) / 2, o)).toBeCloseTo((2e-3 + 1e-6) / 2, 12);
  });

  it("learning rate, schedule constant: the same warmup, then the peak to the end (minLr unused)", () => {
    const o = {
      lr: 5e-4,
      minLr: 1e-6,
      schedule: "constant",
      globalBatchSize: 1024,
      epochs: 100,
      warmupEpochs: 10,
      iterationsPerEpoch: 1251,
    } as const;
    expect(learningRateAt(0, o)).toBe(0);
    expect(learningRateAt(6254, o)).toBeCloseTo((2e-3 * 6254) / 12509, 15); // the warmup is unchanged
    for (const i of [12509, 12510, 60000, 100 * 1251 - 1]) expect(learningRateAt(i, o), `iteration ${i}`).toBe(2e-3);
  });

  it("learning rate, schedule constant with a cooldown: the peak, then linearly to minLr at the last iteration", () => {
    // 2 epochs x 5 iterations, peak 0.5 * 512 / 256 = 1, one warmup iteration, the last 5 cool down.
    const o = {
      lr: 0.5,
      minLr: 0,
      schedule: "constant",
      cooldownEpochs: 1,
      globalBatchSize: 512,
      epochs: 2,
      warmupEpochs: 0.2,
      iterationsPerEpoch: 5,
    } as const;
    const byHand = [0, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0];
    for (const [i, lr] of byHand.entries()) expect(learningRateAt(i, o), `iteration ${i}`).toBeCloseTo(lr, 15);
    expect(learningRateAt(99, o)).toBe(0); // past the end: the last value
    // minLr is where it ends; a cooldown of 0 is the constant schedule.
    expect(learningRateAt(9, { ...o, minLr: 0.1 })).toBeCloseTo(0.1, 15);
    expect(learningRateAt(7, { ...o, minLr: 0.1 })).toBeCloseTo(1 - 0.9 * 0.6, 15);
    expect(learningRateAt(9, { ...o, cooldownEpochs: 0 })).toBe(1);
    // The cosine schedule has no cooldown of its own.
    expect(learningRateAt(7, { ...o, schedule: "cosine" })).toBe(learningRateAt(7, { ...o, schedule: "cosine", cooldownEpochs: 0 }));
  });

  it("weight decay and teacher momentum follow the cosine without warmup", () => {
    const wd = { weightDecay: 0.04, weightDecayEnd: 0.4, epochs: 2, iterationsPerEpoch: 2 };
    expect(weightDecayAt(0, wd)).toBeCloseTo(0.04, 15);
    expect(weightDecayAt(2, wd)).toBeCloseTo(0.22, 15); // cos(pi/2): halfway
    const m = { momentumTeacher: 0.996, momentumTeacherEnd: 1, epochs: 1, iterationsPerEpoch: 4 };
    expect(teacherMomentumAt(0, m)).toBeCloseTo(0.996, 15);
    expect(teacherMomentumAt(2, m)).toBeCloseTo(0.998, 15);
    expect(teacherMomentumAt(3, m)).toBeCloseTo(1 - (0.004 * (1 - Math.SQRT1_2)) / 2, 15);
    // An end below 1: the cosine from 0.99 to 0.999 over 5 iterations, worked by hand.
    const below = { momentumTeacher: 0.99, momentumTeacherEnd: 0.999, epochs: 1, iterationsPerEpoch: 5 };
    expect(teacherMomentumAt(0, below)).toBeCloseTo(0.99, 15);
    expect(teacherMomentumAt(1, below)).toBeCloseTo(0.999 - (0.009 * (1 + Math.cos(Math.PI / 5))) / 2, 15);
    expect(teacherMomentumAt(4, below)).toBeCloseTo(0.999 - (0.009 * (1 + Math.cos((4 * Math.PI) / 5))) / 2, 15);
    expect(teacherMomentumAt(9, below)).toBeCloseTo(teacherMomentumAt(4, below), 15); // past the end: the last value
  });

  it("teacher temperature rises per epoch from warmup to final, then stays", () => {
    const o = { warmup: 0.04, final: 0.07, warmupEpochs: 30 };
    expect(teacherTemperatureAt(0, o)).toBe(0.04);
    expect(teacherTemperatureAt(29, o)).toBeCloseTo(0.07, 15); // np.linspace includes the end
    expect(teacherTemperatureAt(1, o)).toBeCloseTo(0.04 + 0.03 / 29, 15);
    expect(teacherTemperatureAt(30, o)).toBe(0.07);
    expect(teacherTemperatureAt(99, o)).toBe(0.07);
  });
});

describe("gradient accumulation rounds (the reference's accum_iter, counted within each epoch)", () => {
  it("steps at each round's last iteration with the lr of its first; an epoch's unfinished round is dropped", () => {
    const at = (iteration: number) => accumulationRoundAt(iteration, { iterationsPerEpoch: 5, accumIter: 2 });
    // epoch 0: iterations 0..4 -> rounds {0, 1}, {2, 3}, {4} (unfinished); epoch 1 starts a new round at 5
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => at(i))).toEqual([
      { roundStart: 0, startsRound: true, endsRound: false },
      { roundStart: 0, startsRound: false, endsRound: true },
      { roundStart: 2, startsRound: true, endsRound: false },
      { roundStart: 2, startsRound: false, endsRound: true },
      { roundStart: 4, startsRound: true, endsRound: false },
      { roundStart: 5, startsRound: true, endsRound: false },
      { roundStart: 5, startsRound: false, endsRound: true },
    ]);
    expect(accumulationRoundAt(7, { iterationsPerEpoch: 5, accumIter: 1 })).toEqual({ roundStart: 7, startsRound: true, endsRound: true });
  });
});

describe("warmup in fractions of an epoch", () => {
  it("rounds the warmup to whole iterations: half an epoch of 4 iterations warms up over 2", () => {
    const s = { base: 1, final: 0, epochs: 2, iterationsPerEpoch: 4, warmupEpochs: 0.5 };
    expect([0, 1].map((i) => cosineScheduleAt(i, s))).toEqual([0, 1]);
    // then the cosine over the remaining 6 iterations
    expect(cosineScheduleAt(2, s)).toBe(1);
    expect(cosineScheduleAt(5, s)).toBeCloseTo(0.5, 12);
  });
});
