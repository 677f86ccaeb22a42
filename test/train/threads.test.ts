// The threads a process takes: the cores shared among the ranks on the machine, and a word
// when more threads or ranks than cores would take turns on them.
import { availableParallelism } from "node:os";
import { afterAll, describe, expect, it } from "vitest";

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

  it("shares the cores among the ranks on the machine, silently where they fit", () => {
    expect(chosen(0)).toEqual({ threads: cores, warnings: [] });
    expect(chosen(0, ranksHere(cores))).toEqual({ threads: 1, warnings: [] });
    expect(chosen(1, ranksHere(cores))).toEqual({ threads: 1, warnings: [] });
  });

  it("says when threads or ranks outnumber the cores, and what fits", () => {
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
});
