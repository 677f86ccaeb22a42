// Progress on stderr: a bar with ETA on a terminal, a plain line every `every` steps otherwise.
import type { StepEvent } from "./trainer.js";

const clock = (seconds: number) => {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
};

/** A text bar of `width` characters, filled by the share done. */
const bar = (done: number, total: number, width = 20) => {
  const filled = Math.min(width, Math.max(0, Math.round((width * done) / Math.max(1, total))));
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
};

/** Whether a bar is drawn on stderr's last line, unfinished (on a terminal only). */
let barOpen = false;

/** Writes `text` as a line of its own on stderr: below a bar drawn there, not onto it. */
export function writeLine(text: string): void {
  process.stderr.write(`${barOpen ? "\n" : ""}${text}\n`);
  barOpen = false;
}

/** Draws a bar on stderr's last line (a terminal), ending the line when `finished`. */
function drawBar(text: string, finished: boolean): void {
  process.stderr.write(`\r${text}\u001b[K${finished ? "\n" : ""}`);
  barOpen = !finished;
}

export class ProgressReporter {
  private first: { iteration: number; seconds: number } | undefined;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly enabled: boolean,
    private readonly totalSteps: number,
    private readonly every: number,
    /** Seconds of training so far (the trainer's clock: evaluations left out). */
    private readonly trainingSeconds: () => number,
    /** A time limit (--max-minutes), in seconds of training: the ETA is the sooner of the two ends. */
    private readonly secondsLimit = Infinity,
  ) {}

  step(e: StepEvent): void {
    if (!this.enabled) return;
    const elapsed = this.trainingSeconds();
    // the pace from the first step's end on: the first carries the warm-up (allocations, kernels chosen)
    this.first ??= { iteration: e.iteration, seconds: elapsed };
    const done = e.iteration - this.first.iteration;
    // unknown ("--:--") until a step after the first gives a pace
    const secondsPerStep = done > 0 ? (elapsed - this.first.seconds) / done : Number.NaN;
    const eta = clock(Math.min(secondsPerStep * (this.totalSteps - e.iteration), this.secondsLimit - elapsed));
    const text = `epoch ${e.epoch} step ${e.iteration}/${this.totalSteps} loss ${e.total.toFixed(4)} (cls ${e.cls.toFixed(3)} = H ${e.clsEntropy.toFixed(2)} + KL ${e.clsKl.toFixed(2)}, mim ${e.mim.toFixed(3)} spatial ${e.spatial.toFixed(3)} channel ${e.channel.toFixed(3)}) lr ${e.lr.toExponential(2)} ${e.imagesPerSecond.toFixed(1)} img/s eta ${eta}`;
    if (this.tty) {
      drawBar(`${bar(e.iteration, this.totalSteps)} ${text}`, false);
    } else if (e.iteration % this.every === 0 || e.iteration === 1) {
      process.stderr.write(`${text}\n`);
    }
  }

  done(): void {
    if (!barOpen) return;
    process.stderr.write("\n");
    barOpen = false;
  }
}

/**
 * Progress of a task of known size on stderr (feature extraction, a linear probe): a bar
 * with ETA on a terminal; otherwise a line at the start, every `everySeconds` and at the end.
 */
export class TaskProgress {
  private readonly started = performance.now();
  private lastLine = -Infinity;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly everySeconds = 10,
  ) {}

  update(done: number, total: number): void {
    const seconds = (performance.now() - this.started) / 1000;
    const eta = done > 0 ? clock((seconds / done) * (total - done)) : clock(Infinity);
    const text = `${this.label}: ${done}/${total} ${this.unit} eta ${eta}`;
    if (this.tty) drawBar(`${bar(done, total)} ${text}`, done >= total);
    else if (done >= total || seconds - this.lastLine >= this.everySeconds) {
      this.lastLine = seconds;
      process.stderr.write(`${text}\n`);
    }
  }
}
