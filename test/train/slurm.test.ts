import { describe, expect, it } from "vitest";

import { rankEnvironment, slurmHosts } from "../../src/train/distributed.js";

describe("SLURM node lists", () => {
  it.each([
    ["gpu5", ["gpu5"]],
    ["node[01-03,07],gpu5", ["node01", "node02", "node03", "node07", "gpu5"]],
    ["a[8-10]", ["a8", "a9", "a10"]],
    ["rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]],
    ["x1,y[098-100].cluster", ["x1", "y098.cluster", "y099.cluster", "y100.cluster"]],
  ])("%s", (list, hosts) => {
    expect(slurmHosts(list)).toEqual(hosts);
  });

  it.each([
    ["node[01-03", /unclosed "\["/],
    ["node[a-b]", /"a-b" in brackets/],
    ["node[05-03]", /descending range "05-03"/],
    ["a,,b", /empty entry/],
  ])("refuses %s", (list, message) => {
    expect(() => slurmHosts(list)).toThrow(message);
  });
});

describe("rankEnvironment under srun", () => {
  const srun = { SLURM_PROCID: "5", SLURM_NTASKS: "8", SLURM_LOCALID: "1", SLURM_NTASKS_PER_NODE: "4", SLURM_NODELIST: "node[03-04]" };

  it("reads SLURM's rank, world, local rank, local count and first host", () => {
    expect(rankEnvironment(srun)).toEqual({ rank: 5, localRank: 1, worldSize: 8, localWorldSize: 4, masterAddr: "node03", masterPort: 29500 });
  });

  it("prefers SLURM_JOB_NODELIST's forms, MASTER_ADDR and MASTER_PORT when set", () => {
    const { SLURM_NODELIST: _, ...rest } = srun;
    expect(rankEnvironment({ ...rest, SLURM_JOB_NODELIST: "gpu[7,9]", SLURM_NTASKS_PER_NODE: "4(x2)" })).toMatchObject({
      masterAddr: "gpu7",
      localWorldSize: 4,
    });
    expect(rankEnvironment({ ...srun, MASTER_ADDR: "10.0.0.1", MASTER_PORT: "1234" })).toMatchObject({ masterAddr: "10.0.0.1", masterPort: 1234 });
  });

  it("takes the world as the local count without SLURM_NTASKS_PER_NODE", () => {
    const { SLURM_NTASKS_PER_NODE: _, ...rest } = srun;
    expect(rankEnvironment(rest)?.localWorldSize).toBe(8);
  });

  it("leaves torchrun's variables first and a single task alone", () => {
    expect(rankEnvironment({ ...srun, WORLD_SIZE: "2", RANK: "1", MASTER_ADDR: "h" })).toMatchObject({
      rank: 1,
      worldSize: 2,
      masterAddr: "h",
      localWorldSize: 2,
    });
    expect(rankEnvironment({ ...srun, SLURM_PROCID: "0", SLURM_NTASKS: "1" })).toBeUndefined();
    expect(rankEnvironment({})).toBeUndefined();
  });

  it("names what is wrong", () => {
    expect(() => rankEnvironment({ ...srun, SLURM_PROCID: "8" })).toThrow(/SLURM_PROCID and SLURM_NTASKS: the rank must be in \[0, 8\), got 8/);
    const { SLURM_NODELIST: _, ...rest } = srun;
    expect(() => rankEnvironment(rest)).toThrow(/SLURM_NODELIST is not set/);
    expect(() => rankEnvironment({ ...srun, SLURM_LOCALID: "x" })).toThrow(/SLURM_LOCALID must be a non-negative integer/);
  });
});
