#pragma once
// Executes a planned batch of multi-crop views on a device (CPU or CUDA). The plan
// (boxes, flips, photometric parameters) is made elsewhere; this code only does the
// pixel work, batched. It knows nothing about JavaScript.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sere::augment {

// Source images: uint8 RGB, height x width x 3 bytes each, in the caller's memory (which
// must stay alive and unchanged during the call).
struct SourceImages {
  std::vector<const uint8_t*> pixels;
  std::vector<int64_t> heights;
  std::vector<int64_t> widths;
};

// Columns of ViewGroup::boxes (int32, one row per view).
enum BoxColumn { kImage = 0, kX, kY, kWidth, kHeight, kFlipped, kBoxColumns };

// Columns of ViewGroup::colour (float32, one row per view).
enum ColourColumn {
  kJitter = 0,  // 1: apply colour jitter
  kBrightness,  // factor; 1 = unchanged
  kContrast,    // factor; 1 = unchanged
  kSaturation,  // factor; 1 = unchanged
  kHue,         // shift in [-0.5, 0.5]; 0 = unchanged
  kOrder0,      // kOrder0..kOrder0+3: op ids (0 brightness, 1 contrast, 2 saturation, 3 hue) in application order
  kGrayscale = kOrder0 + 4,  // 1: convert to grayscale
  kBlurSigma,                // Gaussian blur sigma; 0 = no blur
  kSolarize,                 // 1: invert values >= 128/255
  kColourColumns
};

// Views of one output size (all global views, or all local views).
struct ViewGroup {
  int64_t size;       // output side in pixels
  at::Tensor boxes;   // int32 (V, kBoxColumns), CPU
  at::Tensor colour;  // float32 (V, kColourColumns), CPU
};

struct Normalisation {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};

// One float32 tensor (V, 3, size, size) per group, on `device`, normalised. `threads` > 0
// sets the intra-op threads of this call's thread (e.g. 1, so that several batches render
// side by side without threads waiting on each other); 0 leaves the setting alone.
// On the CPU the views are rendered by cpu_render.cc; `tensor_ops` makes the CPU take the
// batched tensor ops that other devices run instead (so that tests can check them here).
std::vector<at::Tensor> RenderViews(const SourceImages& images, const std::vector<ViewGroup>& groups,
                                    const Normalisation& normalisation, const std::string& device, int threads = 0,
                                    bool tensor_ops = false);

}  // namespace sere::augment
