#pragma once
// LibTorch's intra-op thread count. ATen keeps it per OS thread (OpenMP), and our
// work runs on libuv's worker threads, so every native task re-applies the setting.
namespace sere {

// Sets the count for all later native work (n >= 1).
void SetIntraOpThreads(int n);
int IntraOpThreads();
// The default: OMP_NUM_THREADS when set, else the machine's cores (Debian's torch starts at 1).
int DefaultIntraOpThreads();
// Called at the start of every task on a worker thread.
void ApplyIntraOpThreadsHere();

}  // namespace sere
