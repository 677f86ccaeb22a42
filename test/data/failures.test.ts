// The share of a pass's images that may fail to decode, and what a pass says when too many do.
import { describe, expect, it } from "vitest";

import type { Dataset } from "../../src/data/datasets/dataset.js";
import { DecodeFailures } from "../../src/data/failures.js";

const files = { path: "/data", describe: (i: number) => `/data/${i}.jpg` } as unknown as Dataset;

describe("decode failures", () => {
  it("allow their share of a pass, then stop it naming the count, the latest file and the fix", () => {
    const failures = new DecodeFailures(files, 200, 0.01, "this epoch's");
    failures.add(3, "the file is empty");
    failures.add(7);
    expect(() => failures.add(9, "the file is truncated or corrupt")).toThrow(
      "more than 1% of this epoch's 200 images failed to decode (3 so far, the latest /data/9.jpg (the file is truncated or corrupt)); " +
        "fix or remove the broken files, or raise the share allowed (--max-failure-share; maxFailureShare from code)",
    );
  });

  it("of a pass of one image, name the file alone: a share of one image says nothing", () => {
    const failures = new DecodeFailures(files, 1, 0.01, "the");
    expect(() => failures.add(0, "the file is empty")).toThrow(/^cannot decode \/data\/0\.jpg \(the file is empty\); fix or replace the file$/);
  });
});
