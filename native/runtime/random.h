#pragma once
// Randomness that belongs to its owner. LibTorch's module constructors draw their initial
// weights from the process-wide generator; a Model or a training step built during a run
// must neither change that stream nor depend on what others drew from it.
#include <ATen/ATen.h>

#include <cstdint>
#include <mutex>

namespace sere {

// Within this scope the process-wide CPU generator is seeded with `seed`; when the scope
// ends it is put back to the state it had before, so the scope leaves no trace. Scopes are
// serialised with one another. Build networks inside one: the same seed gives the same
// weights whatever ran before.
class SeededConstruction {
 public:
  explicit SeededConstruction(uint64_t seed);
  ~SeededConstruction();
  SeededConstruction(const SeededConstruction&) = delete;
  SeededConstruction& operator=(const SeededConstruction&) = delete;

 private:
  std::unique_lock<std::mutex> exclusive_;
  at::Tensor saved_state_;
};

// A CPU generator of one's own, seeded.
at::Generator OwnCpuGenerator(uint64_t seed);

}  // namespace sere
