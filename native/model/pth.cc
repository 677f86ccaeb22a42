#include "model/pth.h"

#include <torch/serialize.h>

#include <cstdio>
#include <fstream>
#include <iterator>

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

namespace {

NamedTensors TensorsOf(const c10::impl::GenericDict& dict) {
  NamedTensors out;
  for (const auto& item : dict) {
    if (item.key().isString() && item.value().isTensor()) out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, NamedTensors>> ReadPth(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in, "cannot open ", path, ": check the path");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, path, " is not a readable torch.save file (", e.what_without_backtrace(),
                "). Files written by Python's torch.save with the default (zip) format and plain",
                " dicts of tensors are supported; re-save other files with torch.save(state_dict, path).");
  }
  TORCH_CHECK(value.isGenericDict(), path, " does not hold a dict (it holds ", value.tagKind(), ")");
  std::vector<std::pair<std::string, NamedTensors>> groups;
  auto top = value.toGenericDict();
  NamedTensors direct = TensorsOf(top);
  if (!direct.empty()) groups.emplace_back("", std::move(direct));
  for (const auto& item : top) {
    if (item.key().isString() && item.value().isGenericDict()) {
      NamedTensors nested = TensorsOf(item.value().toGenericDict());
      if (!nested.empty()) groups.emplace_back(item.key().toStringRef(), std::move(nested));
    }
  }
  return groups;
}

}  // namespace sere::model
