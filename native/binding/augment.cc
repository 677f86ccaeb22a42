// renderViews(): hands a planned batch to native/augment and resolves with the view tensors;
// testing.randAugment(): RandAugment's ops on a batch of images.
#include "augment/augment.h"

#include <memory>

#include "augment/rand_augment.h"
#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "binding/typed_arrays.h"
#include "runtime/threads.h"

namespace sere::binding {
namespace {

std::array<float, 3> Triple(Napi::Env env, Napi::Value value, const char* what) {
  at::Tensor t = TensorFromTypedArray(env, value, {3});
  if (t.scalar_type() != at::kFloat)
    throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array of 3");
  return {t[0].item<float>(), t[1].item<float>(), t[2].item<float>()};
}

// renderViews(images: { pixels: Uint8Array[], sizes: Int32Array /* h, w per image */ },
//             groups: { size, boxes: Int32Array, colour: Float32Array }[],
//             normalisation: { mean: Float32Array, std: Float32Array }, device: string, threads?: number)
//   -> Promise<Tensor[]>, one (views, 3, size, size) tensor per group.
// testing.renderViewsWithTensorOps(...the same): with the batched tensor ops that CUDA runs,
// even on the CPU, to check them against the per-view loops.
// The images are read in place, not copied: the pixel arrays are kept alive (and must
// not be changed) until the promise settles.
Napi::Value RenderViews(const Napi::CallbackInfo& info, bool tensor_ops) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    Napi::Object images_arg = ObjectArg(info, 0, "renderViews: images");
    Napi::Value sizes_arg = images_arg.Get("sizes");
    if (!sizes_arg.IsTypedArray() || sizes_arg.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "renderViews: images.sizes must be an Int32Array of (height, width) pairs");
    Napi::Int32Array sizes = sizes_arg.As<Napi::Int32Array>();
    Napi::Value pixels_arg = images_arg.Get("pixels");
    if (!pixels_arg.IsArray() || pixels_arg.As<Napi::Array>().Length() * 2 != sizes.ElementLength())
      throw Napi::TypeError::New(
          env, "renderViews: images.pixels must be an array of Uint8Array, one per (height, width) pair");
    Napi::Array pixels = pixels_arg.As<Napi::Array>();
    augment::SourceImages images;
    for (uint32_t i = 0; i < pixels.Length(); ++i) {
      Napi::Value image = pixels.Get(i);
      const int64_t height = sizes[2 * i], width = sizes[2 * i + 1];
      if (!image.IsTypedArray() || image.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || height <= 0 ||
          width <= 0 || static_cast<int64_t>(image.As<Napi::TypedArray>().ByteLength()) != height * width * 3)
        throw Napi::TypeError::New(env, "renderViews: images.pixels[" + std::to_string(i) +
                                            "] must be a Uint8Array of " + std::to_string(height) + " x " +
                                            std::to_string(width) + " x 3 bytes");
      Napi::Uint8Array bytes = image.As<Napi::Uint8Array>();
      images.pixels.push_back(bytes.Data());
      images.heights.push_back(height);
      images.widths.push_back(width);
    }
    // Released on the JS thread with the async work (shared_ptr: the work is copyable).
    auto keep_alive = std::make_shared<Napi::ObjectReference>(Napi::Persistent(pixels.As<Napi::Object>()));

    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "renderViews: groups must be an array");
    Napi::Array groups_arg = info[1].As<Napi::Array>();
    std::vector<augment::ViewGroup> groups;
    for (uint32_t g = 0; g < groups_arg.Length(); ++g) {
      std::string what = "renderViews: groups[" + std::to_string(g) + "]";
      Napi::Object group = AsObject(groups_arg.Get(g), what);
      Napi::Value boxes = group.Get("boxes"), colour = group.Get("colour");
      if (!boxes.IsTypedArray() || !colour.IsTypedArray())
        throw Napi::TypeError::New(env, what + ".boxes and .colour must be typed arrays");
      int64_t views = static_cast<int64_t>(boxes.As<Napi::TypedArray>().ElementLength()) / augment::kBoxColumns;
      augment::ViewGroup view_group{AsInt(group.Get("size"), what + ".size"),
                                    TensorFromTypedArray(env, boxes, {views, augment::kBoxColumns}),
                                    TensorFromTypedArray(env, colour, {views, augment::kColourColumns})};
      if (view_group.boxes.scalar_type() != at::kInt || view_group.colour.scalar_type() != at::kFloat)
        throw Napi::TypeError::New(env, what + ": boxes must be an Int32Array and colour a Float32Array");
      groups.push_back(std::move(view_group));
    }

    Napi::Object norm = ObjectArg(info, 2, "renderViews: normalisation");
    augment::Normalisation normalisation{Triple(env, norm.Get("mean"), "normalisation.mean"),
                                         Triple(env, norm.Get("std"), "normalisation.std")};
    std::string device = StringArg(info, 3, "renderViews: device");
    int threads = info[4].IsUndefined() ? 0 : static_cast<int>(IntArg(info, 4, "renderViews: threads"));
    if (threads == 0) threads = IntraOpThreads();  // 0: setThreads' count

    return RunAsync(
               env,
               [images = std::move(images), groups = std::move(groups), normalisation, device, threads, tensor_ops,
                keep_alive]() -> Finish {
                 std::vector<at::Tensor> views =
                     augment::RenderViews(images, groups, normalisation, device, threads, tensor_ops);
                 return [views](Napi::Env env) {
                   Napi::Array out = Napi::Array::New(env, views.size());
                   for (size_t i = 0; i < views.size(); ++i) out.Set(i, Tensor::New(env, views[i]));
                   return out.As<Napi::Value>();
                 };
               },
               Lane::kPool)  // beside the compute lane's work: the next batches while a step runs
        .As<Napi::Value>();
  });
}

// testing.randAugment(images, ops, magnitudes): Promise<Tensor>: each image's RandAugment ops
// in order (native/augment/rand_augment.h), on the compute lane.
Napi::Value RandAugment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    at::Tensor images = TensorArg(info, 0, "randAugment: images");
    at::Tensor ops = TensorArg(info, 1, "randAugment: ops");
    at::Tensor magnitudes = TensorArg(info, 2, "randAugment: magnitudes");
    return RunAsync(env,
                    [images, ops, magnitudes]() -> Finish {
                      at::Tensor out = augment::RandAugment(images, ops, magnitudes);
                      return [out](Napi::Env env) { return Tensor::New(env, out); };
                    })
        .As<Napi::Value>();
  });
}

}  // namespace

void RegisterAugment(Napi::Env env, Napi::Object exports) {
  exports.Set("renderViews",
              Napi::Function::New(
                  env, [](const Napi::CallbackInfo& info) { return RenderViews(info, false); }, "renderViews"));
  Napi::Object testing = TestingExports(env, exports);
  testing.Set(
      "renderViewsWithTensorOps",
      Napi::Function::New(
          env, [](const Napi::CallbackInfo& info) { return RenderViews(info, true); }, "renderViewsWithTensorOps"));
  testing.Set("randAugment", Napi::Function::New(env, RandAugment, "randAugment"));
}

}  // namespace sere::binding
