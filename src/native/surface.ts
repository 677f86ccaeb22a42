// The native addon's surface: every function and class that build/Release/sere_torch.node
// exports, typed. Nothing else crosses into C++; callers validate their values first.

export type NativeTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** What the addon reports of itself and of the LibTorch it runs on. */
export interface NativeInfo {
  /** LibTorch version of the headers the addon was compiled against. */
  libtorchVersion: string;
  cuda: {
    available: boolean;
    deviceCount: number;
    devices: string[];
    /** e.g. "9.1.0"; null without CUDA or cuDNN. */
    cudnnVersion: string | null;
  };
  /** LibTorch intra-op threads used by native work. */
  threads: number;
  parallelBackend: string;
  build: {
    compiler: string;
    cxx11Abi: boolean;
    /** Built against a CUDA LibTorch. */
    cuda: boolean;
    system: "cmake-js" | "node-gyp";
    torchDir: string;
    napiVersion: number;
  };
}

/** A LibTorch tensor held by native code. */
export interface NativeTensor {
  shape(): number[];
  /** PyTorch's dtype names: "float32", "int64", ... */
  dtype(): string;
  device(): string;
  /** A copy of the data on the CPU. */
  toArray(): NativeTypedArray;
  /** A reshaped copy. */
  reshape(shape: readonly number[]): NativeTensor;
  /** Frees the native memory now; later use throws. */
  dispose(): void;
  isDisposed(): boolean;
}

/** Decoded source images for renderViews: uint8 RGB, rows of width x 3 bytes, back to back. */
export interface NativeSourceImages {
  pixels: Uint8Array;
  /** (height, width) per image. */
  sizes: Int32Array;
}

/** The views of one output size (native/augment/augment.h documents the columns). */
export interface NativeViewGroup {
  size: number;
  /** (views, 6): image, x, y, width, height, flipped. */
  boxes: Int32Array;
  /** (views, 12): jitter, brightness, contrast, saturation, hue, order x 4, grayscale, blur sigma, solarize. */
  colour: Float32Array;
}

/** Multi-crop augmentation (native/augment). */
export interface NativeAugment {
  /**
   * Renders every group's views: one float32 (views, 3, size, size) tensor per group, on
   * `device`. `threads` > 0: LibTorch threads for this call (default: the global setting).
   */
  renderViews(
    images: NativeSourceImages,
    groups: readonly NativeViewGroup[],
    normalisation: { mean: Float32Array; std: Float32Array },
    device: string,
    threads?: number,
  ): Promise<NativeTensor[]>;
}

export interface NativeAddon extends NativeAugment {
  info(): NativeInfo;
  setThreads(n: number): void;
  /** Native objects currently held by JS (tensors, models, ...). */
  liveObjects(): number;
  Tensor: new (data: NativeTypedArray, shape: readonly number[]) => NativeTensor;
  /** Matrix product, computed off the JS thread. */
  matmul(a: NativeTensor, b: NativeTensor): Promise<NativeTensor>;
}
