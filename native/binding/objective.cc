// The SERE objective's exports: overlap grids, relations and their sampling, and the
// SereObjective class (losses, gradients for checks, centres). Conversion only; the
// objective itself lives in native/objective/.
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/live_objects.h"
#include "binding/tensor.h"
#include "objective/grids.h"
#include "objective/relations.h"
#include "objective/sere_objective.h"

namespace sere::binding {
namespace {

namespace obj = sere::objective;

at::Tensor TensorField(Napi::Env env, Napi::Object from, const char* name) {
  return Tensor::From(env, from.Get(name), name);
}

double NumberField(Napi::Env env, Napi::Object from, const char* name, double fallback) {
  Napi::Value v = from.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool BoolField(Napi::Object from, const char* name) { return from.Get(name).ToBoolean().Value(); }

Napi::Object ObjectArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsObject()) throw Napi::TypeError::New(env, std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

int64_t IntArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

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

obj::SereGrids GridsFromJs(Napi::Env env, Napi::Object g) {
  return {TensorField(env, g, "globalQueryAxis"), TensorField(env, g, "globalKeyAxis"),
          TensorField(env, g, "globalToLocal"), TensorField(env, g, "localToGlobal")};
}

// overlapGrids(queryRecords (M, 5), keyRecords (M, 5), side) -> { query, key }
Napi::Value OverlapGrids(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto pair = obj::OverlapGrids(Tensor::From(env, info[0], "queryRecords"), Tensor::From(env, info[1], "keyRecords"),
                                  IntArg(env, info, 2, "side"));
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
    auto grids = obj::BuildSereGrids(Tensor::From(env, info[0], "records"), IntArg(env, info, 1, "globalQuerySide"),
                                     IntArg(env, info, 2, "globalKeySide"), IntArg(env, info, 3, "localSide"));
    return GridsToJs(env, grids).As<Napi::Value>();
  });
}

// channelRelation(x, scale | undefined), spatialRelation(x, heads), sampleMap(map, grid),
// sampleRelation(relation, queryGrid, keyGrid): Promise<Tensor>
Napi::Value ChannelRelation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor x = Tensor::From(env, info[0], "x");
    if (info[1].IsUndefined()) return AsyncTensor(env, [x] { return obj::ChannelRelation(x); });
    double scale = info[1].ToNumber().DoubleValue();
    return AsyncTensor(env, [x, scale] { return obj::ChannelRelation(x, scale); });
  });
}

Napi::Value SpatialRelation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor x = Tensor::From(env, info[0], "x");
    int64_t heads = IntArg(env, info, 1, "heads");
    return AsyncTensor(env, [x, heads] { return obj::SpatialRelation(x, heads); });
  });
}

Napi::Value SampleMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor map = Tensor::From(env, info[0], "map"), grid = Tensor::From(env, info[1], "grid");
    return AsyncTensor(env, [map, grid] { return obj::SampleMap(map, grid); });
  });
}

Napi::Value SampleRelation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor r = Tensor::From(env, info[0], "relation");
    at::Tensor q = Tensor::From(env, info[1], "queryGrid"), k = Tensor::From(env, info[2], "keyGrid");
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

obj::SereInputs InputsFromJs(Napi::Env env, Napi::Object o) {
  obj::SereInputs in;
  in.teacher_cls = TensorField(env, o, "teacherCls");
  in.teacher_patch = TensorField(env, o, "teacherPatch");
  in.teacher_channel = TensorField(env, o, "teacherChannel");
  in.teacher_spatial = TensorField(env, o, "teacherSpatial");
  for (auto& [name, tensor] : StudentInputs(in)) *tensor = TensorField(env, o, name);
  in.masks = TensorField(env, o, "masks");
  if (!o.Get("grids").IsObject()) throw Napi::TypeError::New(env, "grids must be an object of Tensors");
  in.grids = GridsFromJs(env, o.Get("grids").As<Napi::Object>());
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
    return DefineClass(env, "SereObjective",
                       {InstanceMethod<&Objective::Compute>("compute"),
                        InstanceMethod<&Objective::UpdateCentres>("updateCentres"),
                        InstanceMethod<&Objective::Centres>("centres"),
                        InstanceMethod<&Objective::SetCentres>("setCentres"),
                        InstanceMethod<&Objective::Dispose>("dispose")});
  }

  explicit Objective(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Objective>(info) {
    Napi::Env env = info.Env();
    Guard(env, [&] {
      Napi::Object o = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
      obj::SereObjectiveOptions d;
      obj::SereObjectiveOptions options{
          static_cast<int64_t>(NumberField(env, o, "outDim", static_cast<double>(d.out_dim))),
          NumberField(env, o, "studentTemp", d.student_temp),
          NumberField(env, o, "centreMomentum", d.centre_momentum),
          NumberField(env, o, "spatialTeacherTemp", d.spatial_teacher_temp),
          NumberField(env, o, "channelTeacherTemp", d.channel_teacher_temp),
          NumberField(env, o, "lambda1", d.lambda1),
          NumberField(env, o, "lambda2", d.lambda2),
          NumberField(env, o, "alpha", d.alpha),
          NumberField(env, o, "beta", d.beta)};
      objective_.Set(std::make_shared<LockedObjective>(options));
    });
  }

 private:
  std::shared_ptr<LockedObjective> Get(Napi::Env env) {
    auto* held = objective_.Get();
    if (!held) throw Napi::Error::New(env, "this SereObjective was disposed; it cannot be used any more");
    return *held;
  }

  // compute(inputs, { teacherTemp, teacherPatchTemp, requiresGrad, updateCentres, termByTerm })
  //   -> Promise<{ total, ibot, cls, mim, spatial, channel, clsEntropy, grads? }>
  Napi::Value Compute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      obj::SereInputs in = InputsFromJs(env, ObjectArg(env, info, 0, "inputs"));
      Napi::Object s = ObjectArg(env, info, 1, "settings");
      obj::TeacherTemps temps{NumberField(env, s, "teacherTemp", 0.04), NumberField(env, s, "teacherPatchTemp", 0.04)};
      bool grad = BoolField(s, "requiresGrad"), update = BoolField(s, "updateCentres");
      bool loop = BoolField(s, "termByTerm");
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
        std::vector<std::pair<const char*, double>> values = {
            {"total", losses.total.item<double>()}, {"ibot", losses.ibot.item<double>()},
            {"cls", losses.cls.item<double>()},     {"mim", losses.mim.item<double>()},
            {"spatial", losses.spatial.item<double>()}, {"channel", losses.channel.item<double>()},
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
    });
  }

  // updateCentres(teacherCls, teacherPatch): Promise<void>
  Napi::Value UpdateCentres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto held = Get(env);
      at::Tensor cls = Tensor::From(env, info[0], "teacherCls"), patch = Tensor::From(env, info[1], "teacherPatch");
      return RunAsync(env, [held, cls, patch]() -> Finish {
               std::lock_guard<std::mutex> lock(held->mutex);
               held->objective.AccumulateCentreSums(cls, patch);
               held->objective.UpdateCentres();
               return [](Napi::Env env) { return env.Undefined(); };
             })
          .As<Napi::Value>();
    });
  }

  // centres() -> { centre (1, K), patchCentre (1, 1, K) }: copies
  Napi::Value Centres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto held = Get(env);
      std::lock_guard<std::mutex> lock(held->mutex);  // waits for a running compute
      Napi::Object out = Napi::Object::New(env);
      out.Set("centre", Tensor::New(env, held->objective.centre().clone()));
      out.Set("patchCentre", Tensor::New(env, held->objective.patch_centre().clone()));
      return out.As<Napi::Value>();
    });
  }

  Napi::Value SetCentres(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      auto held = Get(env);
      std::lock_guard<std::mutex> lock(held->mutex);
      held->objective.SetCentres(Tensor::From(env, info[0], "centre"), Tensor::From(env, info[1], "patchCentre"));
      return env.Undefined();
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    objective_.Release();
    return info.Env().Undefined();
  }

  Owned<std::shared_ptr<LockedObjective>> objective_;
};

}  // namespace

void RegisterObjective(Napi::Env env, Napi::Object exports) {
  exports.Set("overlapGrids", Napi::Function::New(env, OverlapGrids, "overlapGrids"));
  exports.Set("sereGrids", Napi::Function::New(env, SereGrids, "sereGrids"));
  exports.Set("channelRelation", Napi::Function::New(env, ChannelRelation, "channelRelation"));
  exports.Set("spatialRelation", Napi::Function::New(env, SpatialRelation, "spatialRelation"));
  exports.Set("sampleMap", Napi::Function::New(env, SampleMap, "sampleMap"));
  exports.Set("sampleRelation", Napi::Function::New(env, SampleRelation, "sampleRelation"));
  exports.Set("SereObjective", Objective::Define(env));
}

}  // namespace sere::binding
