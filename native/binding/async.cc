#include "binding/async.h"

#include "binding/errors.h"
#include "runtime/threads.h"

namespace sere::binding {
namespace {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, Work work)
      : Napi::AsyncWorker(env, "sere-torch"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      ApplyIntraOpThreadsHere();
      finish_ = work_();
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
  Finish finish_;
};

}  // namespace

Napi::Promise RunAsync(Napi::Env env, Work work) {
  auto* worker = new PromiseWorker(env, std::move(work));  // deletes itself when settled
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace sere::binding
