#include "runtime/threads.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace sere {
namespace {
std::atomic<int> desired_threads{0};
}

int DefaultIntraOpThreads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

void SetIntraOpThreads(int n) {
  if (n < 1) throw std::invalid_argument("thread count must be >= 1, got " + std::to_string(n));
  desired_threads = n;
  at::set_num_threads(n);
}

int IntraOpThreads() {
  int n = desired_threads.load();
  return n > 0 ? n : at::get_num_threads();
}

void ApplyIntraOpThreadsHere() {
  int n = desired_threads.load();
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace sere
