// The addon's entry point: per-environment data, default threads, the allocator, and the exports.
#include "binding/addon.h"

#include "runtime/memory.h"
#include "runtime/threads.h"

namespace sere::binding {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  UseOneIntraOpThreadByDefault();
  SetIntraOpThreads(DefaultIntraOpThreads());
  RetainFreedMemory();
  RegisterInfo(env, exports);
  RegisterTensor(env, exports);
  RegisterModel(env, exports);
  RegisterEval(env, exports);
  RegisterTrain(env, exports);
  RegisterFinetune(env, exports);
  RegisterObjective(env, exports);
  RegisterAugment(env, exports);
  RegisterDistributed(env, exports);
  RegisterFiles(env, exports);
  return exports;
}

}  // namespace sere::binding

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return sere::binding::Init(env, exports); }
NODE_API_MODULE(sere_torch, InitAddon)
