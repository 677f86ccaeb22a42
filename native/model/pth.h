#pragma once
// State dicts in PyTorch's torch.save format, read and written through LibTorch's own zip
// container, so that Python's torch.load reads what we write and files over 4 GiB (zip64)
// read here. The pickle program inside (data.pkl) is read in TypeScript
// (src/io/torch-load.ts): LibTorch's unpickler refuses classes that PyTorch checkpoints
// hold, such as DINO's and iBOT's argparse.Namespace.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/network.h"

namespace sere::model {

// What torch.save writes for `value` (dicts, lists, numbers, strings, tensors on the CPU): a
// zip archive whose pickle carries no TorchScript type tags, so that PyTorch's weights-only
// torch.load (the default from 2.6) reads it.
std::vector<char> TorchSaveBytes(const c10::IValue& value);

// `t` on the CPU, contiguous, owning exactly its own elements: torch.save writes a tensor's
// whole storage, and a parameter may be a slice of a flat buffer (train/flat_parameters.h).
at::Tensor AsSaved(const at::Tensor& t);

// Writes {name: tensor} (on the CPU) to `path` atomically (runtime/files.h): a crash
// mid-write leaves any previous file intact.
void SavePth(const std::string& path, const NamedTensors& entries);

// Where a tensor lies in its storage, as torch.save pickles it.
struct StoredLayout {
  int64_t offset = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

// An open torch.save archive. Storages are read from the file when a tensor asks for them,
// straight into LibTorch's memory; the file stays open, so a checkpoint replaced on disk
// meanwhile (training saves by renaming) is still read whole from the version opened.
class PthArchive {
 public:
  // Throws naming `path` when it is not a torch.save zip archive.
  explicit PthArchive(std::string path);

  // The pickle program (data.pkl).
  std::string Pickle();

  // The tensor at `layout` of storage `key` holding `elements` of `dtype`. A tensor spanning
  // its whole storage in row-major order is that storage, no copy; any other view is copied
  // out (a small slice does not keep a large storage alive). The storage's size in the file
  // is checked against `elements`; the layout against `elements` is the caller's check.
  at::Tensor Tensor(const std::string& key, at::ScalarType dtype, int64_t elements, const StoredLayout& layout);

 private:
  std::string path_;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader_;
};

}  // namespace sere::model
