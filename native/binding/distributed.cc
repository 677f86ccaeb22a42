// `Communicator`: a JS handle to this rank's c10d connection (rendezvous store and
// process groups), handed to the training step; and `testing.batchNorm2d`, the SERE heads'
// BatchNorm with or without synchronised statistics, for checking it.
#include "binding/distributed.h"

#include <chrono>
#include <mutex>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/live_objects.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "model/sync_batch_norm.h"
#include "runtime/device.h"

namespace sere::binding {
namespace {

// What a JS Communicator holds; shared with the connect() job, which may outlive a dispose().
struct Connection {
  std::mutex mutex;
  Owned<std::shared_ptr<distributed::Communicator>> communicator;
};

class Communicator : public Napi::ObjectWrap<Communicator> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Communicator",
        {InstanceMethod<&Communicator::Connect>("connect"), InstanceMethod<&Communicator::AllGather>("allGather"),
         InstanceMethod<&Communicator::Barrier>("barrier"), InstanceMethod<&Communicator::Backend>("backend"),
         InstanceMethod<&Communicator::Dispose>("dispose")});
  }

  // new Communicator({ rank, worldSize, masterAddr, masterPort, timeoutSeconds, device })
  explicit Communicator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Communicator>(info) {
    Napi::Env env = info.Env();
    Guard(env, [&] {
      Napi::Object o = ObjectArg(info, 0, "communicator options");
      options_.rank = IntField(o, "rank");
      options_.world_size = IntField(o, "worldSize");
      options_.master_addr = StringField(o, "masterAddr");
      options_.master_port = IntField(o, "masterPort");
      options_.timeout = std::chrono::milliseconds(static_cast<int64_t>(NumberField(o, "timeoutSeconds") * 1000));
      options_.device = ParseDevice(StringField(o, "device"));
    });
  }

  std::shared_ptr<distributed::Communicator> Get(Napi::Env env) {
    std::lock_guard<std::mutex> lock(connection_->mutex);
    auto* c = connection_->communicator.Get();
    if (!c) throw Napi::Error::New(env, "this Communicator is not connected (call connect() first) or was disposed");
    return *c;
  }

 private:
  // connect(): Promise<void>, resolved when every rank has joined.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto options = options_;
      auto connection = connection_;
      return RunAsync(
                 env,
                 [options, connection]() -> Finish {
                   auto communicator = std::make_shared<distributed::Communicator>(options);
                   return [connection, communicator](Napi::Env env) -> Napi::Value {
                     std::lock_guard<std::mutex> lock(connection->mutex);
                     connection->communicator.Set(communicator);
                     return env.Undefined();
                   };
                 },
                 Lane::kPool)
          .As<Napi::Value>();
    });
  }

  // allGather(key, value): Promise<string[]>, every rank's value in rank order.
  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto communicator = Get(env);
      std::string key = StringArg(info, 0, "allGather(key, value): key"),
                  value = StringArg(info, 1, "allGather(key, value): value");
      return RunAsync(
                 env,
                 [communicator, key, value]() -> Finish {
                   auto all = communicator->AllGather(key, value);
                   return [all](Napi::Env env) -> Napi::Value {
                     Napi::Array out = Napi::Array::New(env, all.size());
                     for (size_t i = 0; i < all.size(); ++i) out.Set(i, all[i]);
                     return out;
                   };
                 },
                 Lane::kPool)
          .As<Napi::Value>();
    });
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto communicator = Get(env);
      return RunAsync(
                 env,
                 [communicator]() -> Finish {
                   communicator->Barrier();
                   return [](Napi::Env env) { return env.Undefined(); };
                 },
                 Lane::kPool)
          .As<Napi::Value>();
    });
  }

  Napi::Value Backend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] { return Napi::String::New(env, Get(env)->backend()).As<Napi::Value>(); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(connection_->mutex);
    connection_->communicator.Release();
    return info.Env().Undefined();
  }

  distributed::CommunicatorOptions options_;
  std::shared_ptr<Connection> connection_ = std::make_shared<Connection>();
};

// testing.batchNorm2d(input, weight, bias, gradOutput, communicator?): Promise<{ output, gradInput, gradWeight,
// gradBias, runningMean, runningVar }>: one training-mode forward and backward of the heads' BatchNorm (momentum 0.1,
// eps 1e-5, fresh running statistics); with a communicator the statistics cover all ranks, without it this is
// LibTorch's own BatchNorm.
Napi::Value BatchNorm2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto input = TensorArg(info, 0, "input");
    auto weight = TensorArg(info, 1, "weight");
    auto bias = TensorArg(info, 2, "bias");
    auto grad_output = TensorArg(info, 3, "gradOutput");
    std::shared_ptr<distributed::Communicator> communicator;
    if (!info[4].IsUndefined() && !info[4].IsNull()) communicator = CommunicatorFrom(env, info[4], "communicator");
    return RunAsync(env,
                    [=]() -> Finish {
                      torch::nn::BatchNorm2d bn(input.size(1));
                      {
                        torch::NoGradGuard no_grad;
                        bn->weight.copy_(weight);
                        bn->bias.copy_(bias);
                      }
                      auto x = input.detach().to(at::kFloat).requires_grad_(true);
                      model::AllReduceSum all_reduce = [communicator](at::Tensor& t) { communicator->AllReduceSum(t); };
                      auto y = model::NormaliseBatch(*bn, x, communicator ? &all_reduce : nullptr);
                      y.backward(grad_output.to(at::kFloat));
                      auto out = std::vector<at::Tensor>{y.detach(),
                                                         x.grad(),
                                                         bn->weight.grad(),
                                                         bn->bias.grad(),
                                                         bn->running_mean.clone(),
                                                         bn->running_var.clone()};
                      return [out](Napi::Env env) -> Napi::Value {
                        Napi::Object o = Napi::Object::New(env);
                        const char* names[] = {"output",   "gradInput",   "gradWeight",
                                               "gradBias", "runningMean", "runningVar"};
                        for (size_t i = 0; i < out.size(); ++i) o.Set(names[i], Tensor::New(env, out[i]));
                        return o;
                      };
                    })
        .As<Napi::Value>();
  });
}

}  // namespace

std::shared_ptr<distributed::Communicator> CommunicatorFrom(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(DataOf(env).communicator_class.Value()))
    throw Napi::TypeError::New(env, std::string(what) + " must be a Communicator");
  return Communicator::Unwrap(value.As<Napi::Object>())->Get(env);
}

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Communicator::Define(env);
  DataOf(env).communicator_class = Napi::Persistent(cls);
  exports.Set("Communicator", cls);
  TestingExports(env, exports).Set("batchNorm2d", Napi::Function::New<BatchNorm2d>(env, "batchNorm2d"));
}

}  // namespace sere::binding
