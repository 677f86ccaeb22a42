#pragma once
// Runs native work off the JS thread and settles a Promise with the result. `work` must
// not touch JS values; it returns a `Finish` that turns its result into a JS value back
// on the JS thread.
#include <napi.h>

#include <functional>

namespace sere::binding {

using Finish = std::function<Napi::Value(Napi::Env)>;
using Work = std::function<Finish()>;

// Where the work runs. kCompute: the process's one thread for LibTorch's parallel work, on
// the intra-op threads that setThreads asks for; tasks run there one at a time, in the order
// given. kPool: any of libuv's worker threads, on one intra-op thread: work that waits (files,
// the communicator) or that splits itself (rendering takes its own thread count). One thread
// for compute keeps one OpenMP team in the process (runtime/threads.h) and one glibc heap arena
// for the big working sets: glibc gives each thread an arena of its own and, as this addon
// sets it (runtime/memory.h), keeps what a thread frees for that thread's later allocations; a
// training step's working set spread over libuv's four threads came to be held four times
// (6.5 GB of peak memory for a vit_tiny step that needs 2.1 GB).
enum class Lane { kCompute, kPool };

Napi::Promise RunAsync(Napi::Env env, Work work, Lane lane = Lane::kCompute);

}  // namespace sere::binding
