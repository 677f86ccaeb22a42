#include "runtime/random.h"

#include <ATen/CPUGeneratorImpl.h>

namespace sere {
namespace {
std::mutex& ConstructionMutex() {
  static std::mutex mutex;
  return mutex;
}
}  // namespace

SeededConstruction::SeededConstruction(uint64_t seed) : exclusive_(ConstructionMutex()) {
  at::Generator global = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(global.mutex());
  saved_state_ = global.get_state();
  global.set_current_seed(seed);
}

SeededConstruction::~SeededConstruction() {
  at::Generator global = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(global.mutex());
  global.set_state(saved_state_);
}

at::Generator OwnCpuGenerator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

}  // namespace sere
