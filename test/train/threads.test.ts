// The threads a process takes: the cores shared among the ranks on the machine, and a word
// when more threads or ranks than cores would take turns on them.
import { availableParallelism } from "node:os";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import type { FieldNames } from "../../src/config/parse.js";
import { type RankEnvironment, useThreads } from "../../src/train/distributed.js";

const cores = availableParallelism();
const ranksHere = (localWorldSize: number): RankEnvironment => ({
  rank: 0,
  localRank: 0,
  worldSize: localWorldSize,
  localWorldSize,
  masterAddr: "127.0.0.1",
  masterPort: 29500,
});
const chosen = (requested: number, world?: RankEnvironment, names: FieldNames = "flags") => {
  const warnings: string[] = [];
  return { threads: useThreads(requested, world, (m) => warnings.push(m), names), warnings };
};

describe("threads", () => {
  afterAll(() => useThreads(0, undefined, () => {}));
  const omp = process.env.OMP_NUM_THREADS;
  afterEach(() => {
    if (omp === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = omp;
  });

  it("shares the cores among the ranks on the machine, silently where they fit", () => {
    delete process.env.OMP_NUM_THREADS;
    expect(chosen(0)).toEqual({ threads: cores, warnings: [] });
    expect(chosen(0, ranksHere(cores))).toEqual({ threads: 1, warnings: [] });
    expect(chosen(1, ranksHere(cores))).toEqual({ threads: 1, warnings: [] });
  });

  it("says when threads or ranks outnumber the cores, and what fits", () => {
    delete process.env.OMP_NUM_THREADS;
    expect(chosen(cores + 1).warnings).toEqual([
      `--threads ${cores + 1} is more than this machine's ${cores} cores: each step will be slower than with ${cores} (--threads 0 picks that)`,
    ]);
    expect(chosen(2, ranksHere(cores)).warnings).toEqual([
      `--threads 2 x ${cores} ranks is more than this machine's ${cores} cores: each step will be slower than with 1 (--threads 0 picks that)`,
    ]);
    // from code, the field as code sets it
    expect(chosen(cores + 1, undefined, "fields").warnings).toEqual([
      `threads: ${cores + 1} is more than this machine's ${cores} cores: each step will be slower than with ${cores} (threads: 0 picks that)`,
    ]);
    expect(chosen(0, ranksHere(cores + 1))).toEqual({
      threads: 1,
      warnings: [
        `${cores + 1} ranks share this machine's ${cores} cores: they will take turns on them, slower than --nproc-per-node ${cores} or fewer`,
      ],
    });
  });

  it("takes OMP_NUM_THREADS for 0 where it is set, as PyTorch does, and says when it is more than the cores", () => {
    process.env.OMP_NUM_THREADS = "1";
    expect(chosen(0, ranksHere(1))).toEqual({ threads: 1, warnings: [] });
    expect(chosen(2, ranksHere(1)).threads).toBe(2); // a number given wins
    process.env.OMP_NUM_THREADS = String(cores + 1);
    expect(chosen(0)).toEqual({
      threads: cores + 1,
      warnings: [`OMP_NUM_THREADS=${cores + 1} is more than this machine's ${cores} cores: each step will be slower than with ${cores}`],
    });
    process.env.OMP_NUM_THREADS = "none";
    expect(chosen(0).threads).toBe(cores);
  });
});
