// info(), setThreads(), liveObjects(), cudaPeakMemory(): what the addon is and how it runs.
#include <ATen/Parallel.h>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/live_objects.h"
#include "binding/options.h"
#include "runtime/build_info.h"
#include "runtime/device.h"
#include "runtime/memory.h"
#include "runtime/threads.h"

namespace sere::binding {

std::atomic<int64_t>& LiveObjectCount() {
  static std::atomic<int64_t> count{0};
  return count;
}

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    BuildInfo b = GetBuildInfo();
    RuntimeInfo r = GetRuntimeInfo();
    Napi::Object build = Napi::Object::New(env);
    build.Set("compiler", b.compiler);
    build.Set("cxx11Abi", b.cxx11_abi);
    build.Set("cuda", b.built_with_cuda);
    build.Set("dataParallel", b.data_parallel);
    build.Set("system", b.build_system);
    build.Set("torchDir", b.torch_dir);
    build.Set("napiVersion", NAPI_VERSION);

    Napi::Array devices = Napi::Array::New(env, r.cuda_devices.size());
    for (size_t i = 0; i < r.cuda_devices.size(); ++i) devices.Set(i, r.cuda_devices[i]);
    Napi::Object cuda = Napi::Object::New(env);
    cuda.Set("available", r.cuda_available);
    cuda.Set("deviceCount", r.cuda_device_count);
    cuda.Set("devices", devices);
    cuda.Set("cudnnVersion", r.cudnn_version.empty() ? env.Null() : Napi::String::New(env, r.cudnn_version));

    Napi::Object out = Napi::Object::New(env);
    out.Set("libtorchVersion", b.libtorch_version);
    out.Set("cuda", cuda);
    out.Set("threads", r.intra_op_threads);
    out.Set("parallelBackend", r.parallel_backend);
    out.Set("blasCore", r.blas_core.empty() ? env.Null() : Napi::String::New(env, r.blas_core));
    out.Set("floatGemm", r.float_gemm);
    out.Set("build", build);
    return out.As<Napi::Value>();
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    SetIntraOpThreads(static_cast<int>(IntArg(info, 0, "setThreads(n): n")));
    return env.Undefined();
  });
}

Napi::Value LiveObjects(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(LiveObjectCount().load()));
}

// cudaPeakMemory(device): bytes, the most that tensors held at once on that CUDA device.
Napi::Value CudaPeakMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    const int64_t bytes = CudaPeakAllocatedBytes(ParseDevice(StringArg(info, 0, "cudaPeakMemory(device): device")));
    return Napi::Number::New(env, static_cast<double>(bytes)).As<Napi::Value>();
  });
}

// threadsByLane(lane): Promise<number>, the intra-op threads that a task on that lane
// ("compute" or "pool") runs with; threadsByLane("js"): the JS thread's, at once.
Napi::Value ThreadsByLane(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    const std::string lane = StringArg(info, 0, "threadsByLane(lane): lane");
    if (lane == "js") return Napi::Number::New(env, at::get_num_threads());
    if (lane != "compute" && lane != "pool")
      throw Napi::TypeError::New(
          env, "threadsByLane(lane): lane must be \"compute\", \"pool\" or \"js\", got \"" + lane + "\"");
    return RunAsync(
        env,
        [] {
          const int threads = at::get_num_threads();
          return [threads](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, threads); };
        },
        lane == "compute" ? Lane::kCompute : Lane::kPool);
  });
}

}  // namespace

void RegisterInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("liveObjects", Napi::Function::New(env, LiveObjects, "liveObjects"));
  exports.Set("cudaPeakMemory", Napi::Function::New(env, CudaPeakMemory, "cudaPeakMemory"));
  TestingExports(env, exports).Set("threadsByLane", Napi::Function::New(env, ThreadsByLane, "threadsByLane"));
}

}  // namespace sere::binding
