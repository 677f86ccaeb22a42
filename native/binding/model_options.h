#pragma once
// Conversions shared by the bindings that handle networks (model.cc, train.cc).
#include <napi.h>

#include "model/network.h"

namespace sere::binding {

// Architecture options resolved by src/model/options.ts -> the native config.
model::NetworkConfig NetworkConfigFrom(const Napi::Object& options);
// [name, Tensor] pairs <-> a state dict.
Napi::Array EntriesToJs(Napi::Env env, const model::NamedTensors& entries);
model::NamedTensors EntriesFromJs(Napi::Env env, Napi::Value value);

}  // namespace sere::binding
