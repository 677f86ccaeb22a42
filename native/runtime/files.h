#pragma once
// Files written whole or not at all. Every file sere-torch writes (checkpoints, exported
// weights, features) goes through here, from C++ and from TypeScript alike; and reads of
// byte ranges of open files (the data of safetensors files).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sere {

// The suffix of the temporary file beside `path`; a run removes stale ones on start.
inline constexpr const char* kPartialSuffix = ".partial";

// A piece of the file's contents (not owned).
struct ByteSpan {
  const char* data;
  size_t size;
};

// Writes the pieces, in order, to `path`: into `path.partial`, flushed to the disk
// (fsync), renamed over `path`, then the folder flushed so that the rename itself
// survives a power cut. A crash at any point leaves any previous `path` intact; a
// failure removes the partial file and says which file and why.
void WriteFileAtomically(const std::string& path, const std::vector<ByteSpan>& pieces);
void WriteFileAtomically(const std::string& path, const std::vector<char>& bytes);

// Reads bytes [offset, offset + size) of the open file `fd` into `into`; throws naming
// `what` when the file ends before them or the read fails.
void ReadFileAt(int fd, uint64_t offset, size_t size, char* into, const std::string& what);

}  // namespace sere
