#include "model/pth.h"

#include <torch/serialize.h>

#include <cstdio>
#include <fstream>

namespace sere::model {

void WriteFileAtomically(const std::string& path, const std::vector<char>& bytes) {
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    TORCH_CHECK(out, "cannot write ", partial, ": check that the folder exists and is writable");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    TORCH_CHECK(out, "writing ", partial, " failed (disk full?)");
  }
  TORCH_CHECK(std::rename(partial.c_str(), path.c_str()) == 0, "cannot rename ", partial, " to ", path);
}

void SavePth(const std::string& path, const NamedTensors& entries) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : entries) dict.insert(name, tensor.detach().to(at::kCPU).contiguous());
  WriteFileAtomically(path, torch::pickle_save(dict));
}

}  // namespace sere::model
