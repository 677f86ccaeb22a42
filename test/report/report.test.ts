// `sere report RUN_DIR` on a short real run, checked in a real browser: headless Chromium
// loads the page from a file:// URL and takes a screenshot, and the charts' regions must hold
// their series' line colours (the page draws them itself: no script, no network).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";

import { CHART_SIZE, chartLayout, legendLayout } from "../../src/report/chart.js";
import { CHARTS, PALETTE, PNG_GAP, pngChartOrigin, writeReport } from "../../src/report/report.js";
import { Trainer } from "../../src/train/trainer.js";
import { tempDir, writeIdx } from "../data/helpers.js";
import { writeImageFolder } from "../eval/helpers.js";
import { CHROMIUM, hasChromium } from "../requirements.js";
import { MICRO_RUN } from "../train/helpers.js";

const sere = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/sere.ts", ...args], { encoding: "utf8" });

const WIDTH = 1240;

/** Runs headless Chromium on `page` with a window `height` pixels tall. */
function chromium(page: string, height: number, ...args: string[]): string {
  const run = spawnSync(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--force-device-scale-factor=1",
      `--user-data-dir=${tempDir("chromium-profile")}`,
      `--window-size=${WIDTH},${height}`,
      ...args,
      pathToFileURL(page).href,
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

/** A rectangle of an image, in pixels. */
interface Area {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Box extends Area {
  id: string;
}

/**
 * Where the page lays out its charts and images: a copy of it with a script that writes
 * their boxes into the title, read from Chromium's --dump-dom (the report has no script).
 */
function layout(page: string, height: number): { height: number; charts: Box[]; images: Box[] } {
  const probe = `${page}.layout.html`;
  const script = `<script>{const box = (e) => { const r = e.getBoundingClientRect(); return { id: e.id, x: r.x, y: r.y, w: r.width, h: r.height }; };
document.title = JSON.stringify({ height: document.documentElement.scrollHeight, charts: [...document.querySelectorAll(".chart")].map(box), images: [...document.querySelectorAll(".attention img")].map(box) });}</script>`;
  writeFileSync(probe, readFileSync(page, "utf8").replace("</body>", `${script}</body>`));
  const dom = chromium(probe, height, "--dump-dom");
  return JSON.parse(/<title>(.*)<\/title>/s.exec(dom)![1]!) as ReturnType<typeof layout>;
}

const rgbOf = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

interface Shot {
  data: Buffer;
  width: number;
  height: number;
}

const readShot = async (png: string): Promise<Shot> => {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
};

/** Pixels of `shot` in `box` within `tolerance` (per channel) of `colour`. */
function countColour(shot: Shot, box: Area, colour: [number, number, number], tolerance = 40): number {
  let n = 0;
  for (let y = Math.max(0, Math.round(box.y)); y < Math.min(shot.height, Math.round(box.y + box.h)); y++) {
    for (let x = Math.max(0, Math.round(box.x)); x < Math.min(shot.width, Math.round(box.x + box.w)); x++) {
      const i = (y * shot.width + x) * 3;
      if (colour.every((c, k) => Math.abs(shot.data[i + k]! - c) <= tolerance)) n++;
    }
  }
  return n;
}

/** The plot area, in the image, of the chart at `origin` whose legend shows `labels`. */
const plotIn = (origin: Area, labels: readonly string[]): Area => {
  const { plot } = chartLayout(labels, origin.w, origin.h);
  return { ...plot, x: origin.x + plot.x, y: origin.y + plot.y };
};

/** The k-NN chart's legend: one entry for each k of the run's evaluations. */
const knnLabels = (log: ReadonlyArray<Record<string, unknown>>) => {
  const evaluation = log.find((l) => Array.isArray(l.knn))!.knn as Array<{ k: number }>;
  return evaluation.map((a) => `k = ${a.k}`);
};

const readLog = (runDir: string) =>
  readFileSync(join(runDir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * Expects each of CHARTS' series that the run logged to be drawn in its colour inside the
 * chart's plot area (below the title and the legend's rows, whose swatches have the colours
 * too), and none that it did not log; `origin` is where the chart lies in the image.
 */
function expectLinesDrawn(shot: Shot, log: ReadonlyArray<Record<string, unknown>>, chart: (typeof CHARTS)[number], origin: Area) {
  const drawn = chart.fields.filter((field) => log.some((l) => typeof l[field] === "number"));
  const plot = plotIn(origin, drawn);
  chart.fields.forEach((field, i) => {
    const pixels = countColour(shot, plot, rgbOf(PALETTE[i]!));
    if (drawn.includes(field)) expect(pixels, `${chart.id}: the ${field} line`).toBeGreaterThan(30);
    else expect(pixels, `${chart.id}: no ${field} line (not logged on the CPU)`).toBe(0);
  });
}

/** A micro run with k-NN evaluations after steps 3 and 6 and at the end (8 steps in all). */
async function trainMicroRun(runDir: string): Promise<void> {
  const data = tempDir("report-data");
  writeIdx(data, "train", 16);
  writeIdx(data, "t10k", 10);
  const tiny = {
    ...MICRO_RUN,
    epochs: 2,
    warmupEpochs: 1,
    // two temperature curves apart, so that neither hides the other
    warmupTeacherPatchTemp: 0.06,
    teacherPatchTemp: 0.06,
  } as const;
  // 4 steps per epoch, 8 in all
  await new Trainer(
    { ...tiny, dataPath: data, outputDir: runDir, knnEval: true, knnEvalLimit: 10, knnEvalEvery: 3 },
    { preset: "fashion-mnist-tiny", progress: false },
  ).fit();
}

describe.runIf(hasChromium())("sere report in Chromium", () => {
  const runDir = tempDir("report-run");
  let shot: Shot;
  let boxes: ReturnType<typeof layout>;

  beforeAll(async () => {
    await trainMicroRun(runDir);
    const run = sere(["report", runDir, "--images", "2"]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(join(runDir, "report.html"));

    const page = join(runDir, "report.html");
    boxes = layout(page, 1000);
    const screenshot = join(runDir, "report.png");
    chromium(page, Math.ceil(boxes.height), `--screenshot=${screenshot}`);
    shot = await readShot(screenshot);
  }, 240_000);

  it("draws every chart, each series' line in its colour inside the plot area", () => {
    const log = readLog(runDir);
    expect(boxes.charts.map((c) => c.id)).toEqual(["chart-knn", ...CHARTS.map((c) => `chart-${c.id}`)]);
    for (const chart of CHARTS) {
      const box = boxes.charts.find((c) => c.id === `chart-${chart.id}`)!;
      expect(box.y + box.h, `${chart.id} lies within the screenshot`).toBeLessThanOrEqual(shot.height);
      expectLinesDrawn(shot, log, chart, box);
    }
  });

  it("logs a k-NN evaluation after steps 3 and 6 and at the end, and draws top-1 against the steps", () => {
    const log = readFileSync(join(runDir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { iteration?: number; knn?: unknown });
    expect(log.filter((l) => l.knn).map((l) => l.iteration)).toEqual([3, 6, 8]);
    const box = boxes.charts.find((c) => c.id === "chart-knn")!;
    const plot = plotIn(box, knnLabels(log as Array<Record<string, unknown>>));
    expect(countColour(shot, plot, rgbOf(PALETTE[0]!)), "the k = 10 line").toBeGreaterThan(30);
  });

  it("shows the k-NN table and the attention maps; loads nothing from outside", () => {
    const html = readFileSync(join(runDir, "report.html"), "utf8");
    const knn = (JSON.parse(readFileSync(join(runDir, "log.jsonl"), "utf8").trim().split("\n").at(-1)!) as { knn: Array<{ top1: number }> }).knn;
    expect(html).toContain(`<td>10</td><td>${knn[0]!.top1.toFixed(2)}</td>`);
    expect(html).not.toMatch(/<script|<link|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(boxes.images).toHaveLength(2);
    for (const image of boxes.images) {
      expect(image.w).toBeGreaterThan(100);
      // not the page's white: the image and its heat overlays
      expect(countColour(shot, image, [255, 255, 255], 4)).toBeLessThan(image.w * image.h * 0.5);
    }
  });

  it("names the folder when it is no training run", () => {
    const run = sere(["report", tempDir("report-empty")]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/config\.json does not exist: give the output folder of a training run/);
    // a run's file rather than its folder; a fine-tuning run's folder
    const file = join(runDir, "checkpoint.pth");
    expect(sere(["report", file]).stderr).toContain(
      `${file} is a file: give the output folder of a training run (sere-train's --output-dir), such as ${runDir}`,
    );
    const fineTuning = tempDir("report-finetuning");
    writeFileSync(join(fineTuning, "result.json"), "{}");
    expect(sere(["report", fineTuning]).stderr).toContain(
      `${fineTuning} is a fine-tuning run's folder: sere report draws pretraining runs (sere-train's)`,
    );
  });
});

describe("sere report --png: the charts as one image, drawn without a browser", () => {
  const runDir = tempDir("report-png-run");
  const png = join(runDir, "charts.png");
  let shot: Shot;

  beforeAll(async () => {
    await trainMicroRun(runDir);
    const run = sere(["report", runDir, "--images", "0", "--png", png]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(png);
    shot = await readShot(png);
  }, 240_000);

  it("makes the folders of --output and --png, and refuses a folder in a file's place before any work", () => {
    const html = join(runDir, "pages", "run.html");
    const refused = sere(["report", runDir, "--images", "0", "--output", html, "--png", runDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`${runDir} is a folder; give the path of the file to write, e.g. ${join(runDir, "report.png")}`);
    expect(existsSync(html)).toBe(false);
    const made = sere(["report", runDir, "--images", "0", "--output", html, "--png", join(runDir, "images", "charts.png")]);
    expect(made.status, made.stderr).toBe(0);
    for (const file of [html, join(runDir, "images", "charts.png")]) expect(existsSync(file), file).toBe(true);
  });

  it("lays the k-NN chart and CHARTS out in two columns", () => {
    const rows = Math.ceil((1 + CHARTS.length) / 2);
    expect(shot.width).toBe(2 * CHART_SIZE.width + 3 * PNG_GAP);
    expect(shot.height).toBe(rows * CHART_SIZE.height + (rows + 1) * PNG_GAP);
  });

  it("draws each series' line in its colour inside its chart's plot area", () => {
    const log = readLog(runDir);
    CHARTS.forEach((chart, i) => {
      // the k-NN chart comes first
      expectLinesDrawn(shot, log, chart, { ...pngChartOrigin(i + 1), w: CHART_SIZE.width, h: CHART_SIZE.height });
    });
    const plot = plotIn({ ...pngChartOrigin(0), w: CHART_SIZE.width, h: CHART_SIZE.height }, knnLabels(log));
    expect(countColour(shot, plot, rgbOf(PALETTE[0]!)), "the k = 10 line").toBeGreaterThan(30);
  });
});

describe("a report whose images or checkpoint cannot be read still draws the curves", () => {
  const runDir = tempDir("report-broken");
  const data = tempDir("report-broken-data");
  const fake = join(data, "a", "0-fake.png"); // the first image of the folder, by name

  beforeAll(async () => {
    await writeImageFolder(data, 8);
    await new Trainer({ ...MICRO_RUN, dataPath: data, outputDir: runDir, maxSteps: 2, knnEval: false }, { progress: false }).fit();
    writeFileSync(fake, "not a picture\n");
  }, 120_000);

  it("passes over an image that cannot be decoded, with a warning, and shows the next", async () => {
    const warnings: string[] = [];
    const html = readFileSync(await writeReport(runDir, { images: 2, warn: (m) => warnings.push(m) }), "utf8");
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^the report passes over an image: cannot decode ${fake}: `))]);
    const figures = [...html.matchAll(/<figcaption>([^:]+):/g)].map((m) => m[1]);
    expect(figures).toEqual([join(data, "a", "000.jpg"), join(data, "a", "002.jpg")]);
    expect(html).toContain(`Passed over 1 image that cannot be decoded: ${fake}.`);
  });

  it("notes a checkpoint that cannot be read as it notes a missing one, and draws the curves", async () => {
    writeFileSync(join(runDir, "checkpoint.pth"), "cut short by a killed run");
    const warnings: string[] = [];
    const html = readFileSync(await writeReport(runDir, { images: 2, warn: (m) => warnings.push(m) }), "utf8");
    expect(html).toMatch(
      new RegExp(`<p class="note">No attention maps: the checkpoint ${join(runDir, "checkpoint.pth")} cannot be read \\(.+\\)\\.</p>`),
    );
    expect(warnings).toEqual([expect.stringContaining(`the report shows no attention maps: ${join(runDir, "checkpoint.pth")} cannot be read (`)]);
    for (const chart of CHARTS) expect(html).toContain(`id="chart-${chart.id}"`);
    expect(html).not.toContain('<figure class="attention"');
  });
});

describe("the charts' legend", () => {
  it("wraps to a new row where the next entry would pass the right edge", () => {
    // an entry is 18 px of swatch and gap plus 7 px a character, then 12 px to the next
    const layout = legendLayout(["dataSeconds", "stepSeconds", "forwardSeconds", "backwardSeconds", "updateSeconds"], 64, 544);
    expect(layout.places).toEqual([
      { x: 64, row: 0 },
      { x: 171, row: 0 },
      { x: 278, row: 0 },
      { x: 406, row: 0 },
      { x: 64, row: 1 },
    ]);
    expect(layout.rows).toBe(2);
  });

  it("keeps one row where the entries fit, and gives an entry wider than the chart a row of its own", () => {
    expect(legendLayout(["lr"], 64, 544)).toEqual({ places: [{ x: 64, row: 0 }], rows: 1 });
    expect(legendLayout(["x".repeat(100), "lr"], 64, 544)).toEqual({
      places: [
        { x: 64, row: 0 },
        { x: 64, row: 1 },
      ],
      rows: 2,
    });
  });
});
