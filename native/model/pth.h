#pragma once
// State dicts in PyTorch's torch.save format, through LibTorch's own pickler, so that
// Python's torch.load reads what we write. (Reading is src/io/torch-load.ts: LibTorch's
// unpickler misses opcodes and classes that PyTorch checkpoints use.)
#include <string>
#include <utility>
#include <vector>

#include "model/network.h"

namespace sere::model {

// Writes {name: tensor} (on the CPU) to `path` atomically (runtime/files.h): a crash
// mid-write leaves any previous file intact.
void SavePth(const std::string& path, const NamedTensors& entries);

}  // namespace sere::model
