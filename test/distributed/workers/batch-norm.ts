// One rank of the SyncBatchNorm check: its half of a seeded batch through the heads'
// BatchNorm with statistics over both ranks; prints the results as JSON.

import { native } from "../../../src/native/load.js";
import { connectRanks, rankEnvironment } from "../../../src/train/distributed.js";
import { batchNormCase } from "../helpers.js";

const world = rankEnvironment()!;
const communicator = await connectRanks(world, { device: "cpu", timeoutSeconds: 30 });
const c = batchNormCase();
const rows = c.shape[0]! / world.worldSize;
const slice = (data: Float32Array) => data.slice(world.rank * rows * c.perImage, (world.rank + 1) * rows * c.perImage);
const shape = [rows, ...c.shape.slice(1)];
const channels = c.shape[1]!;
const t = native().Tensor;
const r = await native().testing.batchNorm2d(
  new t(slice(c.input), shape),
  new t(c.weight, [channels]),
  new t(c.bias, [channels]),
  new t(slice(c.gradOutput), shape),
  communicator,
);
const out = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v.toArray() as Float32Array)]));
process.stdout.write(`${JSON.stringify(out)}\n`);
communicator.dispose();
