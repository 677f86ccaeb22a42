#include "model/pth.h"

#include <c10/util/Exception.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "runtime/files.h"

namespace sere::model {

std::vector<char> TorchSaveBytes(const c10::IValue& value) {
  // torch::pickle_save, less the tags: its Pickler wraps every typed dict and list in
  // torch.jit._pickle.restore_type_tag, a call the weights-only unpickler refuses.
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* bytes, size_t n) { pickle.insert(pickle.end(), bytes, bytes + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();

  std::vector<char> archive;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) {
    const char* bytes = static_cast<const char*>(data);
    archive.insert(archive.end(), bytes, bytes + n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return archive;
}

at::Tensor AsSaved(const at::Tensor& t) {
  auto saved = t.detach().to(at::kCPU).contiguous();
  const bool owns_storage = saved.storage_offset() == 0 &&
                            saved.storage().nbytes() == static_cast<size_t>(saved.numel()) * saved.element_size();
  return owns_storage ? saved : saved.clone();
}

void SavePth(const std::string& path, const NamedTensors& entries) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : entries) dict.insert(name, AsSaved(tensor));
  WriteFileAtomically(path, TorchSaveBytes(dict));
}

namespace {

// LibTorch's message without its C++ backtrace.
std::string Why(const c10::Error& e) { return e.what_without_backtrace(); }

}  // namespace

PthArchive::PthArchive(std::string path) : path_(std::move(path)) {
  try {
    reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path_);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, path_, " is not a whole torch.save file of the zip format (", Why(e),
                "): a copy cut short, or a file of another kind. A file of PyTorch's older format can be re-saved in "
                "Python with torch.save(obj, path) (PyTorch >= 1.6 writes the zip format by default).");
  }
  TORCH_CHECK(reader_->hasRecord("data.pkl"), path_, " is a zip archive but not a torch.save file (no data.pkl)");
}

std::string PthArchive::Pickle() {
  try {
    auto [data, size] = reader_->getRecord("data.pkl");
    return std::string(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, path_, " cannot be read: ", Why(e));
  }
}

at::Tensor PthArchive::Tensor(const std::string& key, at::ScalarType dtype, int64_t elements,
                              const StoredLayout& layout) {
  const std::string record = "data/" + key;
  TORCH_CHECK(reader_->hasRecord(record), path_, ": storage ", key, " is missing from the archive (truncated file?)");
  at::DataPtr data;
  size_t bytes = 0;
  try {
    std::tie(data, bytes) = reader_->getRecord(record);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, path_, ": storage ", key, " cannot be read: ", Why(e));
  }
  const size_t needed = static_cast<size_t>(elements) * c10::elementSize(dtype);
  TORCH_CHECK(bytes >= needed, path_, ": storage ", key, " holds ", bytes, " bytes where its ", elements, " ",
              c10::toString(dtype), " elements need ", needed, " (truncated or garbled file)");
  c10::Storage storage(c10::Storage::use_byte_size_t(), bytes, std::move(data), nullptr, false);
  at::Tensor tensor =
      at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, layout.offset, layout.shape, layout.stride);
  const bool whole = layout.offset == 0 && tensor.numel() == elements && tensor.is_contiguous();
  return whole ? tensor : tensor.clone(at::MemoryFormat::Contiguous);
}

}  // namespace sere::model
