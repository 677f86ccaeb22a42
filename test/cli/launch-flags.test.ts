// The launcher's flags, taken out of a command line before the command's own flags are read.
import { describe, expect, it } from "vitest";

import { takeLaunchFlags } from "../../src/cli/launch.js";

describe("launcher flags", () => {
  it("are split from the command's flags, in kebab, torchrun's snake or inline form", () => {
    expect(takeLaunchFlags(["--epochs", "3", "--nproc-per-node", "2", "--lr=1e-3", "--master_port=29600"])).toEqual({
      launch: { nprocPerNode: 2, nnodes: 1, nodeRank: 0, masterAddr: "127.0.0.1", masterPort: 29600 },
      rest: ["--epochs", "3", "--lr=1e-3"],
    });
    expect(takeLaunchFlags(["--nproc_per_node", "4", "--nnodes", "2", "--node-rank", "1", "--master-addr", "node03"]).launch).toEqual({
      nprocPerNode: 4,
      nnodes: 2,
      nodeRank: 1,
      masterAddr: "node03",
      masterPort: 29500,
    });
    expect(takeLaunchFlags(["--epochs", "3"])).toEqual({ rest: ["--epochs", "3"] });
  });

  it("say what is wrong with a value, as the command's flags do", () => {
    expect(() => takeLaunchFlags(["--nproc-per-node", "two"])).toThrow('--nproc-per-node: expected a number, given "two"');
    expect(() => takeLaunchFlags(["--nproc-per-node"])).toThrow("--nproc-per-node needs a value");
    expect(() => takeLaunchFlags(["--nproc-per-node", "0"])).toThrow(/--nproc-per-node: Too small/);
    expect(() => takeLaunchFlags(["--nproc-per-node", "2", "--nnodes", "2", "--node-rank", "2"])).toThrow(
      /--node-rank: must be less than --nnodes \(given: 2\)/,
    );
    expect(() => takeLaunchFlags(["--master-port", "29600"])).toThrow(
      "--nnodes, --node-rank, --master-addr and --master-port need --nproc-per-node N",
    );
  });
});
