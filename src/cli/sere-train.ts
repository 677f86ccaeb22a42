#!/usr/bin/env node
// sere-train: SERE pretraining from the command line.
//   sere-train [--preset NAME] [--config FILE] [--resume] [--print-config] [--flag value ...]
//   sere-train export ...: the same as sere export (src/cli/commands.ts)
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify as toYaml } from "yaml";

import { flagsHelp, parseFlags } from "../config/flags.js";
import { DEFAULT_PRESET, PRESETS } from "../config/presets.js";
import { type ConfigSources, resolveTrainConfig } from "../config/resolve.js";
import { trainConfigSchema } from "../config/train.js";
import { PARTIAL_SUFFIX } from "../io/atomic.js";
import { rankEnvironment } from "../train/distributed.js";
import { countOf, describePace, describePlan, describeProgress, PACE_SECONDS, type RunPlan } from "../train/plan.js";
import { writeLine } from "../train/progress.js";
import { CHECKPOINT, checkRunFolder, describeRunFiles } from "../train/run-folder.js";
import { refuseFolderInUse } from "../train/run-lock.js";
import { type EpochEvent, Trainer } from "../train/trainer.js";
import { runSere } from "./commands.js";
import { LAUNCH_USAGE, launchRanks, signalExitCode, takeLaunchFlags, watchLauncher } from "./launch.js";
import { packageVersion } from "./version.js";

/** The help text, each field with the value this run would take (`values`). */
const usage = (
  values: Record<string, unknown>,
  sources: ConfigSources,
) => `Usage: sere-train [--preset NAME] [--config FILE] [--resume] [--flag value ...]
       sere-train --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P] [...]
       sere-train export --pretrained-weights CHECKPOINT [--checkpoint-key teacher|student] [--output-dir DIR]

Pretrains a Vision Transformer with SERE. Values come from the preset (default
${DEFAULT_PRESET}), then the config file (JSON or YAML), then the flags.

  --preset NAME     ${Object.keys(PRESETS).join(", ")}
  --config FILE     a .json / .yaml file of fields (camelCase, kebab-case or snake_case)
  --resume          continue from <output-dir>/checkpoint.pth, with the settings the run
                    was started with (its config.json) where no flag or file gives others
  --print-config    print the resolved configuration as YAML and exit
  --version         the version of sere-train
  --help            this text

${LAUNCH_USAGE}

Fields: flags are the reference implementation's argument names, in kebab-case or its
snake_case (--batch-size-per-gpu or --batch_size_per_gpu); a boolean flag alone means true.
Values in brackets are what this run takes: preset ${sources.preset ?? DEFAULT_PRESET}${sources.configFile ? `, file ${sources.configFile}` : ""}${Object.keys(sources.overrides ?? {}).length > 0 ? " and the flags given" : ""}.
${flagsHelp(trainConfigSchema.shape, values)}
`;

/** What --help shows: the configuration resolved from the sources, or the preset's alone when they do not resolve. */
function helpValues(sources: ConfigSources): Record<string, unknown> {
  try {
    return resolveTrainConfig(sources);
  } catch {
    return resolveTrainConfig({ preset: sources.preset });
  }
}

async function train(argv: string[]): Promise<void> {
  const { launch, rest } = takeLaunchFlags(argv);
  const flags = parseFlags(rest, trainConfigSchema.shape, ["preset", "config"], ["resume", "print-config", "version"]);
  const sources: ConfigSources = {
    preset: flags.extra.preset as string | undefined,
    configFile: flags.extra.config as string | undefined,
    overrides: flags.values,
    resume: flags.extra.resume === true,
    names: "flags",
  };
  if (flags.extra.version === true) {
    process.stdout.write(`sere-train ${packageVersion()}\n`);
    return;
  }
  if (flags.help) {
    process.stdout.write(usage(helpValues(sources), sources));
    return;
  }
  if (flags.extra.printConfig === true) {
    process.stdout.write(toYaml(resolveTrainConfig(sources)));
    return;
  }
  if (launch) {
    // Bad values and a taken output folder fail here, once, rather than in every rank.
    const config = resolveTrainConfig(sources);
    refuseFolderInUse(resolve(config.outputDir));
    checkRunFolder(resolve(config.outputDir), {
      resume: flags.extra.resume === true,
      overwrite: config.overwrite,
      weights: config.pretrainedWeights,
    });
    process.exitCode = await launchRanks(launch, process.argv[1]!, rest);
    return;
  }
  const world = rankEnvironment();
  const speaks = !world || world.rank === 0;
  const controller = new AbortController();
  // where a run that quits at once can go on from: its last checkpoint, the end of an epoch of this process or earlier
  let checkpoint: string | undefined;
  let saved: EpochEvent | undefined;
  const stopCode = stopOnRequest(
    controller,
    () => {
      // quitting while the first checkpoint is written: it may land as the process ends
      if (checkpoint && existsSync(`${checkpoint}${PARTIAL_SUFFIX}`) && !existsSync(checkpoint))
        return `its first checkpoint was being written: where ${checkpoint} is there, --resume continues from it; else start it anew with --overwrite`;
      if (!checkpoint || !existsSync(checkpoint)) return "the run has no checkpoint yet: start it anew with --overwrite";
      const when = saved ? ` (step ${saved.iteration.toLocaleString("en-US")}, the end of epoch ${saved.epoch})` : "";
      return `--resume continues from its last checkpoint, ${checkpoint}${when}`;
    },
    speaks,
  );
  const { preset, configFile, resume, names } = sources;
  const trainer = new Trainer(flags.values, { preset, configFile, resume, names, signal: controller.signal });
  checkpoint = join(resolve(trainer.config.outputDir), CHECKPOINT);
  trainer.on("epoch", (e) => {
    saved = e;
  });
  trainer.on("warning", (message) => writeLine(`warning: ${message}`));
  let plan: RunPlan | undefined;
  trainer.on("start", (p) => {
    plan = p;
    if (speaks) process.stderr.write(`${describePlan(p)}\n`);
  });
  if (speaks) {
    // The pace from the first step's end on (the first carries the warm-up), said once it is known.
    let first: { iteration: number; at: number; seconds: number } | undefined;
    let paceSaid = false;
    trainer.on("step", (e) => {
      const now = performance.now();
      first ??= { iteration: e.iteration, at: now, seconds: e.dataSeconds + e.stepSeconds };
      const measured = (now - first.at) / 1000;
      if (paceSaid || !plan || measured < PACE_SECONDS) return;
      paceSaid = true;
      const secondsPerStep = measured / (e.iteration - first.iteration);
      const line = describePace(plan, { iteration: e.iteration, trainingSeconds: first.seconds + measured, secondsPerStep });
      if (line) writeLine(line);
    });
  }
  if (speaks)
    trainer.on("epoch", (e) =>
      writeLine(`epoch ${e.epoch} done: ${e.meanLoss === undefined ? "" : `mean loss ${e.meanLoss.toFixed(4)}, `}checkpoint ${e.checkpoint}`),
    );
  const result = await trainer.fit();
  // a stop during the final k-NN evaluation counts as a stop too
  if (result.stoppedBy === "abort" || controller.signal.aborted) process.exitCode = stopCode();
  if (!speaks) return;
  if (result.stoppedBy === "maxMinutes") {
    process.stderr.write(
      `the time limit (--max-minutes ${trainer.config.maxMinutes}) ended training; --max-minutes 0 --max-steps ${result.iterations} trains the same steps\n`,
    );
    if (trainer.config.lrCooldownEpochs > 0)
      process.stderr.write(
        `it ended before the learning rate's cooldown (--lr-cooldown-epochs ${trainer.config.lrCooldownEpochs}) was done: fewer --epochs let it finish within the limit\n`,
      );
  }
  process.stderr.write(
    `${result.stoppedBy === "done" ? "training done" : `stopped (${result.stoppedBy})`} after ${countOf(result.iterations, "step")}${plan ? ` (${describeProgress(result.iterations, plan)})` : ""}\n` +
      `outputs in ${trainer.config.outputDir}: ${describeRunFiles(trainer.config.outputDir)}\n`,
  );
  if (result.stoppedBy === "abort" && result.lastCheckpoint)
    process.stderr.write(`sere-train --resume --output-dir ${trainer.config.outputDir} continues it from ${result.lastCheckpoint}\n`);
  if (result.knn) process.stderr.write(`k-NN accuracy of the teacher: ${result.knn.map((r) => `k=${r.k} top-1 ${r.top1.toFixed(2)}%`).join(", ")}\n`);
  else if (result.stoppedBy !== "abort" && controller.signal.aborted && trainer.config.knnEval && result.lastCheckpoint)
    process.stderr.write(
      `the k-NN evaluation was stopped; sere eval knn --pretrained-weights ${result.lastCheckpoint} --data-path ${trainer.config.dataPath} measures it\n`,
    );
}

/** How long a rank whose launcher is gone may take to stop after its step before it quits. */
const ORPHAN_GRACE_MS = 30_000;

/**
 * Asks the run to stop after the current step, with a checkpoint, on Ctrl-C (SIGINT), on
 * SIGTERM (schedulers, `timeout`) and when the launcher of this rank is gone; the same
 * signal again quits at once, saying where the run can go on from (`whereFrom`). Returns the
 * exit code for the stop: 128 + the signal's number. Only the rank that `speaks` says so: the
 * launcher passes each signal to every rank.
 */
function stopOnRequest(controller: AbortController, whereFrom: () => string, speaks: boolean): () => number {
  const say = speaks ? writeLine : () => {};
  let code = signalExitCode("SIGINT");
  const stop = (why: string, exitCode: number) => {
    if (controller.signal.aborted) return;
    code = exitCode;
    say(`${why}: stopping after this step, with a checkpoint (an evaluation under way stops at once)`);
    controller.abort();
  };
  const quitNow = (signal: "SIGINT" | "SIGTERM") => {
    say(`${signal === "SIGINT" ? "Ctrl-C" : signal} again: quitting now, without a checkpoint of this step; ${whereFrom()}`);
    process.exit(signalExitCode(signal)); // the run's lock goes on exit
  };
  // One listener for all of a signal's arrivals: between a `once` listener and the next, the
  // signal would take its default action and kill the process without a word.
  const received = { SIGINT: 0, SIGTERM: 0 };
  process.on("SIGINT", () => {
    if (received.SIGINT++ > 0) return quitNow("SIGINT");
    stop("Ctrl-C", signalExitCode("SIGINT"));
    say("press Ctrl-C again to quit now");
  });
  process.on("SIGTERM", () => {
    if (received.SIGTERM++ > 0) return quitNow("SIGTERM");
    stop("SIGTERM", signalExitCode("SIGTERM"));
  });
  watchLauncher(() => {
    stop("the launcher is gone", signalExitCode("SIGHUP"));
    setTimeout(() => process.exit(signalExitCode("SIGHUP")), ORPHAN_GRACE_MS).unref();
  });
  return () => code;
}

const [first, ...rest] = process.argv.slice(2);
if (first === "export") {
  // One export command: `sere-train export` is `sere export`.
  runSere(["export", ...rest], "sere-train");
} else {
  train(process.argv.slice(2)).catch((err: Error) => {
    const rank = process.env.WORLD_SIZE ? ` (rank ${process.env.RANK})` : "";
    writeLine(`sere-train${rank}: ${err.message}`);
    process.exitCode = 1;
  });
}
