// Data parallelism from TypeScript's side: which rank this process is (torchrun's
// environment variables, or SLURM's) and its c10d connection to the others.

import { availableParallelism } from "node:os";

import { ConfigError, type FieldNames, settingName } from "../config/parse.js";
import { native } from "../native/load.js";
import type { NativeCommunicator } from "../native/surface.js";
import { coresPerRank, defaultThreads, setThreads, threadsFromEnvironment } from "../runtime.js";

/**
 * The LibTorch threads of this process, set: `requested`, or (0) OMP_NUM_THREADS where set, else
 * the machine's cores shared among the ranks on it. More threads than cores slow every op (each
 * waits on the others' turns): said through `warn`, not refused (a container may show fewer
 * cores than it may use), naming the setting as the caller gives it (`names`).
 */
export function useThreads(
  requested: number,
  world: RankEnvironment | undefined,
  warn: (message: string) => void,
  names: FieldNames = "fields",
): number {
  const cores = availableParallelism();
  const ranksHere = world?.localWorldSize ?? 1;
  const fitting = coresPerRank(ranksHere);
  const threads = requested > 0 ? requested : defaultThreads(ranksHere);
  if (ranksHere > cores) {
    warn(`${ranksHere} ranks share this machine's ${cores} cores: they will take turns on them, slower than --nproc-per-node ${cores} or fewer`);
  } else if (threads * ranksHere > cores) {
    const ranks = ranksHere > 1 ? ` x ${ranksHere} ranks` : "";
    const given = requested > 0 ? settingName("threads", names, threads) : `OMP_NUM_THREADS=${threads}`;
    const fix = requested > 0 && threadsFromEnvironment() === undefined ? ` (${settingName("threads", names, 0)} picks that)` : "";
    warn(`${given}${ranks} is more than this machine's ${cores} cores: each step will be slower than with ${fitting}${fix}`);
  }
  setThreads(threads);
  return threads;
}

/** This process's place in a data-parallel run, as torchrun and the built-in launcher set it. */
export interface RankEnvironment {
  rank: number;
  localRank: number;
  worldSize: number;
  /** Ranks on this machine (they share its cores). */
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
}

function integerVariable(env: NodeJS.ProcessEnv, name: string, fallback?: number, needs = TORCHRUN_NEEDS): number {
  const text = env[name];
  if (text === undefined || text === "") {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${name} is not set, but ${needs}`);
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${text}"`);
  return value;
}

const TORCHRUN_NEEDS =
  "WORLD_SIZE is: a data-parallel rank needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (start it with sere-train --nproc-per-node N, or torchrun)";
const SLURM_NEEDS = "SLURM_NTASKS is above 1: a rank started by srun needs SLURM_PROCID, SLURM_NTASKS and SLURM_NODELIST (or MASTER_ADDR)";

function checkedPort(env: NodeJS.ProcessEnv): number {
  const masterPort = integerVariable(env, "MASTER_PORT", 29500);
  if (masterPort < 1 || masterPort > 65535) throw new ConfigError(`MASTER_PORT must be a port number (1-65535), got ${masterPort}`);
  return masterPort;
}

function checkedRank(rank: number, worldSize: number, names: string): void {
  if (worldSize < 1 || rank >= worldSize) throw new ConfigError(`${names}: the rank must be in [0, ${worldSize}), got ${rank}`);
}

/**
 * The rank described by torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT) or, without WORLD_SIZE, by SLURM's (srun with more than one
 * task, as DINO's init_distributed_mode reads them); undefined for a single process.
 */
export function rankEnvironment(env: NodeJS.ProcessEnv = process.env): RankEnvironment | undefined {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === "") return slurmRankEnvironment(env);
  const worldSize = integerVariable(env, "WORLD_SIZE");
  const rank = integerVariable(env, "RANK");
  checkedRank(rank, worldSize, "RANK and WORLD_SIZE");
  return {
    rank,
    localRank: integerVariable(env, "LOCAL_RANK", rank),
    worldSize,
    localWorldSize: integerVariable(env, "LOCAL_WORLD_SIZE", 0) || worldSize,
    masterAddr: env.MASTER_ADDR || "127.0.0.1",
    masterPort: checkedPort(env),
  };
}

/**
 * A rank of `srun` (SLURM_PROCID of SLURM_NTASKS, SLURM_LOCALID on its node); rank 0 is on
 * the first host of the job's node list, unless MASTER_ADDR says otherwise. One task
 * (a plain sbatch script) is a single process.
 */
function slurmRankEnvironment(env: NodeJS.ProcessEnv): RankEnvironment | undefined {
  if (env.SLURM_PROCID === undefined || env.SLURM_PROCID === "") return undefined;
  const worldSize = integerVariable(env, "SLURM_NTASKS", 1, SLURM_NEEDS);
  if (worldSize <= 1) return undefined;
  const rank = integerVariable(env, "SLURM_PROCID", undefined, SLURM_NEEDS);
  checkedRank(rank, worldSize, "SLURM_PROCID and SLURM_NTASKS");
  const nodeList = env.SLURM_STEP_NODELIST || env.SLURM_JOB_NODELIST || env.SLURM_NODELIST;
  if (!env.MASTER_ADDR && !nodeList) throw new ConfigError(`SLURM_NODELIST is not set, but ${SLURM_NEEDS}`);
  return {
    rank,
    localRank: integerVariable(env, "SLURM_LOCALID", rank, SLURM_NEEDS),
    worldSize,
    localWorldSize: tasksOnThisNode(env, worldSize),
    masterAddr: env.MASTER_ADDR || slurmHosts(nodeList!)[0]!,
    masterPort: checkedPort(env),
  };
}

/** SLURM_NTASKS_PER_NODE ("4", "4(x2)", "4(x2),3": this node's is not known, so the first) or the world. */
function tasksOnThisNode(env: NodeJS.ProcessEnv, worldSize: number): number {
  const perNode = env.SLURM_STEP_TASKS_PER_NODE || env.SLURM_NTASKS_PER_NODE || env.SLURM_TASKS_PER_NODE;
  const first = Number(perNode?.match(/^\d+/)?.[0]);
  return Number.isInteger(first) && first > 0 ? first : worldSize;
}

/**
 * The hosts of a SLURM node list, in order: "node[01-03,07],gpu5" is node01, node02,
 * node03, node07, gpu5 (ranges keep their zero padding; several bracket groups, as in
 * "rack[1-2]-n[1-2]", expand left to right).
 */
export function slurmHosts(nodeList: string): string[] {
  const hosts: string[] = [];
  for (const item of splitTopLevel(nodeList.trim())) {
    if (item === "") throw new ConfigError(`the SLURM node list "${nodeList}" has an empty entry`);
    hosts.push(...expandHost(item, nodeList));
  }
  return hosts;
}

/** Splits at commas outside brackets. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "[") depth++;
    else if (text[i] === "]") depth--;
    else if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function expandHost(item: string, nodeList: string): string[] {
  const open = item.indexOf("[");
  if (open < 0) return [item];
  const close = item.indexOf("]", open);
  if (close < 0) throw new ConfigError(`the SLURM node list "${nodeList}" has an unclosed "["`);
  const prefix = item.slice(0, open);
  const rests = expandHost(item.slice(close + 1), nodeList);
  return item
    .slice(open + 1, close)
    .split(",")
    .flatMap((range) => expandRange(range, nodeList))
    .flatMap((middle) => rests.map((rest) => prefix + middle + rest));
}

/** "01-03" is 01, 02, 03; "7" is 7. */
function expandRange(range: string, nodeList: string): string[] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (!match) throw new ConfigError(`the SLURM node list "${nodeList}" has "${range}" in brackets, expected numbers or ranges such as 01-03`);
  const [, from, to = from] = match as unknown as [string, string, string?];
  const [first, last] = [Number(from), Number(to)];
  if (last < first) throw new ConfigError(`the SLURM node list "${nodeList}" has the descending range "${range}"`);
  return Array.from({ length: last - first + 1 }, (_, i) => String(first + i).padStart(from.length, "0"));
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
