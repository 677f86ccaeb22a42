#pragma once
// Tests on parameter names (`blocks.0.attn.qkv.bias`), as the reference's code makes them.
#include <string>

namespace sere::model {

inline bool StartsWith(const std::string& name, const std::string& prefix) { return name.rfind(prefix, 0) == 0; }

inline bool EndsWith(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline bool IsBias(const std::string& name) { return EndsWith(name, ".bias"); }

}  // namespace sere::model
