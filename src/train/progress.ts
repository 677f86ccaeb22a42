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

export class ProgressReporter {
  private readonly started = performance.now();
  private first: number | undefined;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly enabled: boolean,
    private readonly totalSteps: number,
    private readonly every: number,
  ) {}

  step(e: StepEvent): void {
    if (!this.enabled) return;
    this.first ??= e.iteration - 1;
    const done = e.iteration - this.first;
    const perStep = (performance.now() - this.started) / 1000 / done;
    const eta = clock(perStep * (this.totalSteps - e.iteration));
    const text = `epoch ${e.epoch} step ${e.iteration}/${this.totalSteps} loss ${e.total.toFixed(4)} (cls ${e.cls.toFixed(3)} = H ${e.clsEntropy.toFixed(2)} + KL ${e.clsKl.toFixed(2)}, mim ${e.mim.toFixed(3)} spatial ${e.spatial.toFixed(3)} channel ${e.channel.toFixed(3)}) lr ${e.lr.toExponential(2)} ${e.imagesPerSecond.toFixed(1)} img/s eta ${eta}`;
    if (this.tty) {
      const width = 20;
      const filled = Math.round((width * e.iteration) / this.totalSteps);
      process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}\u001b[K`);
    } else if (e.iteration % this.every === 0 || e.iteration === 1) {
      process.stderr.write(`${text}\n`);
    }
  }

  done(): void {
    if (this.enabled && this.tty) process.stderr.write("\n");
  }
}
