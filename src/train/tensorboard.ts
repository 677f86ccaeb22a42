// TensorBoard event files (events.out.tfevents.<seconds>.<host>) beside log.jsonl: TFRecords
// of Event protos, the first naming the format ("brain.Event:2"), then one per logged step
// with its numbers as scalar summaries. The protobuf encoding is written out by hand for the
// few fields used (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto).
import { closeSync, openSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { KnnAccuracy } from "../eval/knn.js";
import { tfRecord } from "../io/tfrecord.js";

/** Matches the event files a run writes into its output folder. */
export const EVENT_FILE = /^events\.out\.tfevents\./;

// Protobuf wire types
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

const key = (field: number, wireType: number) => varint((field << 3) | wireType);

function lengthDelimited(field: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...key(field, LENGTH_DELIMITED), ...varint(data.length)]), data]);
}

/** Summary.Value { tag = 1; simple_value = 2 (float) }. */
function summaryValue(tag: string, value: number): Buffer {
  const simpleValue = Buffer.alloc(4);
  simpleValue.writeFloatLE(value);
  return Buffer.concat([lengthDelimited(1, Buffer.from(tag, "utf8")), Buffer.from(key(2, FIXED32)), simpleValue]);
}

/** What an Event holds besides its time and step: file_version = 3, summary = 5, session_log = 6. */
type EventBody = { fileVersion: string } | { scalars: ReadonlyMap<string, number> } | { sessionStart: true };

/** Event { wall_time = 1 (double); step = 2 (int64); ...body }. */
export function encodeEvent(wallTime: number, step: number, body: EventBody): Buffer {
  const time = Buffer.alloc(8);
  time.writeDoubleLE(wallTime);
  const parts: Uint8Array[] = [Buffer.from(key(1, FIXED64)), time, Buffer.from([...key(2, VARINT), ...varint(step)])];
  if ("fileVersion" in body) parts.push(lengthDelimited(3, Buffer.from(body.fileVersion, "utf8")));
  if ("scalars" in body) {
    // Summary { repeated Value value = 1 }
    const values = [...body.scalars].map(([tag, value]) => lengthDelimited(1, summaryValue(tag, value)));
    parts.push(lengthDelimited(5, Buffer.concat(values)));
  }
  // SessionLog { status = 1: START }: a restart, after which TensorBoard's loader drops earlier data from this step on
  if ("sessionStart" in body) parts.push(lengthDelimited(6, Buffer.from([...key(1, VARINT), 1])));
  return Buffer.concat(parts);
}

/** The log fields that are no measurement: the step itself and the epoch's length. */
const NOT_SCALARS = new Set(["iteration", "iterationsPerEpoch"]);

/** TensorBoard shows tags grouped by what comes before "/". */
const GROUPS: Record<string, string> = {
  total: "loss",
  ibot: "loss",
  cls: "loss",
  mim: "loss",
  spatial: "loss",
  channel: "loss",
  clsEntropy: "loss",
  clsKl: "loss",
  lr: "schedule",
  weightDecay: "schedule",
  momentum: "schedule",
  teacherTemp: "schedule",
  teacherPatchTemp: "schedule",
  imagesPerSecond: "speed",
  dataSeconds: "speed",
  stepSeconds: "speed",
  forwardSeconds: "speed",
  backwardSeconds: "speed",
  updateSeconds: "speed",
  rssMiB: "memory",
  cudaPeakMiB: "memory",
};

/** The tag of a log field: its group and name ("loss/total"), "train/<name>" for any other. */
export const scalarTag = (field: string) => `${GROUPS[field] ?? "train"}/${field}`;

/** Every finite number of a step's log line, by tag. */
export function stepScalars(event: object): Map<string, number> {
  const scalars = new Map<string, number>();
  for (const [field, value] of Object.entries(event)) {
    if (typeof value === "number" && Number.isFinite(value) && !NOT_SCALARS.has(field)) scalars.set(scalarTag(field), value);
  }
  return scalars;
}

/** k-NN accuracies as knn/top1_k20 and knn/top5_k20. */
export function knnScalars(knn: readonly KnnAccuracy[]): Map<string, number> {
  return new Map(knn.flatMap((a) => [[`knn/top1_k${a.k}`, a.top1] as const, [`knn/top5_k${a.k}`, a.top5] as const]));
}

/** One event file, appended to record by record; each write reaches the file at once, for a live TensorBoard. */
export class EventFileWriter {
  readonly path: string;
  private fd: number | undefined;

  constructor(dir: string, now = Date.now()) {
    this.path = join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}`);
    this.fd = openSync(this.path, "a");
    this.write(0, { fileVersion: "brain.Event:2" });
  }

  /** Marks a resumed run: TensorBoard forgets what an earlier file holds from `step` on. */
  resumedAt(step: number): void {
    this.write(step, { sessionStart: true });
  }

  scalars(step: number, scalars: ReadonlyMap<string, number>): void {
    if (scalars.size > 0) this.write(step, { scalars });
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private write(step: number, body: EventBody): void {
    if (this.fd === undefined) throw new Error(`the TensorBoard event file ${this.path} is closed`);
    writeSync(this.fd, tfRecord(encodeEvent(Date.now() / 1000, step, body)));
  }
}
