// Data pipeline: images per second through decode + plan + render for 2 x 224 + 10 x 96
// views from ImageNet-sized (500 x 375) JPEGs, next to the reference pipeline (PIL +
// torchvision in DataLoader worker processes, bench/reference_data.py) on the same cores.
// The photographs are cut from Debian's gnome-backgrounds when installed, otherwise
// synthetic textured images are used (the JSON says which).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";

import sharp from "sharp";

import { viewsSchema } from "../src/data/config.js";
import { openDataset } from "../src/data/datasets/open.js";
import { Loader } from "../src/data/loader.js";
import { planStep } from "../src/data/plan.js";
import { Random } from "../src/data/random.js";
import { IMAGENET_NORMALISATION, type RgbImage, renderStep } from "../src/data/render.js";
import { info, setThreads } from "../src/index.js";

const WIDTH = 500;
const HEIGHT = 375;
const BACKGROUNDS = "/usr/share/backgrounds/gnome";

/** A folder of `count` 500 x 375 JPEGs. */
export async function photoFolder(count: number): Promise<{ folder: string; source: string }> {
  const folder = mkdtempSync(join(tmpdir(), "sere-bench-photos-"));
  mkdirSync(join(folder, "all"));
  const sources = existsSync(BACKGROUNDS)
    ? readdirSync(BACKGROUNDS)
        .filter((f) => /\.(webp|jpe?g|png)$/i.test(f))
        .map((f) => join(BACKGROUNDS, f))
    : [];
  for (let i = 0; i < count; i++) {
    const out = join(folder, "all", `${String(i).padStart(3, "0")}.jpg`);
    if (sources.length > 0) {
      const src = sharp(sources[i % sources.length]!);
      const meta = await src.metadata();
      // A different region of the wallpaper each time round.
      const round = Math.floor(i / sources.length);
      const w = Math.floor(meta.width! / (1 + (round % 3)));
      const h = Math.min(meta.height!, Math.floor((w * HEIGHT) / WIDTH));
      const left = Math.floor(((meta.width! - w) * ((round * 37) % 100)) / 100);
      const top = Math.floor(((meta.height! - h) * ((round * 53) % 100)) / 100);
      await src.extract({ left, top, width: w, height: h }).resize(WIDTH, HEIGHT, { fit: "fill" }).jpeg({ quality: 90 }).toFile(out);
    } else {
      const noise = Buffer.alloc(WIDTH * HEIGHT * 3);
      for (let p = 0; p < noise.length; p++) noise[p] = ((p * 2654435761) >>> 24) ^ ((p % (3 * WIDTH)) % 256);
      await sharp(noise, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
        .blur(1.5)
        .jpeg({ quality: 90 })
        .toFile(out);
    }
  }
  return { folder: join(folder, "all"), source: sources.length > 0 ? `${BACKGROUNDS} (${sources.length} wallpapers, cut and resized)` : "synthetic" };
}

/** Images per second through the training loader (decode, plan, render on `device`), after one warm-up batch. */
export async function loaderThroughput(folder: string, batchSize: number, images: number, device: string) {
  const loader = new Loader(openDataset(folder), { batchSize, device, prefetch: 2, seed: 1 });
  let seen = 0;
  let started = 0;
  let cpuStarted = process.cpuUsage();
  for (let epoch = 0; seen < images; epoch++) {
    for await (const batch of loader.epoch(epoch)) {
      batch.dispose();
      if (started === 0) {
        started = performance.now(); // after one warm-up batch
        cpuStarted = process.cpuUsage();
        continue;
      }
      seen += batch.images;
      if (seen >= images) break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  // CPU time (all threads: decoding, planning, rendering) per image: unlike the wall
  // clock it hardly depends on what else the machine runs.
  const cpuMillisecondsPerImage = (cpu.user + cpu.system) / 1000 / seen;
  return { imagesPerSecond: seen / seconds, cpuMillisecondsPerImage, images: seen, seconds, batch: batchSize, device };
}

/** CPU milliseconds per image of each stage alone, in this process (rendering on one thread). */
async function stages(folder: string, count: number) {
  const data = openDataset(folder);
  const detail = { size: 224, minScale: 0.4 };
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const c = process.cpuUsage(since);
    return (c.user + c.system) / 1000;
  };
  for (let i = 0; i < 4; i++) await data.load(i, detail); // warm-up
  let since = process.cpuUsage();
  const images: RgbImage[] = [];
  for (let i = 0; i < count; i++) images.push(await data.load(i, detail));
  const decode = cpuMs(since) / count;
  const views = viewsSchema.parse({});
  since = process.cpuUsage();
  const plans = Array.from({ length: 20 }, (_, k) => planStep(Random.seeded(k), images, views));
  const plan = cpuMs(since) / (20 * count);
  for (let k = 0; k < 2; k++) {
    const warm = await renderStep(plans[k]!, images, IMAGENET_NORMALISATION, "cpu", 1);
    warm.global.dispose();
    warm.local?.dispose();
  }
  since = process.cpuUsage();
  for (let k = 2; k < 5; k++) {
    const out = await renderStep(plans[k]!, images, IMAGENET_NORMALISATION, "cpu", 1);
    out.global.dispose();
    out.local?.dispose();
  }
  const render = cpuMs(since) / (3 * count);
  return { decodeCpuMs: decode, planCpuMs: plan, renderCpuMs: render };
}

function reference(folder: string, workers: number, batchSize: number, images: number) {
  const result = spawnSync(
    "/usr/bin/python3",
    [
      join(import.meta.dirname, "reference_data.py"),
      folder,
      "--workers",
      String(workers),
      "--batch",
      String(batchSize),
      "--batches",
      String(Math.ceil(images / batchSize)),
    ],
    { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } },
  );
  if (result.status !== 0) return { error: `reference pipeline failed: ${result.stderr.slice(-500)}` };
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as object;
}

export async function run(): Promise<object> {
  const cores = availableParallelism();
  setThreads(cores);
  const photos = 256; // two batches of 128, the CUDA case's
  const { folder, source } = await photoFolder(photos);
  const batchSize = 16;
  const images = 768; // long enough for a steady rate
  const result: Record<string, unknown> = {
    machine: { cores, libtorch: info().libtorchVersion, cuda: info().cuda.available },
    views: "2 x 224 + 10 x 96, the method's transforms",
    photos: { count: photos, size: `${WIDTH}x${HEIGHT}`, source },
    ours: await loaderThroughput(folder, batchSize, images, "cpu"),
    oursStagesPerImage: await stages(folder, batchSize),
    reference: reference(folder, cores, batchSize, images),
  };
  if (info().cuda.available) result.oursCuda = await loaderThroughput(folder, 128, 512, "cuda");
  const o = result.ours as { imagesPerSecond: number; cpuMillisecondsPerImage: number };
  const r = result.reference as { imagesPerSecond?: number; cpuMillisecondsPerImage?: number };
  if (r.imagesPerSecond && r.cpuMillisecondsPerImage) {
    result.speedup = { wallClock: o.imagesPerSecond / r.imagesPerSecond, cpuTime: r.cpuMillisecondsPerImage / o.cpuMillisecondsPerImage };
  }
  return result;
}
