#pragma once
// LibTorch's intra-op threads. With OpenMP (Linux builds) the count is kept per OS thread,
// and every thread that runs a parallel op with more than one thread keeps a team of
// OpenMP threads for the rest of the process. libgomp makes every team's idle threads
// sleep at once as soon as the teams together hold more threads than there are cores, so
// a second team (the JS thread's, a libuv worker's) made each of the training step's
// parallel ops wake its threads from sleep: two threads ran the default step at 0.6x the
// speed of one. So the process has one thread for parallel work (binding/async.h's compute
// lane) and runs everything else on one intra-op thread.
#include <functional>

namespace sere {

// The intra-op threads of the compute thread from its next task on (n >= 1).
void SetIntraOpThreads(int n);
int IntraOpThreads();
// The default: OMP_NUM_THREADS when set, else the machine's cores (Debian's torch starts at 1).
int DefaultIntraOpThreads();
// At load, on the JS thread: every thread starts with one intra-op thread.
void UseOneIntraOpThreadByDefault();
// This OS thread's intra-op threads (the others keep theirs).
void SetIntraOpThreadsHere(int n);

// Runs `first` and `second`, which must not touch each other's tensors. With two or more
// intra-op threads, `first` runs on a helper thread beside `second` on this one, one intra-op
// thread each: a small model's ops are too short to split across cores, so two of them side
// by side keep both busy. With one, they run in turn here. LibTorch's thread-local state
// (grad mode, autocast, dispatch keys) follows `first`; an exception from either is rethrown.
void RunSideBySide(const std::function<void()>& first, const std::function<void()>& second);

}  // namespace sere
