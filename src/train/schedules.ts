// The schedules of docs/method.md#schedules, in one place: values at a given iteration or epoch.

export interface CosineSchedule {
  /** Value after warmup, at the start of the cosine. */
  base: number;
  /** Value the cosine ends at. */
  final: number;
  epochs: number;
  iterationsPerEpoch: number;
  /** Linear warmup from `warmupStart` to `base` over these epochs (inclusive of both ends). */
  warmupEpochs?: number;
  warmupStart?: number;
}

/**
 * Per-iteration cosine schedule with linear warmup, as the reference's cosine_scheduler:
 * warmup takes `warmupStart` to `base` linearly over the warmup iterations (both ends
 * included), then final + (base - final) * (1 + cos(pi * i / I)) / 2 over the I
 * remaining iterations.
 */
export function cosineScheduleAt(iteration: number, s: CosineSchedule): number {
  const total = s.epochs * s.iterationsPerEpoch;
  const warmup = Math.round((s.warmupEpochs ?? 0) * s.iterationsPerEpoch);
  const i = Math.min(Math.max(iteration, 0), total - 1);
  if (i < warmup) {
    const start = s.warmupStart ?? 0;
    return warmup === 1 ? start : start + ((s.base - start) * i) / (warmup - 1);
  }
  const cosineLength = total - warmup;
  return s.final + 0.5 * (s.base - s.final) * (1 + Math.cos((Math.PI * (i - warmup)) / cosineLength));
}

/**
 * Learning rate at an iteration: peak = base lr * global batch / 256, warmup from 0, then a
 * cosine to minLr, or (schedule "constant") the peak to the end, or to the last
 * `cooldownEpochs`, over which it falls linearly to minLr (reached at the last iteration).
 */
export function learningRateAt(
  iteration: number,
  o: {
    lr: number;
    minLr: number;
    schedule?: "cosine" | "constant";
    cooldownEpochs?: number;
    globalBatchSize: number;
    epochs: number;
    warmupEpochs: number;
    iterationsPerEpoch: number;
  },
): number {
  const peak = (o.lr * o.globalBatchSize) / 256;
  const cooldown = o.schedule === "constant" ? Math.round((o.cooldownEpochs ?? 0) * o.iterationsPerEpoch) : 0;
  const total = o.epochs * o.iterationsPerEpoch;
  const cooldownStart = total - cooldown;
  const i = Math.min(iteration, total - 1);
  if (cooldown > 0 && i >= cooldownStart) return peak + ((o.minLr - peak) * (i - cooldownStart + 1)) / cooldown;
  return cosineScheduleAt(iteration, {
    base: peak,
    final: o.schedule === "constant" ? peak : o.minLr,
    epochs: o.epochs,
    iterationsPerEpoch: o.iterationsPerEpoch,
    warmupEpochs: o.warmupEpochs,
  });
}

/** Weight decay at an iteration: cosine from weightDecay to weightDecayEnd, no warmup. */
export function weightDecayAt(
  iteration: number,
  o: { weightDecay: number; weightDecayEnd: number; epochs: number; iterationsPerEpoch: number },
): number {
  return cosineScheduleAt(iteration, { base: o.weightDecay, final: o.weightDecayEnd, epochs: o.epochs, iterationsPerEpoch: o.iterationsPerEpoch });
}

/** Teacher EMA momentum at an iteration: cosine from momentumTeacher to momentumTeacherEnd (the reference: 1). */
export function teacherMomentumAt(
  iteration: number,
  o: { momentumTeacher: number; momentumTeacherEnd: number; epochs: number; iterationsPerEpoch: number },
): number {
  return cosineScheduleAt(iteration, {
    base: o.momentumTeacher,
    final: o.momentumTeacherEnd,
    epochs: o.epochs,
    iterationsPerEpoch: o.iterationsPerEpoch,
  });
}

/**
 * Teacher temperature at an epoch (docs/method.md#schedules): linear from `warmup` to `final` over
 * `warmupEpochs` epochs (both ends included), then constant. Changes per epoch only.
 */
export function teacherTemperatureAt(epoch: number, o: { warmup: number; final: number; warmupEpochs: number }): number {
  if (epoch >= o.warmupEpochs) return o.final;
  if (o.warmupEpochs === 1) return o.warmup;
  return o.warmup + ((o.final - o.warmup) * epoch) / (o.warmupEpochs - 1);
}

/**
 * Where an iteration falls in gradient accumulation, as the reference counts it: rounds of
 * `accumIter` iterations within each epoch. The optimiser steps at a round's last iteration
 * with the learning rate and weight decay of its first (`roundStart`, a global iteration).
 */
export function accumulationRoundAt(iteration: number, o: { iterationsPerEpoch: number; accumIter: number }) {
  const position = (iteration % o.iterationsPerEpoch) % o.accumIter;
  return {
    roundStart: iteration - position,
    startsRound: position === 0,
    endsRound: ((iteration % o.iterationsPerEpoch) + 1) % o.accumIter === 0,
  };
}
