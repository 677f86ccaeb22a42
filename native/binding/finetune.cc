// `FinetuneStep`: a JS handle to the native fine-tuning state (classifier, optimiser); one call
// per iteration runs erasing, mixing, forward, loss, backward and the update off the JS thread.
#include <napi.h>

#include <memory>
#include <mutex>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/checkpoint_extras.h"
#include "binding/distributed.h"
#include "binding/errors.h"
#include "binding/live_objects.h"
#include "binding/model_options.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "runtime/device.h"
#include "train/checkpoint.h"
#include "train/finetune_step.h"

namespace sere::binding {
namespace {

struct Finetuning {
  explicit Finetuning(const train::FinetuneConfig& config) : step(config) {}
  train::FinetuneStep step;
  std::mutex mutex;
};

train::FinetuneConfig FinetuneConfigFrom(const Napi::Object& o) {
  train::FinetuneConfig c;
  c.classifier.backbone = NetworkConfigFrom(ObjectField(o, "network")).backbone;
  c.classifier.num_classes = IntField(o, "numClasses");
  c.classifier.mean_pooling = BoolField(o, "meanPooling");
  c.classifier.init_scale = NumberField(o, "initScale");
  c.layer_decay = NumberField(o, "layerDecay");
  c.clip_grad = NumberField(o, "clipGrad");
  c.label_smoothing = NumberField(o, "labelSmoothing");
  if (auto decay = OptionalField(o, "emaDecay")) c.ema_decay = AsNumber(*decay, "option `emaDecay`");
  Napi::Object normalisation = ObjectField(o, "normalisation");
  c.mean = NumbersField<double>(normalisation, "mean");
  c.std = NumbersField<double>(normalisation, "std");
  c.precision = ParseFloatDtype(StringField(o, "precision"));
  c.device = ParseDevice(StringField(o, "device"));
  if (auto seed = OptionalIntField(o, "seed")) c.seed = static_cast<uint64_t>(*seed);
  if (auto communicator = OptionalField(o, "communicator"))
    c.communicator = CommunicatorFrom(o.Env(), *communicator, "fine-tuning options.communicator");
  return c;
}

// { lambda, box?: [x0, y0, x1, y1] }
augment::MixPlan MixPlanFrom(const Napi::Object& o) {
  augment::MixPlan plan;
  plan.lambda = NumberField(o, "lambda");
  if (auto box = OptionalField(o, "box")) {
    auto v = AsNumbers<int64_t>(*box, "option `box`");
    if (v.size() != 4) throw Napi::TypeError::New(o.Env(), "option `box` must be [x0, y0, x1, y1]");
    plan.box = augment::MixPlan::Box{v[0], v[1], v[2], v[3]};
  }
  return plan;
}

class FinetuneStep : public Napi::ObjectWrap<FinetuneStep> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "FinetuneStep",
        {InstanceMethod<&FinetuneStep::Run>("run"), InstanceMethod<&FinetuneStep::Logits>("logits"),
         InstanceMethod<&FinetuneStep::LoadBackbone>("loadBackbone"), InstanceMethod<&FinetuneStep::State>("state"),
         InstanceMethod<&FinetuneStep::Save>("save"), InstanceMethod<&FinetuneStep::Restore>("restore"),
         InstanceMethod<&FinetuneStep::JoinRanks>("joinRanks"),
         InstanceMethod<&FinetuneStep::ParameterGroups>("parameterGroups"),
         InstanceMethod<&FinetuneStep::Dispose>("dispose")});
  }

  explicit FinetuneStep(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FinetuneStep>(info) {
    Guard(info.Env(), [&] {
      finetuning_.Set(std::make_shared<Finetuning>(FinetuneConfigFrom(ObjectArg(info, 0, "fine-tuning options"))));
    });
  }

 private:
  std::shared_ptr<Finetuning> Get(Napi::Env env) {
    auto* f = finetuning_.Get();
    if (!f) throw Napi::Error::New(env, "this fine-tuning state was disposed");
    return *f;
  }

  // Runs `work` on the compute lane with the step locked; `work` returns the Finish callback.
  template <class Work>
  Napi::Value Locked(Napi::Env env, Work work) {
    auto finetuning = Get(env);
    return RunAsync(env,
                    [finetuning, work]() -> Finish {
                      std::lock_guard<std::mutex> lock(finetuning->mutex);
                      return work(finetuning->step);
                    })
        .template As<Napi::Value>();
  }

  static Finish Done() {
    return [](Napi::Env env) { return env.Undefined(); };
  }

  // run({ images, labels, randAugment?: { ops, magnitudes }, eraseBoxes?, mix: { lambda, box? } }, { lr, weightDecay,
  // stop? })
  //   -> Promise<{ loss, stepped, stop }>
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      Napi::Object b = ObjectArg(info, 0, "batch");
      train::FinetuneBatch batch;
      batch.images = TensorField(b, "images");
      batch.labels = TensorField(b, "labels");
      batch.erase_boxes = OptionalTensorField(b, "eraseBoxes").value_or(at::Tensor());
      if (auto plan = OptionalField(b, "randAugment")) {
        Napi::Object p = AsObject(*plan, "option `randAugment`");
        batch.rand_augment_ops = TensorField(p, "ops");
        batch.rand_augment_magnitudes = TensorField(p, "magnitudes");
      }
      batch.mix = MixPlanFrom(ObjectField(b, "mix"));
      Napi::Object s = ObjectArg(info, 1, "schedule");
      train::FinetuneSchedule schedule{NumberField(s, "lr"), NumberField(s, "weightDecay"),
                                       OptionalBoolField(s, "stop").value_or(false)};
      return Locked(env, [batch, schedule](train::FinetuneStep& step) -> Finish {
        const auto result = step.Run(batch, schedule);
        return [result](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("loss", result.loss);
          out.Set("stepped", result.stepped);
          out.Set("stop", result.stop);
          return out;
        };
      });
    });
  }

  // logits(images, ema?) -> Promise<Tensor> (B, classes), in evaluation mode.
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto images = TensorArg(info, 0, "logits(images, ema): images");
      const bool ema = info.Length() > 1 && !info[1].IsUndefined() && BoolArg(info, 1, "logits(images, ema): ema");
      return Locked(env, [images, ema](train::FinetuneStep& step) -> Finish {
        auto logits = step.Logits(images, ema).cpu();
        return [logits](Napi::Env env) { return Tensor::New(env, logits); };
      });
    });
  }

  // loadBackbone(entries with a SereNetwork's `backbone.*` names) -> Promise<void>
  Napi::Value LoadBackbone(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto entries = EntriesFromJs(env, info[0]);
      return Locked(env, [entries](train::FinetuneStep& step) -> Finish {
        step.classifier->load_backbone(entries);
        return Done();
      });
    });
  }

  // state(ema?) -> Promise of the classifier's (or its moving average's) [name, Tensor] pairs
  // (flat names, detached copies).
  Napi::Value State(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&] {
      const bool ema = info.Length() > 0 && !info[0].IsUndefined() && BoolArg(info, 0, "state(ema): ema");
      return Locked(info.Env(), [ema](train::FinetuneStep& step) -> Finish {
        TORCH_CHECK(!ema || step.ema, "this fine-tuning keeps no moving average of its weights (ema_decay is 0)");
        auto entries = (ema ? step.ema : step.classifier)->state();
        for (auto& e : entries) e.second = e.second.detach().cpu().clone();
        return [entries](Napi::Env env) { return EntriesToJs(env, entries).As<Napi::Value>(); };
      });
    });
  }

  // save(path, extra) -> Promise<void>: a torch.save-compatible checkpoint.
  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto path = StringArg(info, 0, "save(path, extra): path");
      auto extra = CheckpointExtrasFrom(env, ObjectArg(info, 1, "checkpoint extras"));
      return Locked(env, [path, extra](train::FinetuneStep& step) -> Finish {
        train::SaveFinetuneCheckpoint(path, step, extra);
        return Done();
      });
    });
  }

  // restore({ model, modelEma?, optimizer, iteration, lossScale?, goodSteps?, cpuGenerator? }) -> Promise<void>
  Napi::Value Restore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      Napi::Object o = ObjectArg(info, 0, "fine-tuning state");
      train::FinetuneState state;
      state.model = EntriesFromJs(env, Field(o, "model"));
      if (auto average = OptionalField(o, "modelEma")) state.model_ema = EntriesFromJs(env, *average);
      state.optimizer = EntriesFromJs(env, Field(o, "optimizer"));
      state.iteration = IntField(o, "iteration");
      if (auto scale = OptionalField(o, "lossScale")) state.loss_scale = AsNumber(*scale, "option `lossScale`");
      state.good_steps = OptionalIntField(o, "goodSteps").value_or(0);
      state.cpu_generator = OptionalTensorField(o, "cpuGenerator").value_or(at::Tensor());
      return Locked(env, [state](train::FinetuneStep& step) -> Finish {
        train::RestoreFinetuneState(step, state);
        return Done();
      });
    });
  }

  // joinRanks() -> Promise<void>: data parallelism, every rank takes rank 0's weights.
  Napi::Value JoinRanks(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&] {
      return Locked(info.Env(), [](train::FinetuneStep& step) -> Finish {
        step.JoinRanks();
        return Done();
      });
    });
  }

  // parameterGroups(): [{ layer, lrScale, decayed, names }], in the optimiser's order.
  Napi::Value ParameterGroups(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      const auto& groups = Get(env)->step.groups();
      Napi::Array out = Napi::Array::New(env, groups.size());
      for (size_t g = 0; g < groups.size(); ++g) {
        Napi::Object group = Napi::Object::New(env);
        group.Set("layer", static_cast<double>(groups[g].layer));
        group.Set("lrScale", groups[g].lr_scale);
        group.Set("decayed", groups[g].decayed);
        Napi::Array names = Napi::Array::New(env, groups[g].names.size());
        for (size_t i = 0; i < groups[g].names.size(); ++i) names.Set(i, groups[g].names[i]);
        group.Set("names", names);
        out.Set(g, group);
      }
      return out.As<Napi::Value>();
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    finetuning_.Release();
    return info.Env().Undefined();
  }

  Owned<std::shared_ptr<Finetuning>> finetuning_;
};

// testing.mixBatch(images, labels, { classes, smoothing, lambda, box? }) -> { images, targets }
Napi::Value MixBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    Napi::Object o = ObjectArg(info, 2, "mixBatch options");
    auto [images, targets] =
        augment::MixBatch(TensorArg(info, 0, "mixBatch: images"), TensorArg(info, 1, "mixBatch: labels"),
                          IntField(o, "classes"), NumberField(o, "smoothing"), MixPlanFrom(o));
    Napi::Object out = Napi::Object::New(env);
    out.Set("images", Tensor::New(env, images.contiguous()));
    out.Set("targets", Tensor::New(env, targets.contiguous()));
    return out.As<Napi::Value>();
  });
}

}  // namespace

void RegisterFinetune(Napi::Env env, Napi::Object exports) {
  exports.Set("FinetuneStep", FinetuneStep::Define(env));
  TestingExports(env, exports).Set("mixBatch", Napi::Function::New(env, MixBatch, "mixBatch"));
}

}  // namespace sere::binding
