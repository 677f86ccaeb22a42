#include "runtime/threads.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#if AT_PARALLEL_OPENMP
extern "C" void omp_set_num_threads(int n);  // libgomp, loaded with LibTorch
#endif

namespace sere {
namespace {
std::atomic<int> compute_threads{1};

void CheckCount(int n) {
  if (n < 1) throw std::invalid_argument("thread count must be >= 1, got " + std::to_string(n));
}
}  // namespace

int DefaultIntraOpThreads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

void SetIntraOpThreads(int n) {
  CheckCount(n);
  compute_threads = n;
}

int IntraOpThreads() { return compute_threads.load(); }

void UseOneIntraOpThreadByDefault() {
  // ATen gives each thread, at its first parallel op, the count last set anywhere.
  at::set_num_threads(1);
}

void SetIntraOpThreadsHere(int n) {
  CheckCount(n);
#if AT_PARALLEL_OPENMP
  at::get_num_threads();   // ATen's first-use setting of this thread, so it cannot come later
  omp_set_num_threads(n);  // this thread's count alone (at::set_num_threads sets the default too)
#else
  at::set_num_threads(n);  // one pool for the process: nothing is per thread
#endif
}

void RunSideBySide(const std::function<void()>& first, const std::function<void()>& second) {
  const int threads = IntraOpThreads();
  if (threads < 2) {
    first();
    second();
    return;
  }
  at::ThreadLocalState state;
  auto helper = std::async(std::launch::async, [&] {
    at::ThreadLocalStateGuard guard(state);
    SetIntraOpThreadsHere(1);
    first();
  });
  SetIntraOpThreadsHere(1);
  try {
    second();
  } catch (...) {
    helper.wait();
    SetIntraOpThreadsHere(threads);
    throw;
  }
  SetIntraOpThreadsHere(threads);
  helper.get();
}

}  // namespace sere
