// writeFileAtomically(path, pieces): the native atomic writer (runtime/files.h) for the
// files TypeScript writes, so that every file of the project is written one way.
#include "runtime/files.h"

#include <memory>
#include <string>
#include <vector>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"

namespace sere::binding {
namespace {

// writeFileAtomically(path: string, pieces: Uint8Array[]): Promise<void>. The pieces are
// written in place: references keep them alive until the promise settles.
Napi::Value WriteFileAtomicallyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    if (!info[0].IsString() || !info[1].IsArray()) {
      throw Napi::TypeError::New(
          env, "writeFileAtomically(path, pieces): path must be a string and pieces an array of Uint8Array");
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Array list = info[1].As<Napi::Array>();
    std::vector<ByteSpan> pieces;
    auto kept = std::make_shared<std::vector<Napi::Reference<Napi::Uint8Array>>>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value item = list.Get(i);
      if (!item.IsTypedArray() || item.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw Napi::TypeError::New(env, "writeFileAtomically: piece " + std::to_string(i) + " is not a Uint8Array");
      }
      auto bytes = item.As<Napi::Uint8Array>();
      pieces.push_back({reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength()});
      kept->push_back(Napi::Persistent(bytes));
    }
    return RunAsync(
               env,
               [path, pieces, kept]() -> Finish {
                 WriteFileAtomically(path, pieces);
                 return [kept](Napi::Env env) { return env.Undefined(); };
               },
               Lane::kPool)
        .As<Napi::Value>();
  });
}

}  // namespace

void RegisterFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("writeFileAtomically", Napi::Function::New(env, WriteFileAtomicallyJs, "writeFileAtomically"));
}

}  // namespace sere::binding
