// Lines on stderr beside a progress bar: a message ends the bar's line first, and starts no
// blank line where no bar is drawn (a log file, a pipe).
import { afterEach, describe, expect, it, vi } from "vitest";

import { ProgressReporter, TaskProgress, writeLine } from "../../src/train/progress.js";
import type { StepEvent } from "../../src/train/trainer.js";

const written: string[] = [];
const onTerminal = (tty: boolean) => {
  written.length = 0;
  Object.defineProperty(process.stderr, "isTTY", { value: tty, configurable: true });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    // the terminal's erase-to-end-of-line, readable
    written.push(String(chunk).replaceAll("\u001b[K", "<erase>"));
    return true;
  });
};

const tty = process.stderr.isTTY;
afterEach(() => {
  vi.restoreAllMocks();
  Object.defineProperty(process.stderr, "isTTY", { value: tty, configurable: true });
});

describe("the training progress line", () => {
  it("forecasts the end from the pace after the first step, which carries the warm-up", () => {
    onTerminal(false);
    let now = 0;
    const reporter = new ProgressReporter(true, 10, 1, () => now);
    const step = (iteration: number) =>
      ({ epoch: 0, iteration, total: 1, cls: 1, clsEntropy: 1, clsKl: 0, mim: 0, spatial: 0, channel: 0, lr: 1e-3, imagesPerSecond: 1 }) as StepEvent;
    now = 5; // the first step: 5 s, most of them warm-up
    reporter.step(step(1));
    now = 6; // then a second a step
    reporter.step(step(2));
    expect(written.map((line) => line.match(/eta (\S+)\n$/)![1])).toEqual(["--:--", "0:08"]);
  });
});

describe("stderr lines beside a progress bar", () => {
  it("on a terminal, a line below an unfinished bar ends the bar's line first, and only once", () => {
    onTerminal(true);
    const bar = new TaskProgress("images", "images");
    bar.update(1, 4);
    writeLine("warning: one");
    writeLine("warning: two");
    bar.update(2, 4);
    bar.update(4, 4);
    writeLine("done");
    expect(written).toEqual([
      expect.stringMatching(/^\r\[#{5}\.{15}\] images: 1\/4 images eta .*<erase>$/),
      "\nwarning: one\n",
      "warning: two\n",
      expect.stringMatching(/^\r\[#{10}\.{10}\] images: 2\/4 images eta .*<erase>$/),
      // the finished bar ends its own line
      expect.stringMatching(/^\r\[#{20}\] images: 4\/4 images eta .*<erase>\n$/),
      "done\n",
    ]);
  });

  it("elsewhere, no bar is drawn and no line starts blank", () => {
    onTerminal(false);
    const bar = new TaskProgress("images", "images", 1000);
    bar.update(1, 4);
    writeLine("warning: one");
    bar.update(4, 4);
    expect(written).toEqual([
      expect.stringMatching(/^images: 1\/4 images eta .*\n$/),
      "warning: one\n",
      expect.stringMatching(/^images: 4\/4 images eta .*\n$/),
    ]);
  });
});
