#pragma once
// Photometric operations on float images in [0, 1], shaped (N, 3, H, W), with one
// parameter per image (a tensor of N values on the images' device). The definitions
// are torchvision's functional tensor ops (transforms/functional_tensor.py).
#include <ATen/ATen.h>

namespace sere::augment {

at::Tensor Brightness(const at::Tensor& x, const at::Tensor& factor);
at::Tensor Contrast(const at::Tensor& x, const at::Tensor& factor);
at::Tensor Saturation(const at::Tensor& x, const at::Tensor& factor);
at::Tensor Hue(const at::Tensor& x, const at::Tensor& shift);
at::Tensor Grayscale(const at::Tensor& x);
// Kernel of side 2*ceil(3*sigma)+1 per image, reflect padding: torchvision's
// gaussian_blur(img, kernel_size, sigma) with that kernel size.
at::Tensor GaussianBlur(const at::Tensor& x, const at::Tensor& sigma_cpu);
at::Tensor Solarize(const at::Tensor& x);

// One view's colour jitter (ops in `order`: 0 brightness, 1 contrast, 2 saturation, 3 hue)
// and grayscale conversion.
struct ViewColour {
  bool jitter;
  float factors[4];  // brightness, contrast, saturation, hue shift
  int order[4];
  bool grayscale;
};

// Applies ViewColour to one float CPU view (3 planes of `plane` pixels) in place: the
// same float operations as the tensor ops above, in a few passes over the view.
void ColourInPlace(float* view, int64_t plane, const ViewColour& colour);

}  // namespace sere::augment
