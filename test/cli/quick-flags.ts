/** Flags that make the default preset small and quick: a one-block ViT, a 64-way head, batches of 4, no k-NN. */
export const QUICK_FLAGS =
  "--embed-dim 24 --depth 1 --num-heads 2 --out-dim 64 --hidden-dim 32 --bottleneck-dim 16 --batch-size-per-gpu 4 --knn-eval false".split(" ");
