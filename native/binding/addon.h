#pragma once
#include <napi.h>

#include <string>

namespace sere::binding {

// Per-environment state: constructors of the classes native code instantiates or recognises.
struct AddonData {
  Napi::FunctionReference tensor_class;
  Napi::FunctionReference communicator_class;
  Napi::FunctionReference model_class;
  Napi::FunctionReference objective_class;
  Napi::FunctionReference pth_archive_class;
};

inline AddonData& DataOf(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// `exports.testing`: what only checks and benchmarks call (another code path for the same
// result, a measurement, one kernel in isolation), kept apart from the library's surface.
inline Napi::Object TestingExports(Napi::Env env, Napi::Object exports) {
  Napi::Value testing = exports.Get("testing");
  if (testing.IsObject()) return testing.As<Napi::Object>();
  Napi::Object created = Napi::Object::New(env);
  exports.Set("testing", created);
  return created;
}

// The C++ object behind a JS instance of `cls`; throws a TypeError naming `what` otherwise.
template <class Wrapped>
Wrapped* UnwrapInstance(Napi::Env env, Napi::Value value, const Napi::FunctionReference& cls, const std::string& what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(cls.Value())) throw Napi::TypeError::New(env, what);
  return Wrapped::Unwrap(value.As<Napi::Object>());
}

// Each file of the binding registers its exports here.
void RegisterInfo(Napi::Env env, Napi::Object exports);
void RegisterTensor(Napi::Env env, Napi::Object exports);
void RegisterModel(Napi::Env env, Napi::Object exports);
void RegisterEval(Napi::Env env, Napi::Object exports);
void RegisterTrain(Napi::Env env, Napi::Object exports);
void RegisterFinetune(Napi::Env env, Napi::Object exports);
void RegisterObjective(Napi::Env env, Napi::Object exports);
void RegisterAugment(Napi::Env env, Napi::Object exports);
void RegisterDistributed(Napi::Env env, Napi::Object exports);
void RegisterFiles(Napi::Env env, Napi::Object exports);

}  // namespace sere::binding
