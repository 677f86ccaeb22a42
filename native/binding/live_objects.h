#pragma once
// Counts the native objects that JS holds, so that leaks are visible (`liveObjects()`).
#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

namespace sere::binding {

std::atomic<int64_t>& LiveObjectCount();

// Holds one native resource for a JS object; counted while held. Released by
// dispose() or, failing that, when the JS object is garbage-collected.
template <class Resource>
class Owned {
 public:
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { Release(); }

  void Set(Resource resource) {
    Release();
    resource_.emplace(std::move(resource));
    ++LiveObjectCount();
  }
  void Release() {
    if (!resource_) return;
    resource_.reset();
    --LiveObjectCount();
  }
  bool Held() const { return resource_.has_value(); }
  Resource* Get() { return resource_ ? &*resource_ : nullptr; }

 private:
  std::optional<Resource> resource_;
};

}  // namespace sere::binding
