// Files in and out of the addon: the atomic writer (runtime/files.h) for what TypeScript
// writes, so that every file of the project is written one way; .pth archives read and
// written through LibTorch (model/pth.h); safetensors data read by byte range. Tensors read
// from files go straight into LibTorch's memory, never through a JS buffer.
#include "runtime/files.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/model_options.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "binding/typed_arrays.h"
#include "model/pth.h"

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

// savePth(path, entries): Promise<void>, for state dicts assembled in JS.
Napi::Value SavePthJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    std::string path = StringArg(info, 0, "savePth(path, entries): path");
    model::NamedTensors entries = EntriesFromJs(env, info[1]);
    return RunAsync(
               env,
               [path, entries]() -> Finish {
                 model::SavePth(path, entries);
                 return [](Napi::Env env) { return env.Undefined(); };
               },
               Lane::kPool)
        .As<Napi::Value>();
  });
}

// `PthArchive`: an open torch.save file (openPth). pickle(): Buffer; tensor(key, dtype,
// elements, {offset, shape, stride}): Promise<Tensor>. The file closes when the object is
// collected.
class PthArchive : public Napi::ObjectWrap<PthArchive> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PthArchive",
                       {InstanceMethod<&PthArchive::Pickle>("pickle"), InstanceMethod<&PthArchive::Tensor>("tensor")});
  }

  static Napi::Object New(Napi::Env env, std::shared_ptr<model::PthArchive> archive, std::string pickle) {
    Napi::Object object = DataOf(env).pth_archive_class.New({});
    PthArchive* wrapped = Unwrap(object);
    wrapped->archive_ = std::move(archive);
    wrapped->pickle_ = std::move(pickle);
    return object;
  }

  explicit PthArchive(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PthArchive>(info) {}

 private:
  Napi::Value Pickle(const Napi::CallbackInfo& info) {
    return Napi::Buffer<char>::Copy(info.Env(), pickle_.data(), pickle_.size());
  }

  Napi::Value Tensor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&] {
      TORCH_CHECK(archive_ != nullptr, "PthArchive.tensor: the archive was not opened by openPth");
      std::string key = StringArg(info, 0, "PthArchive.tensor(key, ...): key");
      at::ScalarType dtype = DtypeNamed(StringArg(info, 1, "PthArchive.tensor(key, dtype, ...): dtype"));
      int64_t elements = IntArg(info, 2, "PthArchive.tensor(key, dtype, elements, ...): elements");
      Napi::Object o = ObjectArg(info, 3, "PthArchive.tensor(..., layout)");
      model::StoredLayout layout;
      layout.offset = IntField(o, "offset");
      layout.shape = NumbersField<int64_t>(o, "shape");
      layout.stride = NumbersField<int64_t>(o, "stride");
      std::shared_ptr<model::PthArchive> archive = archive_;
      return RunAsync(
                 env,
                 [archive, key, dtype, elements, layout]() -> Finish {
                   at::Tensor tensor = archive->Tensor(key, dtype, elements, layout);
                   return [tensor](Napi::Env env) { return Tensor::New(env, tensor); };
                 },
                 Lane::kPool)
          .As<Napi::Value>();
    });
  }

  // Not counted among liveObjects(): no user code holds it, and it closes when collected.
  std::shared_ptr<model::PthArchive> archive_;
  std::string pickle_;
};

// openPth(path): Promise<PthArchive>.
Napi::Value OpenPth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    std::string path = StringArg(info, 0, "openPth(path): path");
    return RunAsync(
               env,
               [path]() -> Finish {
                 auto archive = std::make_shared<model::PthArchive>(path);
                 std::string pickle = archive->Pickle();
                 return [archive, pickle](Napi::Env env) { return PthArchive::New(env, archive, pickle); };
               },
               Lane::kPool)
        .As<Napi::Value>();
  });
}

// readTensorsAt(fd, what, [{offset, dtype, shape}]): Promise<Tensor[]>: each tensor's
// row-major bytes at `offset` of the open file `fd` (a FileHandle's, kept open by the caller
// until the promise settles); `what` names the file in errors.
Napi::Value ReadTensorsAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    struct Request {
      uint64_t offset;
      at::ScalarType dtype;
      std::vector<int64_t> shape;
    };
    int fd = static_cast<int>(IntArg(info, 0, "readTensorsAt(fd, what, requests): fd"));
    std::string what = StringArg(info, 1, "readTensorsAt(fd, what, requests): what");
    if (!info[2].IsArray()) throw Napi::TypeError::New(env, "readTensorsAt: requests must be an array");
    Napi::Array list = info[2].As<Napi::Array>();
    std::vector<Request> requests;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Object o = AsObject(list.Get(i), "readTensorsAt: request " + std::to_string(i));
      requests.push_back({static_cast<uint64_t>(IntField(o, "offset")), DtypeNamed(StringField(o, "dtype")),
                          NumbersField<int64_t>(o, "shape")});
    }
    return RunAsync(
               env,
               [fd, what, requests]() -> Finish {
                 std::vector<at::Tensor> tensors;
                 for (const Request& r : requests) {
                   at::Tensor t = at::empty(r.shape, at::TensorOptions().dtype(r.dtype));
                   ReadFileAt(fd, r.offset, t.nbytes(), static_cast<char*>(t.data_ptr()), what);
                   tensors.push_back(t);
                 }
                 return [tensors](Napi::Env env) {
                   Napi::Array out = Napi::Array::New(env, tensors.size());
                   for (uint32_t i = 0; i < tensors.size(); ++i) out.Set(i, Tensor::New(env, tensors[i]));
                   return out.As<Napi::Value>();
                 };
               },
               Lane::kPool)
        .As<Napi::Value>();
  });
}

}  // namespace

void RegisterFiles(Napi::Env env, Napi::Object exports) {
  Napi::Function archive_class = PthArchive::Define(env);
  DataOf(env).pth_archive_class = Napi::Persistent(archive_class);
  exports.Set("writeFileAtomically", Napi::Function::New(env, WriteFileAtomicallyJs, "writeFileAtomically"));
  exports.Set("savePth", Napi::Function::New(env, SavePthJs, "savePth"));
  exports.Set("openPth", Napi::Function::New(env, OpenPth, "openPth"));
  exports.Set("readTensorsAt", Napi::Function::New(env, ReadTensorsAt, "readTensorsAt"));
}

}  // namespace sere::binding
