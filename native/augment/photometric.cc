#include "augment/photometric.h"

#include <algorithm>
#include <cmath>

namespace sere::augment {
namespace {

at::Tensor PerImage(const at::Tensor& values) { return values.view({-1, 1, 1, 1}); }

// (N, 1, H, W): ITU-R 601-2 luma, as torchvision's rgb_to_grayscale.
at::Tensor Luma(const at::Tensor& x) {
  return (0.2989 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2)).unsqueeze(1);
}

// torchvision's _blend for float images.
at::Tensor Blend(const at::Tensor& a, const at::Tensor& b, const at::Tensor& ratio) {
  at::Tensor r = PerImage(ratio);
  return (r * a + (1.0 - r) * b).clamp(0.0, 1.0);
}

}  // namespace

at::Tensor Brightness(const at::Tensor& x, const at::Tensor& factor) { return Blend(x, at::zeros_like(x), factor); }

at::Tensor Contrast(const at::Tensor& x, const at::Tensor& factor) {
  at::Tensor mean = Luma(x).mean({1, 2, 3}, /*keepdim=*/true);
  return Blend(x, mean, factor);
}

at::Tensor Saturation(const at::Tensor& x, const at::Tensor& factor) { return Blend(x, Luma(x), factor); }

// torchvision's adjust_hue (_rgb2hsv, shift, _hsv2rgb) with the same float operations.
// Where torchvision multiplies by 0/1 masks and sums (exactly one term is non-zero), this
// selects with where(): the same values, without its many full-size temporaries.
at::Tensor Hue(const at::Tensor& x, const at::Tensor& shift) {
  at::Tensor r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);
  at::Tensor maxc = at::amax(x, 1), minc = at::amin(x, 1);
  at::Tensor eqc = maxc == minc;
  at::Tensor cr = maxc - minc;
  at::Tensor s = cr / at::where(eqc, at::ones_like(maxc), maxc);
  at::Tensor cr_divisor = at::where(eqc, at::ones_like(maxc), cr);
  at::Tensor rc = (maxc - r) / cr_divisor, gc = (maxc - g) / cr_divisor, bc = (maxc - b) / cr_divisor;
  at::Tensor is_r = maxc == r, is_g = (maxc == g) & ~is_r;
  at::Tensor h = at::where(is_r, bc - gc, at::where(is_g, 2.0 + rc - bc, 4.0 + gc - rc));
  h = at::fmod(h / 6.0 + 1.0, 1.0);
  h = at::remainder(h + shift.view({-1, 1, 1}), 1.0);
  const at::Tensor& v = maxc;
  at::Tensor i = at::floor(h * 6.0);
  at::Tensor f = h * 6.0 - i;
  at::Tensor sector = at::remainder(i, 6.0);  // i is integral: the same as torchvision's int32 i % 6
  at::Tensor p = (v * (1.0 - s)).clamp(0.0, 1.0);
  at::Tensor q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
  at::Tensor t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
  at::Tensor in[6];
  for (int k = 0; k < 6; ++k) in[k] = sector == static_cast<double>(k);
  // Sector k gives (r, g, b) = (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q).
  at::Tensor out_r = at::where(in[0] | in[5], v, at::where(in[1], q, at::where(in[4], t, p)));
  at::Tensor out_g = at::where(in[1] | in[2], v, at::where(in[0], t, at::where(in[3], q, p)));
  at::Tensor out_b = at::where(in[3] | in[4], v, at::where(in[2], t, at::where(in[5], q, p)));
  return at::stack({out_r, out_g, out_b}, 1);
}

at::Tensor Grayscale(const at::Tensor& x) { return Luma(x).expand({-1, 3, -1, -1}).contiguous(); }

at::Tensor GaussianBlur(const at::Tensor& x, const at::Tensor& sigma_cpu) {
  const int64_t n = x.size(0);
  at::Tensor sigmas = sigma_cpu.to(at::kFloat).contiguous();
  const float* sigma = sigmas.data_ptr<float>();
  int64_t half = 0;
  for (int64_t k = 0; k < n; ++k) half = std::max<int64_t>(half, static_cast<int64_t>(std::ceil(3.0 * sigma[k])));
  const int64_t side = 2 * half + 1;
  // Each image's own kernel (torchvision's _get_gaussian_kernel1d, float32), centred in
  // a common width with zeros beyond it: with reflect padding of the common width the
  // result is the same as padding each image by its own half width.
  at::Tensor kernels = at::zeros({n, side}, at::kFloat);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t own_half = static_cast<int64_t>(std::ceil(3.0 * sigma[k]));
    at::Tensor t =
        at::linspace(-static_cast<double>(own_half), static_cast<double>(own_half), 2 * own_half + 1, at::kFloat);
    at::Tensor pdf = at::exp(-0.5 * (t / sigma[k]).pow(2));
    kernels[k].narrow(0, half - own_half, 2 * own_half + 1).copy_(pdf / pdf.sum());
  }
  const int64_t h = x.size(2), w = x.size(3);
  TORCH_CHECK(half < h && half < w, "Gaussian blur: sigma up to ", half / 3.0, " needs views larger than ", half,
              " pixels, got ", h, "x", w);
  kernels = kernels.to(x.device());
  // Separable, as a sum of shifted copies weighted per image: far cheaper than a grouped
  // convolution with one group per image and channel.
  at::Tensor padded = at::reflection_pad2d(x, {half, half, half, half});
  at::Tensor rows = at::zeros({n, 3, h + 2 * half, w}, x.options());
  for (int64_t k = 0; k < side; ++k) rows.addcmul_(padded.narrow(3, k, w), kernels.select(1, k).view({n, 1, 1, 1}));
  at::Tensor both = at::zeros({n, 3, h, w}, x.options());
  for (int64_t k = 0; k < side; ++k) both.addcmul_(rows.narrow(2, k, h), kernels.select(1, k).view({n, 1, 1, 1}));
  return both;
}

at::Tensor Sharpness(const at::Tensor& x, const at::Tensor& factor) {
  const int64_t h = x.size(2), w = x.size(3);
  if (h <= 2 || w <= 2) return x;  // no inner pixels to smooth: torchvision returns the image
  at::Tensor kernel = at::ones({3, 3}, x.options());
  kernel[1][1] = 5.0;
  kernel /= kernel.sum();
  at::Tensor smooth = x.clone();
  smooth.narrow(2, 1, h - 2)
      .narrow(3, 1, w - 2)
      .copy_(at::conv2d(x, kernel.expand({x.size(1), 1, 3, 3}), {}, /*stride=*/1, /*padding=*/at::IntArrayRef{0},
                        /*dilation=*/1, /*groups=*/x.size(1)));
  return Blend(x, smooth, factor);
}

at::Tensor Solarize(const at::Tensor& x, const at::Tensor& threshold) {
  return at::where(x >= PerImage(threshold), 1.0 - x, x);
}

}  // namespace sere::augment
