#include "model/pth.h"

#include <torch/serialize.h>

#include "runtime/files.h"

namespace sere::model {

void SavePth(const std::string& path, const NamedTensors& entries) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : entries) dict.insert(name, tensor.detach().to(at::kCPU).contiguous());
  WriteFileAtomically(path, torch::pickle_save(dict));
}

}  // namespace sere::model
