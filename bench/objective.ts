// The SERE objective at ViT-S/16 shapes (K = 8192, D = 384, H = 6, N = 196 global /
// 36 local, V_l = 10): forward + backward of the full objective, batched versus term
// by term, and the resident memory it adds at its peak.
import { type CropRecord, disposeGrids, info, type SereInputs, SereObjective, sereGrids, type Tensor, tensor } from "../src/index.js";

const VIT_S = { K: 8192, D: 384, H: 6, N: 196, nLocal: 6, V_l: 10 };

/** Cheap deterministic values in about [-2, 2] (an LCG): the benchmark needs sizes, not statistics. */
function noise(shape: number[], seed: number): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 1073741824 - 2;
  }
  return tensor(data, shape);
}

function records(B: number, V_l: number): CropRecord[][] {
  const crop = (i: number, side: number): CropRecord => ({
    x: (i * 37) % (100 - side),
    y: (i * 53) % (100 - side),
    width: side,
    height: side,
    flipped: i % 2 === 1,
  });
  return Array.from({ length: B }, (_, b) => Array.from({ length: 2 + V_l }, (_, v) => crop(b * 12 + v, v < 2 ? 70 : 30)));
}

/**
 * As the method draws them (docs/method.md#block-masks): half the images unmasked, the
 * others about r N patches, r in [0.1, 0.5].
 */
function masks(images: number, N: number): Tensor {
  const data = new Uint8Array(images * N);
  for (let i = 1; i < images; i += 2) {
    const ratio = 0.1 + 0.4 * ((i * 0.618) % 1);
    for (let p = 0; p < Math.round(ratio * N); p++) data[i * N + ((p * 11) % N)] = 1; // 11 and N = 196 are coprime: distinct patches
  }
  return tensor(data, [images, N]);
}

function inputs(B: number): SereInputs {
  const { K, D, H, N, nLocal, V_l } = VIT_S;
  const Nl = nLocal * nLocal;
  let seed = 1;
  const n = (shape: number[]) => noise(shape, seed++);
  return {
    teacherCls: n([2 * B, K]),
    teacherPatch: n([2 * B, N, K]),
    teacherChannel: n([2 * B, D, D]),
    teacherSpatial: n([2 * B, H, N, N]),
    studentCls: n([(2 + V_l) * B, K]),
    studentPatch: n([2 * B, N, K]),
    studentChannel: n([2 * B, D, D]),
    studentSpatial: n([2 * B, H, N, N]),
    studentLocalChannel: n([V_l * B, D, D]),
    studentLocalSpatial: n([V_l * B, H, Nl, Nl]),
    masks: masks(2 * B, N),
    grids: sereGrids(records(B, V_l), { globalSides: [13, 13], localSide: nLocal }),
  };
}

/** Runs `work` while sampling the resident set; returns its result and the peak above the start. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  try {
    const result = await work();
    return { result, peakMiB: (Math.max(peak, process.memoryUsage.rss()) - start) / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

async function measure(B: number, rounds: number) {
  const x = inputs(B);
  const objective = new SereObjective({ outDim: VIT_S.K, alpha: 0.2, beta: 0.5 });
  const settings = { teacherTemp: 0.04, teacherPatchTemp: 0.04, requiresGrad: true };
  const out: Record<string, unknown> = { B };
  for (const termByTerm of [false, true]) {
    const step = async () => {
      const l = await objective.compute(x, { ...settings, termByTerm });
      for (const g of Object.values(l.grads!)) g.dispose();
      return l;
    };
    const { result: first, peakMiB } = await withPeakRss(step); // also the warm-up
    const started = performance.now();
    for (let i = 0; i < rounds; i++) await step();
    out[termByTerm ? "termByTerm" : "batched"] = {
      forwardBackwardMs: (performance.now() - started) / rounds,
      peakExtraRssMiB: Math.round(peakMiB),
      total: first.total,
    };
  }
  objective.dispose();
  for (const [key, t] of Object.entries(x)) if (key !== "grids") (t as Tensor).dispose();
  disposeGrids(x.grids);
  return out;
}

export async function run(): Promise<object> {
  const sizes = (process.env.SERE_BENCH_OBJECTIVE_B ?? "8,32").split(",").map(Number);
  const results = [];
  for (const B of sizes) results.push(await measure(B, B >= 32 ? 1 : 3));
  return {
    machine: { device: "cpu", threads: info().threads, libtorch: info().libtorchVersion },
    shapes: { ...VIT_S, globalSides: [13, 13], localSide: VIT_S.nLocal },
    note: "forward + backward of the total w.r.t. all student inputs; peakExtraRssMiB: resident set sampled every 2 ms during the first call, above the level before it (inputs excluded)",
    results,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
