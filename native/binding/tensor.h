#pragma once
// `Tensor`: a JS handle to a LibTorch tensor, for data that JS hands in or reads back.
#include <ATen/ATen.h>
#include <napi.h>

#include "binding/live_objects.h"

namespace sere::binding {

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static Napi::Function Define(Napi::Env env);
  // A new JS Tensor that owns `tensor`.
  static Napi::Object New(Napi::Env env, at::Tensor tensor);
  // The tensor behind a JS Tensor argument; throws a TypeError naming `what` otherwise.
  static at::Tensor From(Napi::Env env, Napi::Value value, const char* what);

  // new Tensor(data: TypedArray, shape: number[]); with no arguments an empty handle (internal).
  explicit Tensor(const Napi::CallbackInfo& info);

  // A Tensor collected without dispose() gives its memory back to V8's account.
  void Finalize(Napi::BasicEnv env) override;

 private:
  // Takes `tensor` and tells V8 the native memory it holds, so that V8 collects forgotten
  // Tensors when they hold much (a small JS object can stand for gigabytes).
  void Hold(Napi::BasicEnv env, at::Tensor tensor);
  // Frees the tensor (if held) and takes its bytes off V8's account.
  void Drop(Napi::BasicEnv env);
  at::Tensor& Get(Napi::Env env);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value Transpose(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  Owned<at::Tensor> tensor_;
  int64_t external_bytes_ = 0;  // what V8 was told this Tensor holds
};

}  // namespace sere::binding
