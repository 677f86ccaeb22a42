// `SereStep`: a JS handle to the native training state (student, teacher, objective,
// optimiser); one call per iteration runs the whole step off the JS thread.
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
#include "binding/objective_options.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "runtime/device.h"
#include "train/checkpoint.h"
#include "train/sere_step.h"

namespace sere::binding {
namespace {

// The step and a lock: one iteration at a time, whatever JS does meanwhile.
struct Training {
  explicit Training(const train::StepConfig& config) : step(config) {}
  train::SereStep step;
  std::mutex mutex;
};

train::StepConfig StepConfigFrom(const Napi::Object& o) {
  train::StepConfig c;
  c.student = NetworkConfigFrom(ObjectField(o, "student"));
  c.teacher = NetworkConfigFrom(ObjectField(o, "teacher"));
  c.objective = ObjectiveOptionsFrom(ObjectField(o, "objective"));
  c.global_query_side = IntField(o, "globalQuerySide");
  c.global_key_side = IntField(o, "globalKeySide");
  c.local_side = IntField(o, "localSide");
  c.clip_grad = NumberField(o, "clipGrad");
  c.precision = ParseFloatDtype(StringField(o, "precision"));
  c.loss_scaling = OptionalBoolField(o, "lossScaling").value_or(c.precision == c10::kHalf);
  c.accum_iter = IntField(o, "accumIter");
  c.device = ParseDevice(StringField(o, "device"));
  if (auto seed = OptionalIntField(o, "seed")) c.seed = static_cast<uint64_t>(*seed);
  c.side_by_side = OptionalBoolField(o, "sideBySide").value_or(false);
  if (auto communicator = OptionalField(o, "communicator"))
    c.communicator = CommunicatorFrom(o.Env(), *communicator, "training options.communicator");
  return c;
}

class SereStep : public Napi::ObjectWrap<SereStep> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "SereStep",
        {InstanceMethod<&SereStep::Run>("run"), InstanceMethod<&SereStep::State>("state"),
         InstanceMethod<&SereStep::Centres>("centres"), InstanceMethod<&SereStep::Save>("save"),
         InstanceMethod<&SereStep::Restore>("restore"), InstanceMethod<&SereStep::LoadNetworks>("loadNetworks"),
         InstanceMethod<&SereStep::ParameterGroups>("parameterGroups"), InstanceMethod<&SereStep::Dispose>("dispose")});
  }

  explicit SereStep(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SereStep>(info) {
    Napi::Env env = info.Env();
    Guard(env, [&] {
      Napi::Object o = ObjectArg(info, 0, "training options");
      training_.Set(std::make_shared<Training>(StepConfigFrom(o)));
    });
  }

 private:
  std::shared_ptr<Training> Get(Napi::Env env) {
    auto* t = training_.Get();
    if (!t) throw Napi::Error::New(env, "this training state was disposed");
    return *t;
  }

  // run({ globalViews, localViews?, masks, globalRecords, localRecords? }, { lr, weightDecay, momentum, teacherTemp,
  //      teacherPatchTemp, freezeLastLayer }) -> Promise<result>
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      Napi::Object b = ObjectArg(info, 0, "batch");
      train::StepBatch batch;
      batch.global_views = TensorField(b, "globalViews");
      batch.local_views = OptionalTensorField(b, "localViews").value_or(at::Tensor());
      batch.masks = TensorField(b, "masks");
      batch.global_records = TensorField(b, "globalRecords");
      batch.local_records = OptionalTensorField(b, "localRecords").value_or(at::Tensor());
      Napi::Object s = ObjectArg(info, 1, "schedule");
      train::StepSchedule schedule;
      schedule.lr = NumberField(s, "lr");
      schedule.weight_decay = NumberField(s, "weightDecay");
      schedule.momentum = NumberField(s, "momentum");
      schedule.teacher_temp = NumberField(s, "teacherTemp");
      schedule.teacher_patch_temp = NumberField(s, "teacherPatchTemp");
      schedule.freeze_last_layer = BoolField(s, "freezeLastLayer");
      schedule.stop = OptionalBoolField(s, "stop").value_or(false);
      schedule.starts_round = OptionalBoolField(s, "startsRound");
      schedule.ends_round = OptionalBoolField(s, "endsRound");
      return RunAsync(env,
                      [training, batch, schedule]() -> Finish {
                        std::lock_guard<std::mutex> lock(training->mutex);
                        auto r = training->step.Run(batch, schedule);
                        return [r](Napi::Env env) -> Napi::Value {
                          Napi::Object out = Napi::Object::New(env);
                          out.Set("total", r.total);
                          out.Set("ibot", r.ibot);
                          out.Set("cls", r.cls);
                          out.Set("mim", r.mim);
                          out.Set("spatial", r.spatial);
                          out.Set("channel", r.channel);
                          out.Set("clsEntropy", r.cls_entropy);
                          out.Set("clsKl", r.cls_kl);
                          out.Set("stepped", r.stepped);
                          out.Set("skipped", r.skipped);
                          out.Set("lossScale", r.loss_scale);
                          out.Set("stop", r.stop);
                          out.Set("forwardSeconds", r.forward_seconds);
                          out.Set("backwardSeconds", r.backward_seconds);
                          out.Set("updateSeconds", r.update_seconds);
                          return out;
                        };
                      })
          .As<Napi::Value>();
    });
  }

  // state("student" | "teacher"): Promise of the network's [name, Tensor] pairs (detached copies).
  Napi::Value State(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      bool teacher = StringArg(info, 0, "state(which): which") == "teacher";
      return RunAsync(env,
                      [training, teacher]() -> Finish {
                        std::lock_guard<std::mutex> lock(training->mutex);
                        auto entries = (teacher ? training->step.teacher : training->step.student)->state();
                        for (auto& e : entries) e.second = e.second.detach().clone();
                        return [entries](Napi::Env env) { return EntriesToJs(env, entries).As<Napi::Value>(); };
                      })
          .As<Napi::Value>();
    });
  }

  // centres(): Promise of copies of the objective's two centres.
  Napi::Value Centres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      return RunAsync(env,
                      [training]() -> Finish {
                        std::lock_guard<std::mutex> lock(training->mutex);
                        return CentresToJs(training->step.objective);
                      })
          .As<Napi::Value>();
    });
  }

  // save(path, extra: { [key]: number | string }): Promise<void>; a torch.save-compatible checkpoint.
  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      if (!info[0].IsString()) throw Napi::TypeError::New(env, "save(path, extra): path must be a string");
      std::string path = info[0].As<Napi::String>().Utf8Value();
      auto extra = CheckpointExtrasFrom(env, ObjectArg(info, 1, "checkpoint extras"));
      return RunAsync(env,
                      [training, path, extra]() -> Finish {
                        std::lock_guard<std::mutex> lock(training->mutex);
                        train::SaveCheckpoint(path, training->step, extra);
                        return [](Napi::Env env) { return env.Undefined(); };
                      })
          .As<Napi::Value>();
    });
  }

  // restore({ student, teacher, optimizer, centre, patchCentre, lossScale, goodSteps, iteration, cpuGenerator? }):
  // Promise<void>
  Napi::Value Restore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      Napi::Object o = ObjectArg(info, 0, "training state");
      train::TrainingState state;
      state.student = EntriesFromJs(env, Field(o, "student"));
      state.teacher = EntriesFromJs(env, Field(o, "teacher"));
      state.optimizer = EntriesFromJs(env, Field(o, "optimizer"));
      state.centre = TensorField(o, "centre");
      state.patch_centre = TensorField(o, "patchCentre");
      state.loss_scale = NumberField(o, "lossScale");
      state.good_steps = IntField(o, "goodSteps");
      state.iteration = IntField(o, "iteration");
      state.cpu_generator = OptionalTensorField(o, "cpuGenerator").value_or(at::Tensor());
      return RunAsync(env,
                      [training, state]() -> Finish {
                        std::lock_guard<std::mutex> lock(training->mutex);
                        train::RestoreTrainingState(training->step, state);
                        return [](Napi::Env env) { return env.Undefined(); };
                      })
          .As<Napi::Value>();
    });
  }

  // loadNetworks(student, teacher): Promise<void>; every parameter and buffer of both networks
  // (src/train/pretrained.ts merges a file's weights with the initial ones), before the first step.
  Napi::Value LoadNetworks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      auto student = EntriesFromJs(env, info[0]);
      auto teacher = EntriesFromJs(env, info[1]);
      return RunAsync(env,
                      [training, student, teacher]() -> Finish {
                        std::lock_guard<std::mutex> lock(training->mutex);
                        training->step.student->load_state(student);
                        training->step.teacher->load_state(teacher);
                        return [](Napi::Env env) { return env.Undefined(); };
                      })
          .As<Napi::Value>();
    });
  }

  // parameterGroups(): the names in the optimiser's two groups (regularised, not).
  Napi::Value ParameterGroups(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto training = Get(env);
      auto groups = train::ParameterGroups(training->step.student);
      Napi::Array out = Napi::Array::New(env, groups.size());
      for (size_t g = 0; g < groups.size(); ++g) {
        Napi::Array names = Napi::Array::New(env, groups[g].size());
        for (size_t i = 0; i < groups[g].size(); ++i) names.Set(i, groups[g][i].first);
        out.Set(g, names);
      }
      return out.As<Napi::Value>();
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    training_.Release();
    return info.Env().Undefined();
  }

  Owned<std::shared_ptr<Training>> training_;
};

}  // namespace

void RegisterTrain(Napi::Env env, Napi::Object exports) { exports.Set("SereStep", SereStep::Define(env)); }

}  // namespace sere::binding
