#include "binding/tensor.h"

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/options.h"
#include "binding/typed_arrays.h"

namespace sere::binding {

Napi::Function Tensor::Define(Napi::Env env) {
  return DefineClass(env, "Tensor",
                     {InstanceMethod<&Tensor::Shape>("shape"), InstanceMethod<&Tensor::Dtype>("dtype"),
                      InstanceMethod<&Tensor::Device>("device"), InstanceMethod<&Tensor::ToArray>("toArray"),
                      InstanceMethod<&Tensor::Bytes>("bytes"), InstanceMethod<&Tensor::Reshape>("reshape"),
                      InstanceMethod<&Tensor::Transpose>("transpose"), InstanceMethod<&Tensor::Dispose>("dispose"),
                      InstanceMethod<&Tensor::Disposed>("isDisposed")});
}

Napi::Object Tensor::New(Napi::Env env, at::Tensor tensor) {
  Napi::Object object = DataOf(env).tensor_class.New({});
  Unwrap(object)->Hold(env, std::move(tensor));
  return object;
}

at::Tensor Tensor::From(Napi::Env env, Napi::Value value, const char* what) {
  Napi::Function cls = DataOf(env).tensor_class.Value();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(cls))
    throw Napi::TypeError::New(env, std::string(what) + " must be a Tensor");
  return Unwrap(value.As<Napi::Object>())->Get(env);
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {
  Napi::Env env = info.Env();
  if (info.Length() == 0) return;
  Guard(env, [&] { Hold(env, TensorFromTypedArray(env, info[0], ShapeFrom(env, info[1]))); });
}

void Tensor::Hold(Napi::BasicEnv env, at::Tensor tensor) {
  Drop(env);
  // Its own bytes: Tensors sharing memory (views, state()) are counted each, which only hastens collection.
  const int64_t bytes = tensor.defined() ? static_cast<int64_t>(tensor.nbytes()) : 0;
  tensor_.Set(std::move(tensor));
  if (bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  external_bytes_ = bytes;
}

void Tensor::Drop(Napi::BasicEnv env) {
  tensor_.Release();
  if (external_bytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -external_bytes_);
  external_bytes_ = 0;
}

void Tensor::Finalize(Napi::BasicEnv env) { Drop(env); }

at::Tensor& Tensor::Get(Napi::Env env) {
  at::Tensor* t = tensor_.Get();
  if (!t) throw Napi::Error::New(env, "this Tensor was disposed; it cannot be used any more");
  return *t;
}

Napi::Value Tensor::Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto sizes = Get(env).sizes();
  Napi::Array out = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) out.Set(i, static_cast<double>(sizes[i]));
  return out;
}

Napi::Value Tensor::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Get(info.Env()).scalar_type()));
}

Napi::Value Tensor::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), Get(info.Env()).device().str());
}

Napi::Value Tensor::ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] { return TypedArrayFromTensor(env, Get(env)); });
}

// bytes(): the elements as they lie in memory (row-major, little-endian on the machines
// LibTorch runs on), in the tensor's own dtype: half precision stays two bytes an element.
Napi::Value Tensor::Bytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor t = Get(env).to(at::kCPU).contiguous();
    return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(t.data_ptr()), t.nbytes()).As<Napi::Value>();
  });
}

Napi::Value Tensor::Reshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] { return New(env, Get(env).reshape(ShapeFrom(env, info[0])).clone()).As<Napi::Value>(); });
}

Napi::Value Tensor::Transpose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    const int64_t dim0 = IntArg(info, 0, "transpose(dim0, dim1): dim0");
    const int64_t dim1 = IntArg(info, 1, "transpose(dim0, dim1): dim1");
    return New(env, Get(env).transpose(dim0, dim1)).As<Napi::Value>();
  });
}

Napi::Value Tensor::Dispose(const Napi::CallbackInfo& info) {
  Drop(info.Env());
  return info.Env().Undefined();
}

Napi::Value Tensor::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !tensor_.Held()); }

namespace {

// matmul(a, b): Promise<Tensor>, computed off the JS thread.
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor a = TensorArg(info, 0, "matmul: a");
    at::Tensor b = TensorArg(info, 1, "matmul: b");
    return RunAsync(env,
                    [a, b]() -> Finish {
                      at::Tensor product = at::matmul(a, b);
                      return [product](Napi::Env env) { return Tensor::New(env, product); };
                    })
        .As<Napi::Value>();
  });
}

}  // namespace

void RegisterTensor(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Tensor::Define(env);
  DataOf(env).tensor_class = Napi::Persistent(cls);
  exports.Set("Tensor", cls);
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
}

}  // namespace sere::binding
