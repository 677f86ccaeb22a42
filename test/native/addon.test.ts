import { describe, expect, it } from "vitest";

import { info, liveObjects, matmul, setThreads, tensor } from "../../src/index.js";
import { native } from "../../src/native/load.js";

describe("the native addon", () => {
  it("reports what it is and what it runs on", () => {
    const i = info();
    expect(i.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(i.libtorchVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof i.cuda.available).toBe("boolean");
    expect(Number.isInteger(i.cuda.deviceCount)).toBe(true);
    expect(i.cuda.devices).toHaveLength(i.cuda.deviceCount);
    for (const name of i.cuda.devices) expect(typeof name).toBe("string");
    expect(i.cuda.cudnnVersion === null || /^\d+\.\d+\.\d+$/.test(i.cuda.cudnnVersion)).toBe(true);
    expect(Number.isInteger(i.threads) && i.threads >= 1).toBe(true);
    expect(i.build.compiler.length).toBeGreaterThan(0);
    expect(typeof i.build.cxx11Abi).toBe("boolean");
    expect(typeof i.build.cuda).toBe("boolean");
    expect(["cmake-js", "node-gyp"]).toContain(i.build.system);
    if (!i.build.cuda) expect(i.cuda.available).toBe(false);
  });

  it("defaults to the machine's cores (or OMP_NUM_THREADS) and changes with setThreads", async () => {
    const { availableParallelism } = await import("node:os");
    const expected = Number(process.env.OMP_NUM_THREADS) || availableParallelism();
    expect(info().threads).toBe(expected);
    setThreads(1);
    expect(info().threads).toBe(1);
    setThreads(expected);
    expect(info().threads).toBe(expected);
    setThreads(1);
    setThreads(0); // the default again
    expect(info().threads).toBe(expected);
    expect(() => setThreads(1.5)).toThrow("setThreads(n): n must be a whole number of threads, or 0 for the default; given 1.5");
    expect(() => setThreads("2" as unknown as number)).toThrow('given "2" (a string)');
  });

  it("runs parallel work on the compute lane alone: setThreads' count there, one thread on libuv's workers and the JS thread", async () => {
    const { testing } = native();
    try {
      for (const n of [3, 1, 2]) {
        setThreads(n);
        expect(await testing.threadsByLane("compute")).toBe(n);
        expect(await testing.threadsByLane("pool")).toBe(1);
        expect(testing.threadsByLane("js")).toBe(1);
      }
      // A render asking for its own threads does not leave them to the worker's next task.
      const views = await native().renderViews(
        { pixels: [new Uint8Array(4 * 4 * 3)], sizes: new Int32Array([4, 4]) },
        [{ size: 2, boxes: new Int32Array([0, 0, 0, 4, 4, 0]), colour: new Float32Array(12) }],
        { mean: new Float32Array([0, 0, 0]), std: new Float32Array([1, 1, 1]) },
        "cpu",
        2,
      );
      for (const v of views) v.dispose();
      for (let i = 0; i < 8; i++) expect(await testing.threadsByLane("pool")).toBe(1);
    } finally {
      setThreads(Number(process.env.OMP_NUM_THREADS) || (await import("node:os")).availableParallelism());
    }
  });

  it("round-trips tensors and computes a product off the JS thread", async () => {
    const a = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const b = tensor(new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]);
    expect(a.shape()).toEqual([2, 3]);
    expect(a.dtype()).toBe("float32");
    expect(a.device()).toBe("cpu");
    const c = await matmul(a, b);
    // [1 2 3; 4 5 6] x [1 0; 0 1; 1 1], worked by hand
    expect(Array.from(c.toArray() as Float32Array)).toEqual([4, 5, 10, 11]);
    for (const t of [a, b, c]) t.dispose();
  });

  it("turns LibTorch's shape errors into JS errors and keeps working", async () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    // sync call
    expect(() => a.reshape([4])).toThrow("shape '[4]' is invalid for input of size 6");
    // async call: a rejected Promise with LibTorch's message, no C++ backtrace
    const rejected = matmul(a, a);
    await expect(rejected).rejects.toThrow("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)");
    await rejected.catch((e: Error) => expect(e.message).not.toMatch(/frame #|Exception raised from/));
    // the next native call works
    const ok = await matmul(a, a.reshape([3, 2]));
    expect(ok.shape()).toEqual([2, 2]);
    a.dispose();
    ok.dispose();
  });

  it("rejects bad arguments before they reach LibTorch", () => {
    expect(() => tensor(new Float32Array(5), [2, 3])).toThrow("data has 5 elements but shape [2, 3] needs 6");
    expect(() => tensor(new Float32Array(0), [-1])).toThrow("shape[0] must be a non-negative integer");
  });

  it("keeps the event loop turning during a long native operation", async () => {
    const n = 1500;
    const a = tensor(new Float32Array(n * n).fill(1), [n, n]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    let product = a;
    // ~10 GFLOP; run until it has taken long enough that a blocked loop would show
    let rounds = 0;
    while (performance.now() - started < 300 || rounds < 2) {
      const next = await matmul(a, a);
      if (product !== a) product.dispose();
      product = next;
      rounds++;
    }
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(product.toArray()[0]).toBe(n); // sum of n ones
    // a blocked loop gives at most one tick per round (the overdue ones fire once); a free
    // one ticks every ~5 ms, fewer on a busy machine, but far more than twice per round
    expect(ticks, `${ticks} ticks in ${rounds} rounds, ${elapsed.toFixed(0)} ms`).toBeGreaterThan(2 * rounds + 4);
    product.dispose();
    a.dispose();
  });
});

describe("native object lifetime", () => {
  it("dispose() releases: 1,000 create/dispose cycles leave the live count unchanged", () => {
    const before = liveObjects();
    for (let i = 0; i < 1000; i++) {
      const t = tensor(new Float32Array(16), [4, 4]);
      expect(liveObjects()).toBe(before + 1);
      t.dispose();
      t.dispose(); // twice is harmless
    }
    expect(liveObjects()).toBe(before);
  });

  it("a disposed tensor says so when used", () => {
    const t = tensor(new Float32Array(4), [4]);
    t.dispose();
    expect(t.isDisposed()).toBe(true);
    expect(() => t.shape()).toThrow("this Tensor was disposed");
  });

  it("garbage collection releases what JS forgot to dispose", async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, "tests run with --expose-gc").toBeTypeOf("function");
    // Collects until the count stops falling (finalizers run after the collection).
    const settle = async () => {
      for (let last = -1, i = 0; i < 50 && liveObjects() !== last; i++) {
        last = liveObjects();
        gc!();
        await new Promise((r) => setTimeout(r, 20));
      }
      return liveObjects();
    };
    const before = await settle();
    (() => {
      for (let i = 0; i < 1000; i++) tensor(new Float32Array(16), [4, 4]);
    })();
    expect(liveObjects()).toBe(before + 1000);
    expect(await settle()).toBe(before);
  });
});
