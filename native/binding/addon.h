#pragma once
#include <napi.h>

namespace sere::binding {

// Per-environment state: constructors of the classes native code instantiates.
struct AddonData {
  Napi::FunctionReference tensor_class;
  Napi::FunctionReference communicator_class;
};

inline AddonData& DataOf(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// Each file of the binding registers its exports here.
void RegisterInfo(Napi::Env env, Napi::Object exports);
void RegisterTensor(Napi::Env env, Napi::Object exports);
void RegisterModel(Napi::Env env, Napi::Object exports);
void RegisterEval(Napi::Env env, Napi::Object exports);
void RegisterTrain(Napi::Env env, Napi::Object exports);
void RegisterObjective(Napi::Env env, Napi::Object exports);
void RegisterAugment(Napi::Env env, Napi::Object exports);
void RegisterDistributed(Napi::Env env, Napi::Object exports);
void RegisterFiles(Napi::Env env, Napi::Object exports);

}  // namespace sere::binding
