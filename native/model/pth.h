#pragma once
// State dicts in PyTorch's torch.save format, through LibTorch's own pickler, so that
// Python's torch.load reads what we write and we read what torch.save wrote.
#include <string>
#include <utility>
#include <vector>

#include "model/network.h"

namespace sere::model {

// Writes {name: tensor} (on the CPU) to `path` atomically: a crash mid-write leaves any
// previous file intact.
void SavePth(const std::string& path, const NamedTensors& entries);

// The tensors of a .pth file, grouped: a plain state dict gives one group named "";
// a checkpoint (e.g. {"teacher": {...}, "student": {...}, "epoch": 3}) gives one group
// per key whose value is a dict of tensors. Other values are ignored.
std::vector<std::pair<std::string, NamedTensors>> ReadPth(const std::string& path);

// Writes bytes to path via a temporary file and rename.
void WriteFileAtomically(const std::string& path, const std::vector<char>& bytes);

}  // namespace sere::model
