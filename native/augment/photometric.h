#pragma once
// Photometric operations on float images in [0, 1], shaped (N, 3, H, W), with one
// parameter per image (a tensor of N values on the images' device). The definitions
// are torchvision's functional tensor ops (transforms/functional_tensor.py). The CPU
// renders views with per-pixel loops instead (cpu_render.cc); these run on other devices.
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
// Blend with a smoothed copy whose border pixels are the image's own: torchvision's adjust_sharpness.
at::Tensor Sharpness(const at::Tensor& x, const at::Tensor& factor);
// Values >= the image's threshold are inverted (1 - x).
at::Tensor Solarize(const at::Tensor& x, const at::Tensor& threshold);

}  // namespace sere::augment
