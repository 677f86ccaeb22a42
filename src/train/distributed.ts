// Data parallelism from TypeScript's side: which rank this process is (torchrun's
// environment variables) and its c10d connection to the others.
import { native } from "../native/load.js";
import type { NativeCommunicator } from "../native/surface.js";
import { ConfigError } from "../config/parse.js";

/** This process's place in a data-parallel run, as torchrun and the built-in launcher set it. */
export interface RankEnvironment {
  rank: number;
  localRank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
}

function integerVariable(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const text = env[name];
  if (text === undefined || text === "") {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${name} is not set, but WORLD_SIZE is: a data-parallel rank needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (start it with sere-train --nproc-per-node N, or torchrun)`);
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${text}"`);
  return value;
}

/** The rank described by RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; undefined without WORLD_SIZE. */
export function rankEnvironment(env: NodeJS.ProcessEnv = process.env): RankEnvironment | undefined {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === "") return undefined;
  const worldSize = integerVariable(env, "WORLD_SIZE");
  const rank = integerVariable(env, "RANK");
  if (worldSize < 1 || rank >= worldSize) throw new ConfigError(`RANK must be in [0, WORLD_SIZE = ${worldSize}), got ${rank}`);
  const masterPort = integerVariable(env, "MASTER_PORT", 29500);
  if (masterPort < 1 || masterPort > 65535) throw new ConfigError(`MASTER_PORT must be a port number (1-65535), got ${masterPort}`);
  return {
    rank,
    localRank: integerVariable(env, "LOCAL_RANK", rank),
    worldSize,
    masterAddr: env.MASTER_ADDR || "127.0.0.1",
    masterPort,
  };
}

/** The training device of a rank: CUDA ranks take the GPU of their LOCAL_RANK. */
export function rankDevice(device: string, world: RankEnvironment | undefined): string {
  return world && device === "cuda" ? `cuda:${world.localRank}` : device;
}

/** Joins the other ranks (resolves once all have arrived, or fails after `timeoutSeconds`). */
export async function connectRanks(world: RankEnvironment, options: { device: string; timeoutSeconds: number }): Promise<NativeCommunicator> {
  const communicator = new (native().Communicator)({ ...world, ...options });
  try {
    await communicator.connect();
  } catch (err) {
    communicator.dispose();
    throw err;
  }
  return communicator;
}
