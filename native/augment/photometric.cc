#include "augment/photometric.h"

#include <ATen/Parallel.h>

#include <algorithm>
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

namespace {

// torchvision's adjust_hue for one pixel, in float.
inline void ShiftHue(float& r, float& g, float& b, float shift) {
  const float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  const bool eqc = maxc == minc;
  const float cr = maxc - minc;
  const float s = cr / (eqc ? 1.0f : maxc);
  const float divisor = eqc ? 1.0f : cr;
  const float rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
  float h = maxc == r ? bc - gc : maxc == g ? 2.0f + rc - bc : 4.0f + gc - rc;
  h = std::fmod(h / 6.0f + 1.0f, 1.0f);
  h = h + shift;
  h = h - std::floor(h);  // remainder(h, 1)
  const float i = std::floor(h * 6.0f);
  const float f = h * 6.0f - i;
  const int sector = static_cast<int>(i) % 6;
  const float v = maxc;
  const float p = std::clamp(v * (1.0f - s), 0.0f, 1.0f);
  const float q = std::clamp(v * (1.0f - s * f), 0.0f, 1.0f);
  const float t = std::clamp(v * (1.0f - s * (1.0f - f)), 0.0f, 1.0f);
  static constexpr int kPick[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
  const float candidates[4] = {v, p, q, t};  // indices used by kPick: 0 v, 1 p, 2 q, 3 t
  r = candidates[kPick[sector][0]];
  g = candidates[kPick[sector][1]];
  b = candidates[kPick[sector][2]];
}

// adjust_hue for float CPU images in one pass over the pixels: the same float operations
// as the tensor version below (which other devices use), without its ~30 full-size passes.
at::Tensor HueCpu(const at::Tensor& x_in, const at::Tensor& shift_in) {
  at::Tensor x = x_in.contiguous();
  at::Tensor shift = shift_in.to(at::kCPU).contiguous();
  at::Tensor out = at::empty_like(x);
  const int64_t n = x.size(0), plane = x.size(2) * x.size(3);
  const float* in = x.data_ptr<float>();
  const float* shifts = shift.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, n * plane, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t image = k / plane, pixel = k % plane;
      const float* src = in + image * 3 * plane + pixel;
      float r = src[0], g = src[plane], b = src[2 * plane];
      ShiftHue(r, g, b, shifts[image]);
      float* o = dst + image * 3 * plane + pixel;
      o[0] = r;
      o[plane] = g;
      o[2 * plane] = b;
    }
  });
  return out;
}

// The separable blur on the CPU, plane by plane, each view with its own kernel width
// (the common width's outer taps are zeros for the smaller sigmas). Each row is padded by
// reflection once, so the inner loops run over contiguous memory and vectorise.
at::Tensor BlurCpu(const at::Tensor& x_in, const at::Tensor& kernels, int64_t half, const std::vector<int64_t>& halves) {
  at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x);
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3), side = 2 * half + 1;
  const float* in = x.data_ptr<float>();
  const float* kernel_table = kernels.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  auto reflect = [](int64_t i, int64_t n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; };
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> rows(h * w), padded(w + 2 * half);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t own = halves[plane / 3], taps = 2 * own + 1;
      const float* kernel = kernel_table + (plane / 3) * side + (half - own);
      const float* src = in + plane * h * w;
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t i = 0; i < w + 2 * own; ++i) padded[i] = src[y * w + reflect(i - own, w)];
        float* row = rows.data() + y * w;
        std::fill(row, row + w, 0.0f);
        for (int64_t k = 0; k < taps; ++k) {
          const float weight = kernel[k];
          const float* shifted = padded.data() + k;
          for (int64_t xo = 0; xo < w; ++xo) row[xo] += shifted[xo] * weight;
        }
      }
      float* o = dst + plane * h * w;
      std::fill(o, o + h * w, 0.0f);
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t k = 0; k < taps; ++k) {
          const float* row = rows.data() + reflect(y + k - own, h) * w;
          const float weight = kernel[k];
          for (int64_t xo = 0; xo < w; ++xo) o[y * w + xo] += row[xo] * weight;
        }
      }
    }
  });
  return out;
}

}  // namespace

// torchvision's adjust_hue (_rgb2hsv, shift, _hsv2rgb) with the same float operations.
// Where torchvision multiplies by 0/1 masks and sums (exactly one term is non-zero), this
// selects with where(): the same values, without its many full-size temporaries.
at::Tensor Hue(const at::Tensor& x, const at::Tensor& shift) {
  if (x.is_cpu() && x.scalar_type() == at::kFloat) return HueCpu(x, shift);
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
  std::vector<int64_t> halves(n);
  for (int64_t k = 0; k < n; ++k) {
    int64_t own_half = halves[k] = static_cast<int64_t>(std::ceil(3.0 * sigma[k]));
    at::Tensor t = at::linspace(-static_cast<double>(own_half), static_cast<double>(own_half), 2 * own_half + 1, at::kFloat);
    at::Tensor pdf = at::exp(-0.5 * (t / sigma[k]).pow(2));
    kernels[k].narrow(0, half - own_half, 2 * own_half + 1).copy_(pdf / pdf.sum());
  }
  const int64_t h = x.size(2), w = x.size(3);
  TORCH_CHECK(half < h && half < w, "Gaussian blur: sigma up to ", half / 3.0, " needs views larger than ", half,
              " pixels, got ", h, "x", w);
  if (x.is_cpu() && x.scalar_type() == at::kFloat) return BlurCpu(x, kernels, half, halves);
  kernels = kernels.to(x.device());
  // Separable, as a sum of shifted copies weighted per image: far cheaper on the CPU than
  // a grouped convolution with one group per image and channel.
  at::Tensor padded = at::reflection_pad2d(x, {half, half, half, half});
  at::Tensor rows = at::zeros({n, 3, h + 2 * half, w}, x.options());
  for (int64_t k = 0; k < side; ++k)
    rows.addcmul_(padded.narrow(3, k, w), kernels.select(1, k).view({n, 1, 1, 1}));
  at::Tensor both = at::zeros({n, 3, h, w}, x.options());
  for (int64_t k = 0; k < side; ++k)
    both.addcmul_(rows.narrow(2, k, h), kernels.select(1, k).view({n, 1, 1, 1}));
  return both;
}

at::Tensor Solarize(const at::Tensor& x) { return at::where(x >= 128.0 / 255.0, 1.0 - x, x); }

}  // namespace sere::augment

namespace sere::augment {

void ColourInPlace(float* view, int64_t plane, const ViewColour& colour) {
  float* r = view;
  float* g = view + plane;
  float* b = view + 2 * plane;
  auto luma = [](float red, float green, float blue) { return 0.2989f * red + 0.587f * green + 0.114f * blue; };
  auto blend = [](float a, float other, float ratio) { return std::clamp(ratio * a + (1.0f - ratio) * other, 0.0f, 1.0f); };
  static constexpr float kIdentity[4] = {1.0f, 1.0f, 1.0f, 0.0f};
  for (int position = 0; colour.jitter && position < 4; ++position) {
    const int op = colour.order[position];
    const float f = colour.factors[op];
    if (f == kIdentity[op]) continue;
    switch (op) {
      case 0:  // brightness: blend with black
        for (int64_t i = 0; i < plane; ++i) {
          r[i] = blend(r[i], 0.0f, f);
          g[i] = blend(g[i], 0.0f, f);
          b[i] = blend(b[i], 0.0f, f);
        }
        break;
      case 1: {  // contrast: blend with the mean luma
        double sum = 0.0;
        for (int64_t i = 0; i < plane; ++i) sum += luma(r[i], g[i], b[i]);
        const float mean = static_cast<float>(sum / static_cast<double>(plane));
        for (int64_t i = 0; i < plane; ++i) {
          r[i] = blend(r[i], mean, f);
          g[i] = blend(g[i], mean, f);
          b[i] = blend(b[i], mean, f);
        }
        break;
      }
      case 2:  // saturation: blend with the pixel's luma
        for (int64_t i = 0; i < plane; ++i) {
          const float l = luma(r[i], g[i], b[i]);
          r[i] = blend(r[i], l, f);
          g[i] = blend(g[i], l, f);
          b[i] = blend(b[i], l, f);
        }
        break;
      default:
        for (int64_t i = 0; i < plane; ++i) ShiftHue(r[i], g[i], b[i], f);
    }
  }
  if (colour.grayscale) {
    for (int64_t i = 0; i < plane; ++i) r[i] = g[i] = b[i] = luma(r[i], g[i], b[i]);
  }
}

}  // namespace sere::augment
