#pragma once
// Runs native work off the JS thread and settles a Promise with the result. `work` must
// not touch JS values; it returns a `Finish` that turns its result into a JS value back
// on the JS thread.
#include <napi.h>

#include <functional>

namespace sere::binding {

using Finish = std::function<Napi::Value(Napi::Env)>;
using Work = std::function<Finish()>;

// Where the work runs. kPool: any of libuv's worker threads. kTraining: the process's one
// training thread. glibc gives each thread a heap arena of its own and, as this addon sets
// it (runtime/memory.h), keeps what a thread frees for that thread's later allocations: a
// training step's working set spread over libuv's four threads came to be held four times
// (6.5 GB of peak memory for a vit_tiny step that needs 2.1 GB).
enum class Lane { kPool, kTraining };

Napi::Promise RunAsync(Napi::Env env, Work work, Lane lane = Lane::kPool);

}  // namespace sere::binding
