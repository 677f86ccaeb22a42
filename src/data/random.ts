// The seeded generator behind every random choice of the data pipeline (crops, flips,
// photometric parameters, masks, shuffles). Its whole state is four 32-bit words, so a
// checkpoint can save it and a resumed run continues the same sequence.
// Algorithm: xoshiro128** (Blackman & Vigna), seeded through splitmix32.

/** A generator state: plain JSON, safe to store in checkpoints. */
export type RandomState = readonly [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Random {
  private s: [number, number, number, number];

  private constructor(state: RandomState) {
    this.s = [state[0] >>> 0, state[1] >>> 0, state[2] >>> 0, state[3] >>> 0];
    if (this.s.every((w) => w === 0)) throw new RangeError("Random: an all-zero state is not allowed");
  }

  /** A generator seeded from `seed` and any further integers (e.g. epoch, rank). */
  static seeded(seed: number, ...keys: number[]): Random {
    let mixed = seed >>> 0;
    for (const key of keys) mixed = (splitmix32(mixed ^ Math.imul(key >>> 0, 0x27d4eb2d))() ^ key) >>> 0;
    const next = splitmix32(mixed);
    return new Random([next(), next(), next(), next()]);
  }

  static fromState(state: RandomState): Random {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
      throw new TypeError("Random.fromState: the state must be four unsigned 32-bit integers, as state() returns");
    }
    return new Random(state);
  }

  state(): RandomState {
    return [...this.s];
  }

  /** The next raw 32-bit output. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1), 53 bits. */
  next(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }

  /** An integer in [low, high) (high exclusive). */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low));
  }

  /** true with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const out = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
