#include "runtime/files.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sere {
namespace {

std::string Reason() { return std::strerror(errno); }

std::string FolderOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void WriteAll(int fd, const ByteSpan& piece, const std::string& partial) {
  const char* at = piece.data;
  size_t left = piece.size;
  while (left > 0) {
    const ssize_t written = ::write(fd, at, left);
    if (written < 0 && errno == EINTR) continue;
    TORCH_CHECK(written > 0, "writing ", partial, " failed: ", Reason(), " (disk full?)");
    at += written;
    left -= static_cast<size_t>(written);
  }
}

// Writes and flushes the partial file; throws naming it.
void WritePartial(const std::string& partial, const std::vector<ByteSpan>& pieces) {
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TORCH_CHECK(fd >= 0, "cannot write ", partial, ": ", Reason(), "; check that the folder exists and is writable");
  try {
    for (const ByteSpan& piece : pieces) WriteAll(fd, piece, partial);
    TORCH_CHECK(::fsync(fd) == 0, "flushing ", partial, " to the disk failed: ", Reason());
  } catch (...) {
    ::close(fd);
    throw;
  }
  TORCH_CHECK(::close(fd) == 0, "writing ", partial, " failed: ", Reason());
}

// Flushes the folder's entries (the rename); best effort, as some file systems refuse it.
void SyncFolder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void WriteFileAtomically(const std::string& path, const std::vector<ByteSpan>& pieces) {
  const std::string partial = path + kPartialSuffix;
  try {
    WritePartial(partial, pieces);
    TORCH_CHECK(std::rename(partial.c_str(), path.c_str()) == 0, "cannot rename ", partial, " to ", path, ": ",
                Reason());
  } catch (...) {
    std::remove(partial.c_str());
    throw;
  }
  SyncFolder(FolderOf(path));
}

void WriteFileAtomically(const std::string& path, const std::vector<char>& bytes) {
  WriteFileAtomically(path, std::vector<ByteSpan>{{bytes.data(), bytes.size()}});
}

void ReadFileAt(int fd, uint64_t offset, size_t size, char* into, const std::string& what) {
  while (size > 0) {
    const ssize_t got = ::pread(fd, into, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    TORCH_CHECK(got >= 0, "reading ", what, " failed: ", Reason());
    TORCH_CHECK(got > 0, what, " ends before byte ", offset + size, " (truncated file)");
    into += got;
    offset += static_cast<uint64_t>(got);
    size -= static_cast<size_t>(got);
  }
}

}  // namespace sere
