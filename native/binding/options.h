#pragma once
// The binding's one set of argument readers. TypeScript validates every value first (zod
// schemas, shape checks) and hands over complete objects, so the checks here only guard
// against misuse of the native surface itself: a missing field is an error, never a default.
//
// One style throughout:
//   XField(object, key)          a required field of an options object
//   OptionalXField(object, key)  std::nullopt when the field is absent or undefined
//   XArg(info, index, what)      a positional argument; `what` names it in errors
//   AsX(value, what)             one value (an array element, say)
#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "binding/tensor.h"

namespace sere::binding {

// One value.
inline Napi::Object AsObject(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), what + " must be an object");
  return v.As<Napi::Object>();
}
inline double AsNumber(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
inline int64_t AsInt(const Napi::Value& v, const std::string& what) { return static_cast<int64_t>(AsNumber(v, what)); }
inline bool AsBool(const Napi::Value& v, const std::string& what) {
  if (!v.IsBoolean()) throw Napi::TypeError::New(v.Env(), what + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}
inline std::string AsString(const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}
inline at::Tensor AsTensor(const Napi::Value& v, const std::string& what) {
  return Tensor::From(v.Env(), v, what.c_str());
}
template <class T>
std::vector<T> AsNumbers(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), what + " must be an array of numbers");
  Napi::Array array = v.As<Napi::Array>();
  std::vector<T> out;
  for (uint32_t i = 0; i < array.Length(); ++i)
    out.push_back(static_cast<T>(AsNumber(array.Get(i), what + "[" + std::to_string(i) + "]")));
  return out;
}

// Fields of an options object.
inline std::string FieldName(const char* key) { return std::string("option `") + key + "`"; }
inline Napi::Value Field(const Napi::Object& options, const char* key) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) throw Napi::TypeError::New(options.Env(), FieldName(key) + " is required");
  return v;
}
inline std::optional<Napi::Value> OptionalField(const Napi::Object& options, const char* key) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return std::nullopt;
  return v;
}
inline double NumberField(const Napi::Object& o, const char* key) { return AsNumber(Field(o, key), FieldName(key)); }
inline int64_t IntField(const Napi::Object& o, const char* key) { return AsInt(Field(o, key), FieldName(key)); }
inline bool BoolField(const Napi::Object& o, const char* key) { return AsBool(Field(o, key), FieldName(key)); }
inline std::string StringField(const Napi::Object& o, const char* key) {
  return AsString(Field(o, key), FieldName(key));
}
inline Napi::Object ObjectField(const Napi::Object& o, const char* key) {
  return AsObject(Field(o, key), FieldName(key));
}
inline at::Tensor TensorField(const Napi::Object& o, const char* key) { return AsTensor(Field(o, key), key); }
template <class T>
std::vector<T> NumbersField(const Napi::Object& o, const char* key) {
  return AsNumbers<T>(Field(o, key), FieldName(key));
}

inline std::optional<int64_t> OptionalIntField(const Napi::Object& o, const char* key) {
  if (auto v = OptionalField(o, key)) return AsInt(*v, FieldName(key));
  return std::nullopt;
}
inline std::optional<bool> OptionalBoolField(const Napi::Object& o, const char* key) {
  if (auto v = OptionalField(o, key)) return AsBool(*v, FieldName(key));
  return std::nullopt;
}
inline std::optional<at::Tensor> OptionalTensorField(const Napi::Object& o, const char* key) {
  if (auto v = OptionalField(o, key)) return AsTensor(*v, key);
  return std::nullopt;
}

// Positional arguments.
inline Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return AsObject(info[i], what);
}
inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* what) { return AsNumber(info[i], what); }
inline int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* what) { return AsInt(info[i], what); }
inline bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* what) { return AsBool(info[i], what); }
inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return AsString(info[i], what);
}
inline at::Tensor TensorArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return AsTensor(info[i], what);
}

}  // namespace sere::binding
