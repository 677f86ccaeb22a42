// The built-in launcher: `sere-train --nproc-per-node N [--nnodes M --node-rank R
// --master-addr A --master-port P] ...` starts this machine's N ranks with torchrun's
// environment variables and supervises them.
import { type ChildProcess, spawn } from "node:child_process";
import { Socket } from "node:net";
import { constants } from "node:os";
import { z } from "zod";

import { parseFlags } from "../config/flags.js";
import { ConfigError, kebab, parseOptions } from "../config/parse.js";

const launchSchema = z
  .object({
    /** Ranks on this machine (one per device). */
    nprocPerNode: z.number().int().positive(),
    nnodes: z.number().int().positive().default(1),
    nodeRank: z.number().int().min(0).default(0),
    masterAddr: z.string().min(1).default("127.0.0.1"),
    masterPort: z.number().int().min(1).max(65535).default(29500),
  })
  .refine((o) => o.nodeRank < o.nnodes, { message: "must be less than --nnodes", path: ["nodeRank"] });

export type LaunchOptions = z.output<typeof launchSchema>;

export const LAUNCH_USAGE = `Data parallelism (one process per device, c10d: Gloo on the CPU, NCCL on CUDA):
  --nproc-per-node N   start N ranks on this machine and supervise them
  --nnodes M           machines taking part (default 1); on each run the same command
  --node-rank R        this machine's place among them (0 .. M-1, default 0)
  --master-addr A      the machine of rank 0 (default 127.0.0.1)
  --master-port P      a free port there (default 29500)
Ranks started by torchrun or a cluster launcher read RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT instead; ranks started by srun read SLURM_PROCID,
SLURM_NTASKS, SLURM_LOCALID and the first host of SLURM_NODELIST (MASTER_PORT: 29500).`;

/** Splits the launcher's flags from the training flags; `launch` is undefined without --nproc-per-node. */
export function takeLaunchFlags(argv: string[]): { launch?: LaunchOptions; rest: string[] } {
  const names = Object.keys(launchSchema.shape).map((name) => `--${kebab(name)}`);
  const taken: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (!names.includes(flag.replace(/_/g, "-"))) {
      rest.push(arg); // torchrun's --nproc_per_node too
      continue;
    }
    taken.push(arg);
    if (!arg.includes("=")) {
      if (argv[i + 1] === undefined) throw new ConfigError(`${flag} needs a value`);
      taken.push(argv[++i]!);
    }
  }
  if (taken.length === 0) return { rest };
  // the values read as the training flags' are: a word where a number belongs is named
  const found = parseFlags(taken, launchSchema.shape).values;
  if (found.nprocPerNode === undefined) throw new ConfigError("--nnodes, --node-rank, --master-addr and --master-port need --nproc-per-node N");
  return { launch: parseOptions(launchSchema, found, "launcher flags", { names: "flags" }), rest };
}

/** The variable that tells a rank which of its file descriptors is the pipe from its launcher. */
const LAUNCHER_PIPE = "SERE_LAUNCHER_FD";

/** The exit code of a process stopped by `signal`, as shells report it: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * In a rank started by launchRanks: calls `onGone` once when the launcher is gone (killed,
 * hung up), which closes the pipe it holds to this rank, so that no rank trains on as an
 * orphan. Does nothing in a process started otherwise.
 */
export function watchLauncher(onGone: () => void): void {
  const fd = Number(process.env[LAUNCHER_PIPE]);
  if (!process.env[LAUNCHER_PIPE] || !Number.isInteger(fd)) return;
  let gone = false;
  const once = () => {
    if (!gone) onGone();
    gone = true;
  };
  const pipe = new Socket({ fd, readable: true, writable: false });
  pipe.on("error", once);
  pipe.on("close", once);
  pipe.resume();
  pipe.unref(); // the watch alone does not keep the rank alive
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Runs `script args` as this machine's ranks and resolves with the exit code for the
 * launcher: 0 when every rank succeeded, 130 after Ctrl-C (143 after SIGTERM), otherwise the
 * first failure's.
 * When a rank fails the others get `graceSeconds` to stop on their own (they notice within
 * their --dist-timeout), then they are terminated.
 */
export async function launchRanks(launch: LaunchOptions, script: string, args: string[], graceSeconds = 60): Promise<number> {
  const worldSize = launch.nprocPerNode * launch.nnodes;
  const children: { rank: number; child: ChildProcess; done: boolean }[] = [];
  let firstFailure: { rank: number; code: number } | undefined;
  let interruptedBy: NodeJS.Signals | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  const stopOthers = () => {
    killTimer ??= setTimeout(() => {
      for (const c of children) if (!c.done) c.child.kill("SIGTERM");
      setTimeout(
        () =>
          children.forEach((c) => {
            if (!c.done) c.child.kill("SIGKILL");
          }),
        5000,
      ).unref();
    }, graceSeconds * 1000);
    killTimer.unref();
  };
  // Ctrl-C reaches the launcher alone (the ranks run in their own process groups): it asks
  // every rank to stop after the current step, once; a second Ctrl-C makes them quit at once.
  // SIGTERM (schedulers, `timeout`) does the same.
  const onSignal = (signal: NodeJS.Signals) => {
    interruptedBy ??= signal;
    for (const c of children) if (!c.done) c.child.kill(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const exits = Array.from({ length: launch.nprocPerNode }, (_, localRank) => {
    const rank = launch.nodeRank * launch.nprocPerNode + localRank;
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(localRank),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(launch.nprocPerNode),
        MASTER_ADDR: launch.masterAddr,
        MASTER_PORT: String(launch.masterPort),
        [LAUNCHER_PIPE]: "3",
      },
      // fd 3: a pipe the rank watches; the kernel closes it when the launcher dies.
      stdio: ["inherit", "inherit", "inherit", "pipe"],
      detached: true,
    });
    const entry = { rank, child, done: false };
    children.push(entry);
    return new Promise<void>((resolve) => {
      child.on("exit", (code, signal) => {
        entry.done = true;
        child.stdio[3]?.destroy();
        const failed = code !== 0 && !(interruptedBy && code === signalExitCode(interruptedBy));
        if (failed) {
          process.stderr.write(`sere-train: rank ${rank} ${describeExit(code, signal)}\n`);
          firstFailure ??= { rank, code: code ?? 1 };
          stopOthers();
        }
        resolve();
      });
      child.on("error", (err) => {
        process.stderr.write(`sere-train: rank ${rank} could not start: ${err.message}\n`);
        firstFailure ??= { rank, code: 1 };
        entry.done = true;
        stopOthers();
        resolve();
      });
    });
  });
  await Promise.all(exits);
  if (killTimer) clearTimeout(killTimer);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (firstFailure) {
    process.stderr.write(`sere-train: stopped because rank ${firstFailure.rank} failed\n`);
    return firstFailure.code === 0 ? 1 : firstFailure.code;
  }
  return interruptedBy ? signalExitCode(interruptedBy) : 0;
}
