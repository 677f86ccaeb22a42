#include "augment/photometric.h"

#include <cmath>
#include <vector>

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

at::Tensor Brightness(const at::Tensor& x, const at::Tensor& factor) {
  return Blend(x, at::zeros_like(x), factor);
}

at::Tensor Contrast(const at::Tensor& x, const at::Tensor& factor) {
  at::Tensor mean = Luma(x).mean({1, 2, 3}, /*keepdim=*/true);
  return Blend(x, mean, factor);
}

at::Tensor Saturation(const at::Tensor& x, const at::Tensor& factor) { return Blend(x, Luma(x), factor); }

at::Tensor Hue(const at::Tensor& x, const at::Tensor& shift) {
  // RGB -> HSV (torchvision's _rgb2hsv)
  at::Tensor r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);
  at::Tensor maxc = std::get<0>(x.max(1)), minc = std::get<0>(x.min(1));
  at::Tensor eqc = maxc == minc;
  at::Tensor cr = maxc - minc;
  at::Tensor ones = at::ones_like(maxc);
  at::Tensor s = cr / at::where(eqc, ones, maxc);
  at::Tensor cr_divisor = at::where(eqc, ones, cr);
  at::Tensor rc = (maxc - r) / cr_divisor, gc = (maxc - g) / cr_divisor, bc = (maxc - b) / cr_divisor;
  at::Tensor hr = (maxc == r) * (bc - gc);
  at::Tensor hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc);
  at::Tensor hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc);
  at::Tensor h = at::fmod((hr + hg + hb) / 6.0 + 1.0, 1.0);
  h = at::remainder(h + shift.view({-1, 1, 1}), 1.0);
  at::Tensor v = maxc;
  // HSV -> RGB (torchvision's _hsv2rgb)
  at::Tensor i = at::floor(h * 6.0);
  at::Tensor f = h * 6.0 - i;
  at::Tensor sector = at::remainder(i.to(at::kInt), 6);
  at::Tensor p = (v * (1.0 - s)).clamp(0.0, 1.0);
  at::Tensor q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
  at::Tensor t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
  at::Tensor mask = (sector.unsqueeze(1) == at::arange(6, sector.options()).view({-1, 1, 1})).to(x.scalar_type());
  at::Tensor a1 = at::stack({v, q, p, p, t, v}, 1);
  at::Tensor a2 = at::stack({t, v, v, q, p, p}, 1);
  at::Tensor a3 = at::stack({p, p, t, v, v, q}, 1);
  at::Tensor a4 = at::stack({a1, a2, a3}, 1);  // (N, 3, 6, H, W)
  return at::einsum("nijk,nxijk->nxjk", {mask, a4});
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
    int64_t own_half = static_cast<int64_t>(std::ceil(3.0 * sigma[k]));
    at::Tensor t = at::linspace(-static_cast<double>(own_half), static_cast<double>(own_half), 2 * own_half + 1, at::kFloat);
    at::Tensor pdf = at::exp(-0.5 * (t / sigma[k]).pow(2));
    kernels[k].narrow(0, half - own_half, 2 * own_half + 1).copy_(pdf / pdf.sum());
  }
  kernels = kernels.to(x.device()).repeat_interleave(3, 0);  // (3N, side): one per channel
  const int64_t h = x.size(2), w = x.size(3);
  TORCH_CHECK(half < h && half < w, "Gaussian blur: sigma up to ", half / 3.0, " needs views larger than ", half,
              " pixels, got ", h, "x", w);
  at::Tensor padded = at::reflection_pad2d(x.reshape({1, 3 * n, h, w}), {half, half, half, half});
  at::Tensor rows = at::conv2d(padded, kernels.view({3 * n, 1, 1, side}), at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, 3 * n);
  at::Tensor both = at::conv2d(rows, kernels.view({3 * n, 1, side, 1}), at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, 3 * n);
  return both.view({n, 3, h, w});
}

at::Tensor Solarize(const at::Tensor& x) { return at::where(x >= 128.0 / 255.0, 1.0 - x, x); }

}  // namespace sere::augment
