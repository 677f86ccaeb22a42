// Line charts as inline SVG text: axes with round ticks, one polyline per series, a legend.
// The run report draws all its charts with this, so the page needs no script or network.

export interface Series {
  label: string;
  /** A CSS colour, e.g. "#1f77b4". */
  colour: string;
  /** [x, y]; points with a non-finite value are left out. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  /** Noisy data (losses, timings): the raw line faint, a moving average over it in full colour. */
  smooth?: boolean;
  width?: number;
  height?: number;
}

export const CHART_SIZE = { width: 560, height: 280 } as const;
/** The plot area's margins: room for the title and legend above, tick labels left and below. */
export const MARGIN = { top: 44, right: 16, bottom: 40, left: 64 };
/** Most points drawn per series: longer runs are thinned evenly (the last point kept). */
const MAX_POINTS = 1500;

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** About `count` round tick values (1, 2 or 5 times a power of ten apart) covering [min, max]. */
export function ticks(min: number, max: number, count = 5): number[] {
  const span = max - min;
  if (!(span > 0)) return [min];
  const rough = span / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** A tick label: short, exponential for very small or large values (learning rates). */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e5) return value.toExponential(1).replace("e+", "e");
  return String(Number(value.toPrecision(4)));
}

function thin(points: ReadonlyArray<readonly [number, number]>): Array<readonly [number, number]> {
  const finite = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (finite.length <= MAX_POINTS) return finite;
  const stride = finite.length / MAX_POINTS;
  const kept = Array.from({ length: MAX_POINTS }, (_, i) => finite[Math.floor(i * stride)]!);
  kept[kept.length - 1] = finite[finite.length - 1]!;
  return kept;
}

/**
 * An exponential moving average over about 1/40 of the points, debiased at the start (as
 * TensorBoard smooths): trends show through step-to-step noise.
 */
export function smoothed(points: ReadonlyArray<readonly [number, number]>): Array<readonly [number, number]> {
  const weight = 1 - 1 / Math.max(1, points.length / 40);
  let average = 0;
  let norm = 0;
  return points.map(([x, y]) => {
    average = weight * average + (1 - weight) * y;
    norm = weight * norm + (1 - weight);
    return [x, average / norm] as const;
  });
}

/** A legend row's height: the plot moves down by this for each row after the first. */
const LEGEND_ROW = 16;

/**
 * Where each legend entry (a swatch, then its label, about 7 px a character at 11 px) goes:
 * left to right from `left`, starting a new row where the next would pass `right`.
 */
export function legendLayout(labels: readonly string[], left: number, right: number): { places: Array<{ x: number; row: number }>; rows: number } {
  const places: Array<{ x: number; row: number }> = [];
  let x = left;
  let row = 0;
  for (const label of labels) {
    const entryWidth = 18 + 7 * label.length;
    if (x > left && x + entryWidth > right) {
      x = left;
      row += 1;
    }
    places.push({ x, row });
    x += entryWidth + 12;
  }
  return { places, rows: row + 1 };
}

/**
 * Where a chart of `width` x `height` with the legend `labels` puts the legend's entries and
 * its plot area: below the title and the legend's rows, within the margins.
 */
export function chartLayout(
  labels: readonly string[],
  width: number = CHART_SIZE.width,
  height: number = CHART_SIZE.height,
): { legend: Array<{ x: number; y: number }>; plot: { x: number; y: number; w: number; h: number } } {
  const { places, rows } = legendLayout(labels, MARGIN.left, width - MARGIN.right);
  const top = MARGIN.top + (rows - 1) * LEGEND_ROW;
  return {
    legend: places.map(({ x, row }) => ({ x, y: 28 + row * LEGEND_ROW })),
    plot: { x: MARGIN.left, y: top, w: width - MARGIN.left - MARGIN.right, h: height - top - MARGIN.bottom },
  };
}

/** The range to draw: the data's, widened where it is a single value. */
function extent(values: number[]): [number, number] {
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  return [min, max];
}

/** An <svg> element drawing `series` against their x values. */
export function lineChart(series: readonly Series[], options: ChartOptions): string {
  const width = options.width ?? CHART_SIZE.width;
  const height = options.height ?? CHART_SIZE.height;
  const drawn = series.map((s) => ({ ...s, points: thin(s.points) })).filter((s) => s.points.length > 0);
  const { legend, plot } = chartLayout(
    drawn.map((s) => s.label),
    width,
    height,
  );
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(options.title)}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="18" font-size="14" font-weight="bold" fill="#222">${escapeXml(options.title)}</text>`,
  ];
  if (drawn.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" font-size="13" fill="#888" text-anchor="middle">no data</text></svg>`);
    return parts.join("");
  }
  const [xMin, xMax] = extent(drawn.flatMap((s) => s.points.map(([x]) => x)));
  const [yMin, yMax] = extent(drawn.flatMap((s) => s.points.map(([, y]) => y)));
  const px = (x: number) => plot.x + ((x - xMin) / (xMax - xMin)) * plot.w;
  const py = (y: number) => plot.y + plot.h - ((y - yMin) / (yMax - yMin)) * plot.h;
  const axis = `font-size="11" fill="#555"`;
  for (const t of ticks(yMin, yMax)) {
    parts.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${plot.x - 6}" y="${(py(t) + 4).toFixed(1)}" ${axis} text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of ticks(xMin, xMax)) {
    parts.push(`<text x="${px(t).toFixed(1)}" y="${plot.y + plot.h + 16}" ${axis} text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${plot.x + plot.w / 2}" y="${height - 6}" ${axis} text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  const line = (points: ReadonlyArray<readonly [number, number]>, colour: string, style: string) =>
    `<polyline points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}" fill="none" stroke="${colour}" ${style} stroke-linejoin="round"/>`;
  for (const s of drawn) {
    // a single point shows as a dot
    if (s.points.length === 1)
      parts.push(`<circle cx="${px(s.points[0]![0]).toFixed(1)}" cy="${py(s.points[0]![1]).toFixed(1)}" r="3" fill="${s.colour}"/>`);
    else if (options.smooth) parts.push(line(s.points, s.colour, `stroke-width="1" stroke-opacity="0.3"`));
    else parts.push(line(s.points, s.colour, `stroke-width="2"`));
  }
  // the averages over every raw line, so that no faint line covers one
  if (options.smooth) for (const s of drawn) if (s.points.length > 1) parts.push(line(smoothed(s.points), s.colour, `stroke-width="2"`));
  // the legend, left to right above the plot, in as many rows as the width needs
  drawn.forEach((s, i) => {
    const { x, y } = legend[i]!;
    parts.push(`<rect x="${x}" y="${y}" width="14" height="4" fill="${s.colour}"/>`);
    parts.push(`<text x="${x + 18}" y="${y + 6}" ${axis}>${escapeXml(s.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}
