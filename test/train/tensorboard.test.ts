// TensorBoard event files, read back by an independent reader: tfrecord's RecordReader (checks
// both masked CRC32Cs of every record) and protobufjs decoding TensorFlow's Event proto from
// its .proto text; tags, steps and values are checked against log.jsonl.
import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import protobuf from "protobufjs";
import { RecordReader } from "tfrecord";
import { describe, expect, it } from "vitest";

import { crc32c } from "../../src/io/tfrecord.js";
import { EVENT_FILE, scalarTag } from "../../src/train/tensorboard.js";
import { Trainer } from "../../src/train/trainer.js";
import { tempDir, writeIdx } from "../data/helpers.js";
import { MICRO_RUN } from "./helpers.js";

const PROTO = fileURLToPath(new URL("../fixtures/tensorboard/event.proto", import.meta.url));

interface DecodedEvent {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  summary?: { value: Array<{ tag: string; simpleValue: number }> };
  sessionLog?: { status: string };
}

async function readEvents(path: string): Promise<DecodedEvent[]> {
  const Event = (await protobuf.load(PROTO)).lookupType("tensorflow.Event");
  const reader = await RecordReader.create(path);
  const events: DecodedEvent[] = [];
  for (let record = await reader.readRecord(); record !== null; record = await reader.readRecord()) {
    events.push(Event.toObject(Event.decode(record), { longs: Number, enums: String }) as DecodedEvent);
  }
  await reader.close();
  return events;
}

const eventFiles = (dir: string) => readdirSync(dir).filter((name) => EVENT_FILE.test(name));

const tiny = {
  ...MICRO_RUN,
  epochs: 2,
  warmupEpochs: 1,
} as const;

describe("TensorBoard event files", () => {
  it("CRC32C gives the standard check value", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("hold every number of each logged step and the k-NN results, as log.jsonl has them", async () => {
    const data = tempDir("tensorboard-data");
    writeIdx(data, "train", 12);
    writeIdx(data, "t10k", 10);
    const dir = tempDir("tensorboard-run");
    const before = Math.floor(Date.now() / 1000);
    await new Trainer(
      { ...tiny, dataPath: data, outputDir: dir, maxSteps: 3, knnEval: true, knnEvalLimit: 10 },
      { preset: "fashion-mnist-tiny", progress: false },
    ).fit();

    const files = eventFiles(dir);
    expect(files).toHaveLength(1);
    const [, seconds, host] = /^events\.out\.tfevents\.(\d+)\.(.+)$/.exec(files[0]!)!;
    expect(Number(seconds)).toBeGreaterThanOrEqual(before);
    expect(host).toBe(hostname());

    const events = await readEvents(join(dir, files[0]!));
    expect(events[0]).toMatchObject({ fileVersion: "brain.Event:2" });
    const log = readFileSync(join(dir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const steps = log.filter((line) => typeof line.iteration === "number" && !line.knn);
    const summaries = events.filter((e) => e.summary);
    expect(summaries.map((e) => e.step)).toEqual([...steps.map((line) => line.iteration), 3]);

    steps.forEach((line, i) => {
      const written = new Map(summaries[i]!.summary!.value.map((v) => [v.tag, v.simpleValue]));
      const numbers = Object.entries(line).filter(([field, v]) => typeof v === "number" && field !== "iteration" && field !== "iterationsPerEpoch");
      expect([...written.keys()].sort()).toEqual(numbers.map(([field]) => scalarTag(field)).sort());
      for (const [field, value] of numbers) expect(written.get(scalarTag(field)), field).toBe(Math.fround(value as number));
    });
    const tags = [...new Map(summaries[0]!.summary!.value.map((v) => [v.tag, v])).keys()];
    expect(tags).toEqual(
      expect.arrayContaining([
        "loss/total",
        "loss/cls",
        "loss/mim",
        "loss/spatial",
        "loss/channel",
        "schedule/lr",
        "schedule/weightDecay",
        "schedule/momentum",
        "schedule/teacherTemp",
        "schedule/teacherPatchTemp",
        "speed/imagesPerSecond",
        "speed/dataSeconds",
        "speed/stepSeconds",
        "speed/forwardSeconds",
        "speed/backwardSeconds",
        "speed/updateSeconds",
        "memory/rssMiB",
      ]),
    );

    const knn = (log.at(-1) as { knn: Array<{ k: number; top1: number; top5: number }> }).knn;
    expect(knn.map((a) => a.k)).toEqual([10]);
    expect(summaries.at(-1)!.summary!.value).toEqual([
      { tag: "knn/top1_k10", simpleValue: Math.fround(knn[0]!.top1) },
      { tag: "knn/top5_k10", simpleValue: Math.fround(knn[0]!.top5) },
    ]);
  });

  it("a resumed run marks where it starts again; a new run removes the old files; --tensorboard false writes none", async () => {
    const data = tempDir("tensorboard-data");
    writeIdx(data, "train", 12);
    const dir = tempDir("tensorboard-resume");
    const config = { ...tiny, dataPath: data, outputDir: dir, knnEval: false };
    await new Trainer({ ...config, maxSteps: 2 }, { preset: "fashion-mnist-tiny", progress: false }).fit();
    await new Trainer({ ...config, maxSteps: 3 }, { preset: "fashion-mnist-tiny", progress: false, resume: true }).fit();
    const events = (
      await Promise.all(
        eventFiles(dir)
          .sort()
          .map((f) => readEvents(join(dir, f))),
      )
    ).flat();
    const marks = events.filter((e) => e.sessionLog);
    expect(marks).toMatchObject([{ step: 3, sessionLog: { status: "START" } }]);
    expect(events.filter((e) => e.summary).map((e) => e.step)).toEqual([1, 2, 3]);

    await new Trainer({ ...config, maxSteps: 1, overwrite: true, tensorboard: false }, { preset: "fashion-mnist-tiny", progress: false }).fit();
    expect(eventFiles(dir)).toEqual([]);
  });
});
