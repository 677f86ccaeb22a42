#pragma once
// Runs native work on a libuv worker thread and settles a Promise with the result.
// `work` runs off the JS thread and must not touch JS values; it returns a `Finish`
// that turns its result into a JS value back on the JS thread.
#include <napi.h>

#include <functional>

namespace sere::binding {

using Finish = std::function<Napi::Value(Napi::Env)>;
using Work = std::function<Finish()>;

Napi::Promise RunAsync(Napi::Env env, Work work);

}  // namespace sere::binding
