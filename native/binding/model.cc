// `Model`: a JS handle to one network (backbone + optional iBOT head) on a device.
#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/live_objects.h"
#include "binding/model_options.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "model/network.h"
#include "model/throughput.h"
#include "runtime/device.h"
#include "runtime/precision.h"
#include "runtime/random.h"

namespace sere::binding {

using model::NamedTensors;
using model::SereNetwork;

model::NetworkConfig NetworkConfigFrom(const Napi::Object& o) {
  model::NetworkConfig c;
  c.backbone.embed_dim = IntField(o, "embedDim");
  c.backbone.depth = IntField(o, "depth");
  c.backbone.num_heads = IntField(o, "numHeads");
  c.backbone.mlp_ratio = NumberField(o, "mlpRatio");
  c.backbone.patch_size = IntField(o, "patchSize");
  c.backbone.conv_stem = BoolField(o, "convStem");
  c.backbone.img_size = IntField(o, "imgSize");
  c.backbone.drop_path_rate = NumberField(o, "dropPathRate");
  c.backbone.masked_im_modeling = BoolField(o, "maskedImModeling");
  c.backbone.local_heads = BoolField(o, "localHeads");
  Napi::Value head = o.Get("head");
  c.with_head = head.IsObject();
  if (c.with_head) {
    Napi::Object h = head.As<Napi::Object>();
    c.head.out_dim = IntField(h, "outDim");
    c.head.patch_out_dim = IntField(h, "patchOutDim");
    c.head.hidden_dim = IntField(h, "hiddenDim");
    c.head.bottleneck_dim = IntField(h, "bottleneckDim");
    c.head.norm_last_layer = BoolField(h, "normLastLayer");
    c.head.shared_head = BoolField(h, "sharedHead");
  }
  return c;
}

Napi::Array EntriesToJs(Napi::Env env, const NamedTensors& entries) {
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, entries[i].first);
    pair.Set(1u, Tensor::New(env, entries[i].second));
    out.Set(i, pair);
  }
  return out;
}

NamedTensors EntriesFromJs(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "entries must be an array of [name, Tensor] pairs");
  Napi::Array array = value.As<Napi::Array>();
  NamedTensors out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsArray() || item.As<Napi::Array>().Length() != 2 || !item.As<Napi::Array>().Get(0u).IsString())
      throw Napi::TypeError::New(env, "entries[" + std::to_string(i) + "] must be a [name, Tensor] pair");
    Napi::Array pair = item.As<Napi::Array>();
    out.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), Tensor::From(env, pair.Get(1u), "entry tensor"));
  }
  return out;
}

namespace {

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Model",
        {InstanceMethod<&Model::ParameterCount>("parameterCount"), InstanceMethod<&Model::State>("state"),
         InstanceMethod<&Model::LoadState>("loadState"), InstanceMethod<&Model::Features>("features"),
         InstanceMethod<&Model::LastSelfAttention>("lastSelfAttention"),
         InstanceMethod<&Model::IntermediateLayers>("intermediateLayers"),
         InstanceMethod<&Model::EvaluationFeatures>("evaluationFeatures"),
         InstanceMethod<&Model::TrainingForward>("trainingForward"), InstanceMethod<&Model::Dispose>("dispose"),
         InstanceMethod<&Model::Disposed>("isDisposed")});
  }

  // new Model({ ...architecture, device, dtype, seed })
  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    Napi::Env env = info.Env();
    Guard(env, [&] {
      Napi::Object o = ObjectArg(info, 0, "model options");
      auto config = NetworkConfigFrom(o);
      auto device = ParseDevice(StringField(o, "device"));
      auto dtype = ParseFloatDtype(StringField(o, "dtype"));
      const uint64_t initial_seed = static_cast<uint64_t>(OptionalIntField(o, "seed").value_or(0));
      SereNetwork network{nullptr};
      {
        SeededConstruction seeded(initial_seed);
        network = SereNetwork(config);
      }
      network->to(device, dtype);
      network_.Set(network);
    });
  }

 private:
  SereNetwork& Get(Napi::Env env) {
    SereNetwork* n = network_.Get();
    if (!n) throw Napi::Error::New(env, "this Model was disposed; it cannot be used any more");
    return *n;
  }

  // Images as the model wants them: on its device, in its dtype.
  at::Tensor Input(Napi::Env env, Napi::Value value) {
    auto& net = Get(env);
    auto reference = net->backbone->cls_token;
    return Tensor::From(env, value, "images").to(reference.device(), reference.scalar_type());
  }

  Napi::Value ParameterCount(const Napi::CallbackInfo& info) {
    bool trainable_only = BoolArg(info, 0, "parameterCount(trainableOnly): trainableOnly");
    return Napi::Number::New(info.Env(), static_cast<double>(Get(info.Env())->parameter_count(trainable_only)));
  }

  Napi::Value State(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      NamedTensors entries = Get(env)->state();
      for (auto& e : entries) e.second = e.second.detach();
      return EntriesToJs(env, entries).As<Napi::Value>();
    });
  }

  // loadState(entries, backboneOnly): Promise<void>, after any running forward pass.
  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      bool backbone_only = BoolArg(info, 1, "loadState(entries, backboneOnly): backboneOnly");
      SereNetwork network = Get(env);
      auto entries = EntriesFromJs(env, info[0]);
      return RunAsync(env,
                      [network, entries, backbone_only, busy = busy_]() mutable -> Finish {
                        std::lock_guard<std::mutex> lock(*busy);  // not while a forward pass reads the weights
                        network->load_state(entries, backbone_only);
                        return [](Napi::Env env) { return env.Undefined(); };
                      })
          .As<Napi::Value>();
    });
  }

  // Runs `compute(network, images)` off the JS thread in eval mode without gradients;
  // resolves to one Tensor when `single`, else to an array of them.
  Napi::Value Inference(const Napi::CallbackInfo& info, bool single,
                        std::function<std::vector<at::Tensor>(SereNetwork&, const at::Tensor&)> compute) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      SereNetwork network = Get(env);
      at::Tensor images = Input(env, info[0]);
      return RunAsync(env, [network, images, compute, single, busy = busy_]() mutable -> Finish {
        // Calls on one Model run one at a time: each switches the network's mode.
        std::lock_guard<std::mutex> lock(*busy);
        model::InferenceScope inference(*network);
        auto results = compute(network, images);
        return [results, single](Napi::Env env) -> Napi::Value {
          if (single) return Tensor::New(env, results.at(0));
          Napi::Array out = Napi::Array::New(env, results.size());
          for (size_t i = 0; i < results.size(); ++i) out.Set(i, Tensor::New(env, results[i]));
          return out;
        };
      });
    });
  }

  // features(images, "cls" | "tokens"): the backbone's output after the final norm.
  Napi::Value Features(const Napi::CallbackInfo& info) {
    bool all_tokens = StringArg(info, 1, "features(images, what): what") == "tokens";
    return Inference(info, true, [all_tokens](SereNetwork& net, const at::Tensor& images) {
      auto tokens = net->backbone->tokens(images);
      return std::vector<at::Tensor>{all_tokens ? tokens : tokens.select(1, 0).contiguous()};
    });
  }

  // evaluationFeatures(images, nLastBlocks, avgpoolPatchtokens): DINO's evaluation features.
  Napi::Value EvaluationFeatures(const Napi::CallbackInfo& info) {
    int64_t n = IntArg(info, 1, "evaluationFeatures(images, nLastBlocks, avgpool): nLastBlocks");
    bool avgpool = BoolArg(info, 2, "evaluationFeatures(images, nLastBlocks, avgpool): avgpool");
    return Inference(info, true, [n, avgpool](SereNetwork& net, const at::Tensor& images) {
      return std::vector<at::Tensor>{net->backbone->evaluation_features(images, n, avgpool)};
    });
  }

  Napi::Value LastSelfAttention(const Napi::CallbackInfo& info) {
    return Inference(info, true, [](SereNetwork& net, const at::Tensor& images) {
      return std::vector<at::Tensor>{net->backbone->last_self_attention(images)};
    });
  }

  Napi::Value IntermediateLayers(const Napi::CallbackInfo& info) {
    int64_t n = IntArg(info, 1, "intermediateLayers(images, n): n");
    return Inference(info, false, [n](SereNetwork& net, const at::Tensor& images) {
      return net->backbone->intermediate_layers(images, n);
    });
  }

  // trainingForward(images, { mask?: Tensor, local: boolean, precision }): what one network
  // computes in a training step (docs/method.md#forward-passes), without gradients: head outputs
  // and self-relations, under autocast as the step runs them when precision is not float32.
  Napi::Value TrainingForward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      SereNetwork network = Get(env);
      at::Tensor images = Input(env, info[0]);
      Napi::Object o = ObjectArg(info, 1, "trainingForward options");
      bool local = BoolField(o, "local");
      auto precision = ParseFloatDtype(StringField(o, "precision"));
      std::optional<at::Tensor> mask;
      if (auto given = OptionalTensorField(o, "mask")) mask = given->to(images.device());
      return RunAsync(env,
                      [network, images, mask, local, precision, busy = busy_]() mutable -> Finish {
                        std::lock_guard<std::mutex> lock(*busy);
                        torch::NoGradGuard no_grad;
                        AutocastRegion autocast(images.device().type(), precision);
                        auto out = network->backbone->forward(images, mask, local);
                        model::HeadOutput head;
                        if (network->head) head = network->head->forward(out.tokens, /*with_patches=*/!local);
                        return [out, head](Napi::Env env) -> Napi::Value {
                          Napi::Object result = Napi::Object::New(env);
                          result.Set("tokens", Tensor::New(env, out.tokens));
                          if (head.cls.defined()) result.Set("cls", Tensor::New(env, head.cls));
                          if (head.patches.defined()) result.Set("patches", Tensor::New(env, head.patches));
                          result.Set("channelZ", Tensor::New(env, out.channel.of_z));
                          result.Set("channelP", Tensor::New(env, out.channel.of_p));
                          result.Set("spatialZ", Tensor::New(env, out.spatial.of_z));
                          result.Set("spatialP", Tensor::New(env, out.spatial.of_p));
                          return result;
                        };
                      })
          .As<Napi::Value>();
    });
  }

 public:
  // testing.throughput(model, images, { backward, precision, warmup, iterations }): Promise<seconds per
  // iteration> of a training forward (+ backward), for the benchmarks.
  static Napi::Value Throughput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto* wrapped =
          UnwrapInstance<Model>(env, info[0], DataOf(env).model_class, "throughput(model, ...): model must be a Model");
      SereNetwork network = wrapped->Get(env);
      at::Tensor images = wrapped->Input(env, info[1]);
      Napi::Object o = ObjectArg(info, 2, "throughput options");
      model::ThroughputOptions options;
      options.backward = BoolField(o, "backward");
      options.precision = ParseFloatDtype(StringField(o, "precision"));
      options.warmup = static_cast<int>(IntField(o, "warmup"));
      options.iterations = static_cast<int>(IntField(o, "iterations"));
      return RunAsync(env,
                      [network, images, options, busy = wrapped->busy_]() mutable -> Finish {
                        std::lock_guard<std::mutex> lock(*busy);
                        double seconds = model::SecondsPerIteration(network, images, options);
                        return [seconds](Napi::Env env) { return Napi::Number::New(env, seconds); };
                      })
          .As<Napi::Value>();
    });
  }

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    network_.Release();
    return info.Env().Undefined();
  }

  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !network_.Held()); }

  Owned<SereNetwork> network_;
  // Held by each native task on this Model for its whole run.
  std::shared_ptr<std::mutex> busy_ = std::make_shared<std::mutex>();
};

}  // namespace

void RegisterModel(Napi::Env env, Napi::Object exports) {
  Napi::Function model_class = Model::Define(env);
  DataOf(env).model_class = Napi::Persistent(model_class);
  exports.Set("Model", model_class);
  TestingExports(env, exports).Set("throughput", Napi::Function::New(env, Model::Throughput, "throughput"));
}

}  // namespace sere::binding
