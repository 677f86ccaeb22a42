// The SERE objective's exports: overlap grids, relations and their sampling, and the
// SereObjective class (losses, gradients for checks, centres). Conversion only; the
// objective itself lives in native/objective/.
#include <ATen/core/grad_mode.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/live_objects.h"
#include "binding/objective_options.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "objective/grids.h"
#include "objective/relations.h"
#include "objective/sere_objective.h"

namespace sere::binding {
namespace {

namespace obj = sere::objective;

// A tensor computed off the JS thread, resolved as a Tensor.
Napi::Value AsyncTensor(Napi::Env env, std::function<at::Tensor()> compute) {
  return RunAsync(env, [compute = std::move(compute)]() -> Finish {
    at::Tensor result = compute();
    return [result](Napi::Env env) { return Tensor::New(env, result); };
  });
}

Napi::Object GridsToJs(Napi::Env env, const obj::SereGrids& g) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("globalQueryAxis", Tensor::New(env, g.global_query_axis));
  out.Set("globalKeyAxis", Tensor::New(env, g.global_key_axis));
  out.Set("globalToLocal", Tensor::New(env, g.global_to_local));
  out.Set("localToGlobal", Tensor::New(env, g.local_to_global));
  return out;
}

obj::SereGrids GridsFromJs(Napi::Object g) {
  return {TensorField(g, "globalQueryAxis"), TensorField(g, "globalKeyAxis"), TensorField(g, "globalToLocal"),
          TensorField(g, "localToGlobal")};
}

// overlapGrids(queryRecords (M, 5), keyRecords (M, 5), side) -> { query, key }
Napi::Value OverlapGrids(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto pair = obj::OverlapGrids(TensorArg(info, 0, "queryRecords"), TensorArg(info, 1, "keyRecords"),
                                  IntArg(info, 2, "side"));
    Napi::Object out = Napi::Object::New(env);
    out.Set("query", Tensor::New(env, pair.query));
    out.Set("key", Tensor::New(env, pair.key));
    return out.As<Napi::Value>();
  });
}

// sereGrids(records (B, 2 + V_l, 5), globalQuerySide, globalKeySide, localSide) -> grids
Napi::Value SereGrids(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto grids = obj::BuildSereGrids(TensorArg(info, 0, "records"), IntArg(info, 1, "globalQuerySide"),
                                     IntArg(info, 2, "globalKeySide"), IntArg(info, 3, "localSide"));
    return GridsToJs(env, grids).As<Napi::Value>();
  });
}

// channelRelation(x, scale | undefined), spatialRelation(x, heads), sampleMap(map, grid),
// sampleRelation(relation, queryGrid, keyGrid): Promise<Tensor>
Napi::Value ChannelRelation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor x = TensorArg(info, 0, "x");
    if (info[1].IsUndefined()) return AsyncTensor(env, [x] { return obj::ChannelRelation(x); });
    double scale = NumberArg(info, 1, "scale");
    return AsyncTensor(env, [x, scale] { return obj::ChannelRelation(x, scale); });
  });
}

Napi::Value SpatialRelation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor x = TensorArg(info, 0, "x");
    int64_t heads = IntArg(info, 1, "heads");
    return AsyncTensor(env, [x, heads] { return obj::SpatialRelation(x, heads); });
  });
}

Napi::Value SampleMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor map = TensorArg(info, 0, "map"), grid = TensorArg(info, 1, "grid");
    return AsyncTensor(env, [map, grid] { return obj::SampleMap(map, grid); });
  });
}

Napi::Value SampleRelation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor r = TensorArg(info, 0, "relation");
    at::Tensor q = TensorArg(info, 1, "queryGrid"), k = TensorArg(info, 2, "keyGrid");
    return AsyncTensor(env, [r, q, k] { return obj::SampleRelation(r, q, k).contiguous(); });
  });
}

// The student's inputs, by their JS names: gradients come back under the same names.
std::vector<std::pair<const char*, at::Tensor*>> StudentInputs(obj::SereInputs& in) {
  return {{"studentCls", &in.student_cls},
          {"studentPatch", &in.student_patch},
          {"studentChannel", &in.student_channel},
          {"studentSpatial", &in.student_spatial},
          {"studentLocalChannel", &in.student_local_channel},
          {"studentLocalSpatial", &in.student_local_spatial}};
}

obj::SereInputs InputsFromJs(Napi::Object o) {
  obj::SereInputs in;
  in.teacher_cls = TensorField(o, "teacherCls");
  in.teacher_patch = TensorField(o, "teacherPatch");
  in.teacher_channel = TensorField(o, "teacherChannel");
  in.teacher_spatial = TensorField(o, "teacherSpatial");
  for (auto& [name, tensor] : StudentInputs(in)) *tensor = TensorField(o, name);
  in.masks = TensorField(o, "masks");
  in.grids = GridsFromJs(ObjectField(o, "grids"));
  return in;
}

// The objective and a lock: JS may start a compute while another runs on a worker
// thread, and the centres are state that both may read or write.
struct LockedObjective {
  explicit LockedObjective(const obj::SereObjectiveOptions& options) : objective(options) {}
  obj::SereObjective objective;
  std::mutex mutex;
};

// class SereObjective: the objective with its centres, held for JS.
class Objective : public Napi::ObjectWrap<Objective> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "SereObjective",
        {InstanceMethod<&Objective::Compute>("compute"), InstanceMethod<&Objective::UpdateCentres>("updateCentres"),
         InstanceMethod<&Objective::Centres>("centres"), InstanceMethod<&Objective::SetCentres>("setCentres"),
         InstanceMethod<&Objective::Dispose>("dispose")});
  }

  explicit Objective(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Objective>(info) {
    Napi::Env env = info.Env();
    Guard(env, [&] {
      objective_.Set(std::make_shared<LockedObjective>(ObjectiveOptionsFrom(ObjectArg(info, 0, "objective options"))));
    });
  }

  // testing.computeTermByTerm(objective, inputs, settings): compute() with the losses term by
  // term, as the method writes them (slow; it checks and benchmarks the batched form).
  static Napi::Value ComputeTermByTerm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto* objective =
          UnwrapInstance<Objective>(env, info[0], DataOf(env).objective_class,
                                    "computeTermByTerm(objective, ...): objective must be a SereObjective");
      return objective->Compute(env, ObjectArg(info, 1, "inputs"), ObjectArg(info, 2, "settings"),
                                /*term_by_term=*/true);
    });
  }

 private:
  std::shared_ptr<LockedObjective> Get(Napi::Env env) {
    auto* held = objective_.Get();
    if (!held) throw Napi::Error::New(env, "this SereObjective was disposed; it cannot be used any more");
    return *held;
  }

  // compute(inputs, { teacherTemp, teacherPatchTemp, requiresGrad, updateCentres })
  //   -> Promise<{ total, ibot, cls, mim, spatial, channel, clsEntropy, grads? }>
  Napi::Value Compute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env,
                 [&] { return Compute(env, ObjectArg(info, 0, "inputs"), ObjectArg(info, 1, "settings"), false); });
  }

  // The losses (batched, or term by term when `loop`), with gradients and the centre update on request.
  Napi::Value Compute(Napi::Env env, const Napi::Object& inputs, const Napi::Object& s, bool loop) {
    obj::SereInputs in = InputsFromJs(inputs);
    obj::TeacherTemps temps{NumberField(s, "teacherTemp"), NumberField(s, "teacherPatchTemp")};
    bool grad = BoolField(s, "requiresGrad"), update = BoolField(s, "updateCentres");
    return RunAsync(env, [held = Get(env), in, temps, grad, update, loop]() mutable -> Finish {
      std::lock_guard<std::mutex> lock(held->mutex);
      obj::SereObjective* objective = &held->objective;
      auto student = StudentInputs(in);
      if (grad)
        for (auto& [name, t] : student) *t = t->detach().set_requires_grad(true);
      obj::SereLosses losses;
      {
        at::AutoGradMode grad_mode(grad);
        losses = loop ? objective->ComputeTermByTerm(in, temps) : objective->Compute(in, temps);
        if (grad) losses.total.backward();
      }
      std::vector<std::pair<std::string, at::Tensor>> grads;
      if (grad)
        for (auto& [name, t] : student)
          grads.emplace_back(name, t->grad().defined() ? t->grad() : at::zeros_like(*t));  // unused: zero
      if (update) {
        objective->AccumulateCentreSums(in.teacher_cls, in.teacher_patch);
        objective->UpdateCentres();
      }
      std::vector<std::pair<const char*, double>> values = {{"total", losses.total.item<double>()},
                                                            {"ibot", losses.ibot.item<double>()},
                                                            {"cls", losses.cls.item<double>()},
                                                            {"mim", losses.mim.item<double>()},
                                                            {"spatial", losses.spatial.item<double>()},
                                                            {"channel", losses.channel.item<double>()},
                                                            {"clsEntropy", losses.cls_target_entropy.item<double>()}};
      return [values, grads, grad](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        for (auto& [name, v] : values) out.Set(name, v);
        if (grad) {
          Napi::Object g = Napi::Object::New(env);
          for (auto& [name, t] : grads) g.Set(name, Tensor::New(env, t));
          out.Set("grads", g);
        }
        return out;
      };
    });
  }

  // updateCentres(teacherCls, teacherPatch): Promise<void>
  Napi::Value UpdateCentres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto held = Get(env);
      at::Tensor cls = TensorArg(info, 0, "teacherCls"), patch = TensorArg(info, 1, "teacherPatch");
      return RunAsync(env,
                      [held, cls, patch]() -> Finish {
                        std::lock_guard<std::mutex> lock(held->mutex);
                        held->objective.AccumulateCentreSums(cls, patch);
                        held->objective.UpdateCentres();
                        return [](Napi::Env env) { return env.Undefined(); };
                      })
          .As<Napi::Value>();
    });
  }

  // centres() -> { centre (1, K), patchCentre (1, 1, K) }: copies
  // centres(): Promise of copies of the two centres, after any running compute.
  Napi::Value Centres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto held = Get(env);
      return RunAsync(env,
                      [held]() -> Finish {
                        std::lock_guard<std::mutex> lock(held->mutex);
                        return CentresToJs(held->objective);
                      })
          .As<Napi::Value>();
    });
  }

  // setCentres(centre, patchCentre): Promise<void>, after any running compute.
  Napi::Value SetCentres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto held = Get(env);
      at::Tensor centre = TensorArg(info, 0, "centre"), patch_centre = TensorArg(info, 1, "patchCentre");
      return RunAsync(env,
                      [held, centre, patch_centre]() -> Finish {
                        std::lock_guard<std::mutex> lock(held->mutex);
                        held->objective.SetCentres(centre, patch_centre);
                        return [](Napi::Env env) { return env.Undefined(); };
                      })
          .As<Napi::Value>();
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    objective_.Release();
    return info.Env().Undefined();
  }

  Owned<std::shared_ptr<LockedObjective>> objective_;
};

}  // namespace

Finish CentresToJs(const objective::SereObjective& objective) {
  at::Tensor centre = objective.centre().clone(), patch_centre = objective.patch_centre().clone();
  return [centre, patch_centre](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("centre", Tensor::New(env, centre));
    out.Set("patchCentre", Tensor::New(env, patch_centre));
    return out;
  };
}

// The objective's options, complete: src/objective/options.ts defaults and validates them.
objective::SereObjectiveOptions ObjectiveOptionsFrom(const Napi::Object& o) {
  objective::SereObjectiveOptions options;
  options.out_dim = IntField(o, "outDim");
  options.student_temp = NumberField(o, "studentTemp");
  options.centre_momentum = NumberField(o, "centreMomentum");
  options.spatial_teacher_temp = NumberField(o, "spatialTeacherTemp");
  options.channel_teacher_temp = NumberField(o, "channelTeacherTemp");
  options.lambda1 = NumberField(o, "lambda1");
  options.lambda2 = NumberField(o, "lambda2");
  options.alpha = NumberField(o, "alpha");
  options.beta = NumberField(o, "beta");
  return options;
}

void RegisterObjective(Napi::Env env, Napi::Object exports) {
  exports.Set("overlapGrids", Napi::Function::New(env, OverlapGrids, "overlapGrids"));
  exports.Set("sereGrids", Napi::Function::New(env, SereGrids, "sereGrids"));
  exports.Set("channelRelation", Napi::Function::New(env, ChannelRelation, "channelRelation"));
  exports.Set("spatialRelation", Napi::Function::New(env, SpatialRelation, "spatialRelation"));
  exports.Set("sampleMap", Napi::Function::New(env, SampleMap, "sampleMap"));
  exports.Set("sampleRelation", Napi::Function::New(env, SampleRelation, "sampleRelation"));
  Napi::Function objective_class = Objective::Define(env);
  DataOf(env).objective_class = Napi::Persistent(objective_class);
  exports.Set("SereObjective", objective_class);
  TestingExports(env, exports)
      .Set("computeTermByTerm", Napi::Function::New(env, Objective::ComputeTermByTerm, "computeTermByTerm"));
}

}  // namespace sere::binding
