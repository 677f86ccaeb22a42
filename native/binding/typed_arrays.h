#pragma once
// Conversions between JS typed arrays and CPU tensors (always copies).
#include <ATen/ATen.h>
#include <napi.h>

#include <string>
#include <vector>

namespace sere::binding {

std::vector<int64_t> ShapeFrom(Napi::Env env, Napi::Value shape);
// Float32Array -> float32, Float64Array -> float64, Int32Array -> int32,
// BigInt64Array -> int64, Uint8Array -> uint8, Int8Array -> int8.
at::Tensor TensorFromTypedArray(Napi::Env env, Napi::Value data, const std::vector<int64_t>& shape);
// The inverse; half and bfloat16 come back as Float32Array, bool as Uint8Array.
Napi::Value TypedArrayFromTensor(Napi::Env env, const at::Tensor& tensor);
// PyTorch's names: "float32", "bfloat16", "int64", ...
std::string DtypeName(at::ScalarType type);
// The inverse of DtypeName; throws for a name it does not give.
at::ScalarType DtypeNamed(const std::string& name);

}  // namespace sere::binding
