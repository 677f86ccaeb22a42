#pragma once
// Reading fields of an options object that TypeScript has already validated (zod);
// the checks here only guard against misuse of the native surface itself.
#include <napi.h>

#include <string>

namespace sere::binding {

inline Napi::Value Field(const Napi::Object& options, const char* key) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) throw Napi::TypeError::New(options.Env(), std::string("option `") + key + "` is required");
  return v;
}
inline double NumberField(const Napi::Object& options, const char* key) {
  Napi::Value v = Field(options, key);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("option `") + key + "` must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
inline int64_t IntField(const Napi::Object& options, const char* key) {
  return static_cast<int64_t>(NumberField(options, key));
}
inline bool BoolField(const Napi::Object& options, const char* key) {
  Napi::Value v = Field(options, key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(options.Env(), std::string("option `") + key + "` must be a boolean");
  return v.As<Napi::Boolean>().Value();
}
inline std::string StringField(const Napi::Object& options, const char* key) {
  Napi::Value v = Field(options, key);
  if (!v.IsString()) throw Napi::TypeError::New(options.Env(), std::string("option `") + key + "` must be a string");
  return v.As<Napi::String>().Utf8Value();
}
inline Napi::Object ObjectField(const Napi::Object& options, const char* key) {
  Napi::Value v = Field(options, key);
  if (!v.IsObject()) throw Napi::TypeError::New(options.Env(), std::string("option `") + key + "` must be an object");
  return v.As<Napi::Object>();
}
inline Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

}  // namespace sere::binding
