#pragma once
// Devices and dtypes named by the user ("cpu", "cuda", "cuda:1"; "float32", "bfloat16",
// "float16"), checked against what this build and machine can do.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace sere {

c10::Device ParseDevice(const std::string& name);
c10::ScalarType ParseFloatDtype(const std::string& name);

}  // namespace sere
