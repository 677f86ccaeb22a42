#include "binding/typed_arrays.h"

#include <cstring>
#include <string>

namespace sere::binding {

std::vector<int64_t> ShapeFrom(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "shape must be an array of non-negative integers");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d)))
      throw Napi::TypeError::New(env, "shape[" + std::to_string(i) + "] must be a non-negative integer");
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

at::Tensor TensorFromTypedArray(Napi::Env env, Napi::Value value, const std::vector<int64_t>& shape) {
  if (!value.IsTypedArray()) throw Napi::TypeError::New(env, "data must be a typed array (e.g. Float32Array)");
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  at::ScalarType dtype;
  switch (array.TypedArrayType()) {
    case napi_float32_array:
      dtype = at::kFloat;
      break;
    case napi_float64_array:
      dtype = at::kDouble;
      break;
    case napi_int32_array:
      dtype = at::kInt;
      break;
    case napi_bigint64_array:
      dtype = at::kLong;
      break;
    case napi_uint8_array:
      dtype = at::kByte;
      break;
    case napi_int8_array:
      dtype = at::kChar;
      break;
    default:
      throw Napi::TypeError::New(env,
                                 "unsupported typed array: use Float32Array, Float64Array, Int32Array, BigInt64Array, "
                                 "Uint8Array or Int8Array");
  }
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel != static_cast<int64_t>(array.ElementLength()))
    throw Napi::RangeError::New(env, "data has " + std::to_string(array.ElementLength()) + " elements but shape " +
                                         c10::str(c10::IntArrayRef(shape)) + " needs " + std::to_string(numel));
  auto* bytes = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (numel > 0) std::memcpy(out.data_ptr(), bytes, array.ByteLength());
  return out;
}

Napi::Value TypedArrayFromTensor(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU);
  napi_typedarray_type type;
  switch (t.scalar_type()) {
    case at::kFloat:
      type = napi_float32_array;
      break;
    case at::kDouble:
      type = napi_float64_array;
      break;
    case at::kInt:
      type = napi_int32_array;
      break;
    case at::kLong:
      type = napi_bigint64_array;
      break;
    case at::kByte:
      type = napi_uint8_array;
      break;
    case at::kBool:
      t = t.to(at::kByte);
      type = napi_uint8_array;
      break;
    case at::kChar:
      type = napi_int8_array;
      break;
    default:
      t = t.to(at::kFloat);
      type = napi_float32_array;
      break;
  }
  t = t.contiguous();
  size_t nbytes = t.numel() * t.element_size();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, nbytes);
  if (nbytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), nbytes);
  napi_value result;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, t.numel(), buffer, 0, &result), Napi::Value());
  return Napi::Value(env, result);
}

std::string DtypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kInt:
      return "int32";
    case at::kLong:
      return "int64";
    case at::kShort:
      return "int16";
    case at::kByte:
      return "uint8";
    case at::kChar:
      return "int8";
    case at::kBool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

at::ScalarType DtypeNamed(const std::string& name) {
  for (at::ScalarType type : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kInt, at::kLong, at::kShort,
                              at::kByte, at::kChar, at::kBool}) {
    if (DtypeName(type) == name) return type;
  }
  TORCH_CHECK(false, "unknown dtype \"", name, "\"");
}

}  // namespace sere::binding
