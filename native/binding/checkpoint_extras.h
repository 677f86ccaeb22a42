#pragma once
// The values a caller stores beside a checkpoint's state ({ epoch: 3, config: "{...}" }):
// numbers (integers stay integers) and strings, as torch.save's types.
#include <ATen/core/Dict.h>
#include <napi.h>

#include <string>

namespace sere::binding {

inline c10::impl::GenericDict CheckpointExtrasFrom(Napi::Env env, const Napi::Object& o) {
  c10::impl::GenericDict extra(c10::StringType::get(), c10::AnyType::get());
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value v = o.Get(key);
    if (v.IsString()) {
      extra.insert(key, v.As<Napi::String>().Utf8Value());
    } else if (v.IsNumber()) {
      double d = v.As<Napi::Number>().DoubleValue();
      if (d == static_cast<double>(static_cast<int64_t>(d))) {
        extra.insert(key, static_cast<int64_t>(d));
      } else {
        extra.insert(key, d);
      }
    } else {
      throw Napi::TypeError::New(env, "checkpoint extra `" + key + "` must be a number or a string");
    }
  }
  return extra;
}

}  // namespace sere::binding
