// `sere report RUN_DIR`: one self-contained HTML page about a training run (no script, no
// network): its curves drawn as inline SVG from log.jsonl, the k-NN results, attention maps
// of a few training images from the last checkpoint (PNGs as data: URLs), the configuration;
// with --png, the charts alone as one image too.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

import sharp from "sharp";

import { ConfigError } from "../config/parse.js";
import { openDataset } from "../data/datasets/open.js";
import { DecodeError } from "../data/decode.js";
import type { RgbImage } from "../data/render.js";
import { attentionOverlays, attentionPanels, fitToPatches } from "../eval/attention.js";
import { openBackbone } from "../eval/backbone.js";
import type { KnnAccuracy } from "../eval/knn.js";
import { writeFileAtomically } from "../io/atomic.js";
import { prepareOutputFile } from "../io/folders.js";
import type { Model } from "../model/model.js";
import { BEST_CHECKPOINT, CHECKPOINT, FINETUNE_RESULT, LOG, RUN_CONFIG } from "../train/run-folder.js";
import { CHART_SIZE, lineChart, type Series } from "./chart.js";

export interface ReportOptions {
  /** Training images whose attention maps are shown (default 4; 0: none). */
  images?: number;
  /** Where the backbone runs for the attention maps (default "cpu"). */
  device?: string;
  /** The page's path (default RUN_DIR/report.html). */
  output?: string;
  /** Also the charts alone as one PNG image at this path, drawn without a browser. */
  png?: string;
  /** Told of what the page leaves out (an image that cannot be decoded); default: process.emitWarning. */
  warn?: (message: string) => void;
}

/** Images passed over because they cannot be decoded, at most, before the page shows fewer attention maps. */
const MAX_UNDECODABLE = 8;

type LogLine = Record<string, unknown>;

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** The charts: an id, a title and the log fields drawn in it, in PALETTE's order. */
export const CHARTS: ReadonlyArray<{ id: string; title: string; fields: readonly string[]; smooth?: boolean }> = [
  { id: "loss", title: "Loss by part (faint: each step; bold: moving average)", fields: ["total", "cls", "mim", "spatial", "channel"], smooth: true },
  { id: "lr", title: "Learning rate", fields: ["lr"] },
  { id: "weight-decay", title: "Weight decay", fields: ["weightDecay"] },
  { id: "momentum", title: "Teacher momentum", fields: ["momentum"] },
  { id: "temperatures", title: "Teacher temperatures", fields: ["teacherTemp", "teacherPatchTemp"] },
  { id: "throughput", title: "Throughput (images/s, all ranks)", fields: ["imagesPerSecond"], smooth: true },
  {
    id: "timing",
    title: "Seconds per step: data wait, step, and the step's phases",
    fields: ["dataSeconds", "stepSeconds", "forwardSeconds", "backwardSeconds", "updateSeconds"],
    smooth: true,
  },
  { id: "memory", title: "Memory (MiB)", fields: ["rssMiB", "cudaPeakMiB"] },
];

const escapeHtml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A k-NN evaluation in log.jsonl: during training (--knn-eval-every) or at its end. */
interface KnnLine {
  iteration?: number;
  knn: KnnAccuracy[];
}

function readRun(runDir: string): { config: LogLine; steps: LogLine[]; evaluations: KnnLine[] } {
  const configPath = join(runDir, RUN_CONFIG);
  const logPath = join(runDir, LOG);
  const giveRun = "give the output folder of a training run (sere-train's --output-dir)";
  if (existsSync(runDir) && !statSync(runDir).isDirectory()) throw new ConfigError(`${runDir} is a file: ${giveRun}, such as ${dirname(runDir)}`);
  const fineTuning = `${runDir} is a fine-tuning run's folder: sere report draws pretraining runs (sere-train's); a fine-tuning run's log.jsonl and result.json hold its losses and test accuracy`;
  if (existsSync(join(runDir, BEST_CHECKPOINT)) || existsSync(join(runDir, FINETUNE_RESULT))) throw new ConfigError(fineTuning);
  for (const path of [configPath, logPath]) {
    if (!existsSync(path)) throw new ConfigError(`${path} does not exist: ${giveRun}`);
  }
  let config: LogLine;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8")) as LogLine;
  } catch (err) {
    throw new ConfigError(`${configPath} is not JSON (${(err as Error).message}); it is damaged`);
  }
  const steps: LogLine[] = [];
  const evaluations: KnnLine[] = [];
  // a line cut short by a killed run is skipped, as resuming does
  for (const line of readFileSync(logPath, "utf8").split("\n")) {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry !== "object" || entry === null) continue;
    const fields = entry as LogLine;
    if (Array.isArray(fields.knn)) evaluations.push(fields as unknown as KnnLine);
    else if (typeof fields.iteration === "number") steps.push(fields);
  }
  return { config, steps, evaluations };
}

/** A chart of the report: its id and its <svg> element. */
interface DrawnChart {
  id: string;
  svg: string;
}

function charts(steps: readonly LogLine[]): DrawnChart[] {
  return CHARTS.map(({ id, title, fields, smooth }) => {
    const series: Series[] = fields
      .map((field, i) => ({
        label: field,
        colour: PALETTE[i % PALETTE.length]!,
        points: steps.filter((s) => typeof s[field] === "number").map((s) => [s.iteration as number, s[field] as number] as const),
      }))
      .filter((s) => s.points.length > 0);
    return { id, svg: lineChart(series, { title, xLabel: "iteration", smooth }) };
  });
}

/** Top-1 of each k against the steps trained, from every evaluation that names its step. */
function knnChart(evaluations: readonly KnnLine[]): DrawnChart[] {
  const timed = evaluations.filter((e) => typeof e.iteration === "number");
  if (timed.length === 0) return [];
  const ks = [...new Set(timed.flatMap((e) => e.knn.map((a) => a.k)))];
  const series: Series[] = ks.map((k, i) => ({
    label: `k = ${k}`,
    colour: PALETTE[i % PALETTE.length]!,
    points: timed.flatMap((e) => e.knn.filter((a) => a.k === k).map((a) => [e.iteration!, a.top1] as const)),
  }));
  return [{ id: "knn", svg: lineChart(series, { title: "k-NN top-1 of the teacher (%)", xLabel: "iteration" }) }];
}

/** Pixels around and between the PNG's charts. */
export const PNG_GAP = 12;

/** Where the PNG places chart `index` (CHART_SIZE each): two columns, PNG_GAP around and between. */
export function pngChartOrigin(index: number): { x: number; y: number } {
  return {
    x: PNG_GAP + (index % 2) * (CHART_SIZE.width + PNG_GAP),
    y: PNG_GAP + Math.floor(index / 2) * (CHART_SIZE.height + PNG_GAP),
  };
}

/** The charts as one PNG, laid out by pngChartOrigin, rendered by sharp (librsvg): no browser. */
async function writeChartsPng(drawn: readonly DrawnChart[], output: string): Promise<void> {
  const rows = Math.ceil(drawn.length / 2);
  const width = 2 * CHART_SIZE.width + 3 * PNG_GAP;
  const height = rows * CHART_SIZE.height + (rows + 1) * PNG_GAP;
  const placed = drawn.map(({ svg }, i) => {
    const { x, y } = pngChartOrigin(i);
    return `<g transform="translate(${x} ${y})">${svg}</g>`;
  });
  const page = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="${width}" height="${height}" fill="#ffffff"/>${placed.join("")}</svg>`;
  await writeFileAtomically(output, await sharp(Buffer.from(page, "utf8")).png().toBuffer());
}

function knnTable(knn: readonly KnnAccuracy[] | undefined): string {
  if (!knn) return `<p class="note">No k-NN evaluation in this run (train with --knn-eval).</p>`;
  const rows = knn.map((a) => `<tr><td>${a.k}</td><td>${a.top1.toFixed(2)}</td><td>${a.top5.toFixed(2)}</td></tr>`).join("");
  return `<table id="knn"><thead><tr><th>k</th><th>top-1 %</th><th>top-5 %</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * Attention panels (image, each head, the mean) of the first `count` training images that
 * decode, as <img> elements; one that does not is passed over (and `warn` told), the next shown.
 */
async function attention(runDir: string, config: LogLine, count: number, device: string, warn: (message: string) => void): Promise<string> {
  const checkpoint = join(runDir, CHECKPOINT);
  if (count === 0) return `<p class="note">Attention maps left out (--images 0).</p>`;
  if (!existsSync(checkpoint)) return `<p class="note">No checkpoint in ${escapeHtml(runDir)}: no attention maps.</p>`;
  let dataset: ReturnType<typeof openDataset>;
  try {
    dataset = openDataset(String(config.dataPath), { split: "train" });
  } catch (err) {
    return `<p class="note">No attention maps: the training data cannot be opened (${escapeHtml((err as Error).message)}).</p>`;
  }
  let opened: Awaited<ReturnType<typeof openBackbone>>;
  try {
    opened = await openBackbone(checkpoint, { device });
  } catch (err) {
    // a damaged checkpoint (a run killed while writing it) costs the maps, not the curves
    warn(`the report shows no attention maps: ${checkpoint} cannot be read (${(err as Error).message})`);
    return `<p class="note">No attention maps: the checkpoint ${escapeHtml(checkpoint)} cannot be read (${escapeHtml((err as Error).message)}).</p>`;
  }
  const { model, trainedSize } = opened;
  try {
    const figures: string[] = [];
    const undecodable: DecodeError[] = [];
    for (let i = 0; i < dataset.size && figures.length < count && undecodable.length < MAX_UNDECODABLE; i++) {
      let image: RgbImage;
      try {
        image = await fitToPatches(await dataset.load(i), model.options.patchSize, trainedSize, dataset.describe(i));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        warn(`the report passes over an image: ${err.message}`);
        undecodable.push(err);
        continue;
      }
      figures.push(await attentionFigure(model, image, dataset.describe(i)));
    }
    if (undecodable.length > 0) {
      const files = undecodable.map((e) => escapeHtml(e.file)).join(", ");
      figures.push(
        `<p class="note">Passed over ${undecodable.length === 1 ? "1 image" : `${undecodable.length} images`} that cannot be decoded: ${files}.</p>`,
      );
    }
    return figures.join("\n");
  } finally {
    model.dispose();
  }
}

/** The attention panels of `image` as a <figure>, captioned with its name. */
async function attentionFigure(model: Model, image: RgbImage, name: string): Promise<string> {
  const { overlays, heads } = await attentionOverlays(model, image);
  const png = await attentionPanels(image, overlays);
  // small images are shown enlarged, without smoothing
  const scale = Math.max(1, Math.floor(128 / image.height));
  return (
    `<figure class="attention"><img alt="attention of ${escapeHtml(name)}" width="${image.width * (heads + 2) * scale}" height="${image.height * scale}" src="data:image/png;base64,${png.toString("base64")}">` +
    `<figcaption>${escapeHtml(name)}: the image, ${heads} heads, their mean</figcaption></figure>`
  );
}

function configTable(config: LogLine): string {
  const rows = Object.entries(config).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(JSON.stringify(v))}</td></tr>`);
  return `<table id="config">${rows.join("")}</table>`;
}

const STYLE = `
body { font-family: sans-serif; margin: 24px; color: #222; background: #fff; max-width: 1180px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
.chart { border: 1px solid #ddd; }
.attention img { image-rendering: pixelated; display: block; }
.attention { margin-bottom: 10px; } figcaption, .note { font-size: 12px; color: #666; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
#config td { font-family: monospace; }`;

/** Writes the report of the run in `runDir`; returns the page's path. */
export async function writeReport(runDir: string, options: ReportOptions = {}): Promise<string> {
  const dir = resolve(runDir);
  const { config, steps, evaluations } = readRun(dir);
  // the files' places checked before any work
  const output = options.output ?? join(dir, "report.html");
  prepareOutputFile(output, "report.html");
  if (options.png !== undefined) prepareOutputFile(options.png, "report.png");
  const knn = evaluations.at(-1)?.knn;
  // The page's charts, in order: the k-NN (where evaluated during training), then CHARTS.
  const drawn = [...knnChart(evaluations), ...charts(steps)];
  const last = steps.at(-1);
  const summary = last
    ? `${steps.length} logged steps, to iteration ${String(last.iteration)} (epoch ${String(last.epoch)}); last loss ${Number(last.total).toFixed(4)}`
    : "no steps logged yet";
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sere-torch run: ${escapeHtml(dir)}</title><style>${STYLE}</style></head>
<body>
<h1>sere-torch run report</h1>
<p>${escapeHtml(dir)}: ${escapeHtml(summary)}.</p>
<h2>Losses, schedules, throughput</h2>
<div class="charts">
${drawn.map(({ id, svg }) => `<figure class="chart" id="chart-${id}">${svg}</figure>`).join("\n")}
</div>
<h2>k-NN evaluation of the teacher</h2>
${knnTable(knn)}
<h2>Attention maps (last checkpoint, teacher, last block's CLS attention)</h2>
${await attention(dir, config, options.images ?? 4, options.device ?? "cpu", options.warn ?? ((message) => process.emitWarning(message, "DataWarning")))}
<h2>Configuration</h2>
${configTable(config)}
</body></html>
`;
  await writeFileAtomically(output, Buffer.from(html, "utf8"));
  if (options.png !== undefined) await writeChartsPng(drawn, options.png);
  return output;
}
