#include "binding/async.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>

#include "binding/errors.h"
#include "runtime/threads.h"

namespace sere::binding {
namespace {

// The compute lane: one thread that runs jobs in the order given; Run blocks its caller (a
// libuv worker) until the job is done and rethrows what the job threw. Never destroyed: the
// thread waits for jobs until the process ends.
class ComputeThread {
 public:
  static ComputeThread& Get() {
    static auto* thread = new ComputeThread();
    return *thread;
  }

  void Run(const std::function<void()>& job) {
    std::promise<void> done;
    auto finished = done.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.emplace_back([&job, &done] {
        try {
          job();
          done.set_value();
        } catch (...) {
          done.set_exception(std::current_exception());
        }
      });
    }
    ready_.notify_one();
    finished.get();
  }

 private:
  ComputeThread() {
    std::thread([this] { Loop(); }).detach();
  }

  [[noreturn]] void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, Work work, Lane lane)
      : Napi::AsyncWorker(env, "sere-torch"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        lane_(lane) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      if (lane_ == Lane::kCompute) {
        ComputeThread::Get().Run([this] {
          SetIntraOpThreadsHere(IntraOpThreads());
          finish_ = work_();
        });
      } else {
        SetIntraOpThreadsHere(1);  // what the last task on this thread set does not carry over
        finish_ = work_();
      }
    } catch (const std::exception& e) {
      SetError(MessageOf(e));
    } catch (...) {
      SetError("unknown native exception");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Guard(env, [&] { return finish_(env); }));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Lane lane_;
  Finish finish_;
};

}  // namespace

Napi::Promise RunAsync(Napi::Env env, Work work, Lane lane) {
  auto* worker = new PromiseWorker(env, std::move(work), lane);  // deletes itself when settled
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace sere::binding
