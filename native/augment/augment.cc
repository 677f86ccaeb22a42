#include "augment/augment.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>

#include "augment/cpu_render.h"
#include "augment/photometric.h"
#include "augment/subset.h"
#include "runtime/threads.h"

namespace sere::augment {
namespace {

at::Device DeviceNamed(const std::string& name) {
  at::Device device(name);  // throws on a malformed name
  if (device.is_cuda() && !at::hasCUDA())
    throw std::invalid_argument("augment: device '" + name +
                                "' was asked for, but this LibTorch has no usable CUDA; use device 'cpu', or build "
                                "sere-torch against a CUDA LibTorch on a machine with a GPU");
  return device;
}

// Checks that there is one buffer, height and width per image.
void CheckImages(const SourceImages& images) {
  TORCH_CHECK(images.heights.size() == images.pixels.size() && images.widths.size() == images.pixels.size(),
              "augment: one pixel buffer, height and width per image");
  for (size_t i = 0; i < images.pixels.size(); ++i)
    TORCH_CHECK(images.pixels[i] != nullptr && images.heights[i] > 0 && images.widths[i] > 0, "augment: image ", i,
                " is ", images.widths[i], "x", images.heights[i]);
}

// Checks a group's shapes, that every box lies inside its image and that every view is
// large enough for its blur, before any pixel work.
void CheckGroup(const ViewGroup& group, const SourceImages& images) {
  TORCH_CHECK(group.boxes.dim() == 2 && group.boxes.size(1) == kBoxColumns && group.boxes.scalar_type() == at::kInt,
              "augment: boxes must be int32 (views, ", static_cast<int>(kBoxColumns), ")");
  TORCH_CHECK(group.colour.dim() == 2 && group.colour.size(1) == kColourColumns &&
                  group.colour.size(0) == group.boxes.size(0) && group.colour.scalar_type() == at::kFloat,
              "augment: colour parameters must be float32 (views, ", static_cast<int>(kColourColumns), ")");
  TORCH_CHECK(group.size > 0, "augment: view size must be positive");
  auto box = group.boxes.accessor<int32_t, 2>();
  auto colour = group.colour.accessor<float, 2>();
  const int64_t count = static_cast<int64_t>(images.heights.size());
  for (int64_t v = 0; v < group.boxes.size(0); ++v) {
    const int64_t image = box[v][kImage];
    TORCH_CHECK(image >= 0 && image < count, "augment: view ", v, " names image ", image, " of ", count);
    const int64_t h = images.heights[image], w = images.widths[image];
    TORCH_CHECK(box[v][kX] >= 0 && box[v][kY] >= 0 && box[v][kWidth] > 0 && box[v][kHeight] > 0 &&
                    box[v][kX] + box[v][kWidth] <= w && box[v][kY] + box[v][kHeight] <= h,
                "augment: view ", v, "'s box (x ", box[v][kX], ", y ", box[v][kY], ", w ", box[v][kWidth], ", h ",
                box[v][kHeight], ") is not inside its ", w, "x", h, " image");
    const float sigma = colour[v][kBlurSigma];
    TORCH_CHECK(sigma >= 0 && std::ceil(3.0 * sigma) < group.size, "augment: view ", v, "'s blur sigma ", sigma,
                " needs views larger than ", std::ceil(3.0 * sigma), " pixels, got ", group.size);
  }
}

// Each source image as float (1, 3, H, W) in [0, 1] on the device.
std::vector<at::Tensor> ToFloatImages(const SourceImages& images, const at::Device& device) {
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < images.pixels.size(); ++i) {
    const int64_t h = images.heights[i], w = images.widths[i];
    at::Tensor hwc = at::from_blob(const_cast<uint8_t*>(images.pixels[i]), {h, w, 3}, at::kByte).to(device);
    // Planar (NCHW) float: the resize kernel reads rows of one channel at a time.
    out.push_back(hwc.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div_(255.0).contiguous());
  }
  return out;
}

// Crop every view's box and resize it to size x size: bicubic (a = -0.5, as PIL) with
// antialiasing when shrinking; then flip the views marked flipped.
at::Tensor CropResizeFlip(const std::vector<at::Tensor>& images, const ViewGroup& group, const at::Device& device) {
  const int64_t views = group.boxes.size(0), size = group.size;
  auto box = group.boxes.accessor<int32_t, 2>();
  at::Tensor out = at::empty({views, 3, size, size}, at::TensorOptions().dtype(at::kFloat).device(device));
  auto render = [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      at::Tensor crop =
          images[box[v][kImage]].narrow(2, box[v][kY], box[v][kHeight]).narrow(3, box[v][kX], box[v][kWidth]);
      out[v].copy_(at::_upsample_bicubic2d_aa(crop, at::IntArrayRef{size, size}, false, c10::nullopt)[0]);
    }
  };
  // On the CPU the views are independent small jobs: spread them over the threads.
  if (device.is_cpu())
    at::parallel_for(0, views, 1, render);
  else
    render(0, views);
  out.clamp_(0.0, 1.0);  // bicubic overshoots; PIL clamps to the pixel range as well
  std::vector<int64_t> flipped;
  for (int64_t v = 0; v < views; ++v)
    if (box[v][kFlipped]) flipped.push_back(v);
  if (!flipped.empty()) {
    at::Tensor idx = at::tensor(flipped, at::kLong).to(device);
    out.index_copy_(0, idx, out.index_select(0, idx).flip({3}));
  }
  return out;
}

// Views whose `column` satisfies `wanted`, as indices, and that column's values for them.
template <class Wanted>
std::pair<std::vector<int64_t>, std::vector<float>> Select(const at::Tensor& colour, int column, Wanted wanted) {
  auto c = colour.accessor<float, 2>();
  std::vector<int64_t> idx;
  std::vector<float> values;
  for (int64_t v = 0; v < colour.size(0); ++v) {
    if (wanted(c[v])) {
      idx.push_back(v);
      values.push_back(c[v][column]);
    }
  }
  return {idx, values};
}

// Colour jitter and grayscale as batched tensor ops over the views that need each op.
void JitterAndGrayscale(at::Tensor& views, const at::Tensor& colour) {
  const at::Device device = views.device();
  // Colour jitter: at each of the four positions, the views whose order puts op k there.
  // An op whose factor is the identity is skipped (it would change nothing).
  constexpr int kFactorColumn[4] = {kBrightness, kContrast, kSaturation, kHue};
  constexpr float kIdentity[4] = {1.0f, 1.0f, 1.0f, 0.0f};
  for (int position = 0; position < 4; ++position) {
    for (int op = 0; op < 4; ++op) {
      auto [idx, factors] = Select(colour, kFactorColumn[op], [&](auto row) {
        return row[kJitter] != 0 && static_cast<int>(row[kOrder0 + position]) == op &&
               row[kFactorColumn[op]] != kIdentity[op];
      });
      if (idx.empty()) continue;
      at::Tensor factor = at::tensor(factors, at::kFloat).to(device);
      ApplyTo(views, idx, [&](const at::Tensor& x) {
        switch (op) {
          case 0:
            return Brightness(x, factor);
          case 1:
            return Contrast(x, factor);
          case 2:
            return Saturation(x, factor);
          default:
            return Hue(x, factor);
        }
      });
    }
  }
  auto gray = Select(colour, kGrayscale, [](auto row) { return row[kGrayscale] != 0; });
  ApplyTo(views, gray.first, [](const at::Tensor& x) { return Grayscale(x); });
}

void Photometric(at::Tensor& views, const at::Tensor& colour_in) {
  at::Tensor colour = colour_in.contiguous();
  JitterAndGrayscale(views, colour);
  auto blur = Select(colour, kBlurSigma, [](auto row) { return row[kBlurSigma] > 0; });
  ApplyTo(views, blur.first, [&](const at::Tensor& x) { return GaussianBlur(x, at::tensor(blur.second, at::kFloat)); });
  auto solarize = Select(colour, kSolarize, [](auto row) { return row[kSolarize] != 0; });
  ApplyTo(views, solarize.first,
          [](const at::Tensor& x) { return Solarize(x, at::full({x.size(0)}, 128.0 / 255.0, x.options())); });
}

}  // namespace

std::vector<at::Tensor> RenderViews(const SourceImages& images, const std::vector<ViewGroup>& groups,
                                    const Normalisation& normalisation, const std::string& device_name, int threads,
                                    bool tensor_ops) {
  const at::Device device = DeviceNamed(device_name);
  // The call runs on a libuv worker (one intra-op thread unless asked): more than one here gives
  // this worker an OpenMP team of its own beside the compute lane's (runtime/threads.h).
  if (threads > 0) SetIntraOpThreadsHere(threads);
  CheckImages(images);
  for (const ViewGroup& group : groups) CheckGroup(group, images);
  std::vector<at::Tensor> out;
  if (device.is_cpu() && !tensor_ops) {
    for (const ViewGroup& group : groups) out.push_back(RenderGroupCpu(images, group, normalisation));
    return out;
  }
  std::vector<at::Tensor> sources = ToFloatImages(images, device);
  at::Tensor mean = at::tensor(std::vector<float>(normalisation.mean.begin(), normalisation.mean.end()), at::kFloat)
                        .to(device)
                        .view({1, 3, 1, 1});
  at::Tensor std = at::tensor(std::vector<float>(normalisation.std.begin(), normalisation.std.end()), at::kFloat)
                       .to(device)
                       .view({1, 3, 1, 1});
  for (const ViewGroup& group : groups) {
    at::Tensor views = CropResizeFlip(sources, group, device);
    Photometric(views, group.colour);
    out.push_back(views.sub_(mean).div_(std));
  }
  return out;
}

}  // namespace sere::augment
