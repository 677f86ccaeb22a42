#include "augment/cpu_render.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

// The pixel loops are compiled for several x86-64 instruction sets (SSE2, AVX2 with FMA,
// AVX-512); the best one this CPU has is picked when the addon loads. Without trapping
// maths (nothing here enables floating-point traps) the selects below may be computed
// for all lanes, so the loops vectorise; the values are unchanged. Helpers called from
// them are always inlined: a plain inline function is not inlined across targets.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SERE_PIXEL_LOOP \
  __attribute__((target_clones("default", "arch=haswell", "arch=x86-64-v4"), optimize("no-trapping-math")))
#else
#define SERE_PIXEL_LOOP
#endif
#if defined(__GNUC__)
#define SERE_INLINE __attribute__((always_inline)) inline
#define SERE_FLOOR __builtin_floorf  // std::floor is a plain inline function
#else
#define SERE_INLINE inline
#define SERE_FLOOR std::floor
#endif

namespace sere::augment {
namespace {

SERE_INLINE float Max(float a, float b) { return a > b ? a : b; }
SERE_INLINE float Min(float a, float b) { return a < b ? a : b; }
SERE_INLINE float Clamp01(float v) { return Min(Max(v, 0.0f), 1.0f); }

// One resize axis: for each output index, the first input index, how many inputs it
// reads and their weights (`stride` per output index).
struct ResizeTaps {
  std::vector<int64_t> first, count;
  std::vector<float> weights;
  int64_t stride = 0;
};

// The bicubic filter with a = -0.5, as PIL's and ATen's antialiased resize.
float Cubic(float x) {
  constexpr float a = -0.5f;
  x = std::abs(x);
  if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
  if (x < 2.0f) return (((x - 5.0f) * x + 8.0f) * x - 4.0f) * a;
  return 0.0f;
}

// ATen's _upsample_bicubic2d_aa weights for one axis (PIL's): when shrinking, the filter
// is stretched by the scale, so every input pixel contributes and nothing aliases.
ResizeTaps BicubicTaps(int64_t in, int64_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float support = 2.0f * std::max(scale, 1.0f);
  const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  ResizeTaps taps;
  taps.stride = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out);
  taps.count.resize(out);
  taps.weights.assign(out * taps.stride, 0.0f);
  for (int64_t i = 0; i < out; ++i) {
    const float center = scale * (i + 0.5f);
    const int64_t first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5f), 0);
    const int64_t count = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5f), in) - first;
    float* w = taps.weights.data() + i * taps.stride;
    float total = 0.0f;
    for (int64_t j = 0; j < count; ++j) total += w[j] = Cubic((j + first - center + 0.5f) * invscale);
    for (int64_t j = 0; total != 0.0f && j < count; ++j) w[j] /= total;
    taps.first[i] = first;
    taps.count[i] = count;
  }
  return taps;
}

// Vertical resize pass, straight from the crop's interleaved uint8 rows (`row_bytes`
// apart, `values` = width x 3 used): `rows` becomes out_rows x values floats in [0, 1].
// The loops run along the row, so they vectorise.
SERE_PIXEL_LOOP void ResizeVertically(const uint8_t* crop, int64_t row_bytes, int64_t values, const ResizeTaps& taps,
                                      float* rows) {
  const int64_t out_rows = static_cast<int64_t>(taps.first.size());
  for (int64_t y = 0; y < out_rows; ++y) {
    float* row = rows + y * values;
    for (int64_t i = 0; i < values; ++i) row[i] = 0.0f;
    for (int64_t k = 0; k < taps.count[y]; ++k) {
      const uint8_t* src = crop + (taps.first[y] + k) * row_bytes;
      const float w = taps.weights[y * taps.stride + k];
      for (int64_t i = 0; i < values; ++i) row[i] += w * static_cast<float>(src[i]);
    }
    for (int64_t i = 0; i < values; ++i) row[i] /= 255.0f;
  }
}

// Horizontal resize pass: interleaved rows to three planes of out_rows x size, mirrored
// when flipped, clamped to [0, 1] (bicubic overshoots; PIL clamps to the pixel range too).
SERE_PIXEL_LOOP void ResizeHorizontally(const float* rows, int64_t values, int64_t out_rows, const ResizeTaps& taps,
                                        bool flipped, float* planes) {
  const int64_t size = static_cast<int64_t>(taps.first.size()), plane = out_rows * size;
  for (int64_t y = 0; y < out_rows; ++y) {
    const float* row = rows + y * values;
    for (int64_t x = 0; x < size; ++x) {
      const float* w = taps.weights.data() + x * taps.stride;
      const float* src = row + taps.first[x] * 3;
      float r = 0.0f, g = 0.0f, b = 0.0f;
      for (int64_t k = 0; k < taps.count[x]; ++k) {
        r += w[k] * src[3 * k];
        g += w[k] * src[3 * k + 1];
        b += w[k] * src[3 * k + 2];
      }
      const int64_t at = y * size + (flipped ? size - 1 - x : x);
      planes[at] = Clamp01(r);
      planes[plane + at] = Clamp01(g);
      planes[2 * plane + at] = Clamp01(b);
    }
  }
}

SERE_INLINE float Luma(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }

// torchvision's _blend for float images.
SERE_INLINE float Blend(float a, float other, float ratio) { return Clamp01(ratio * a + (1.0f - ratio) * other); }

// Brightness (other = 0), contrast (other = the mean luma) or saturation (other = the
// pixel's luma, when per_pixel_luma).
SERE_PIXEL_LOOP void BlendPlanes(float* r, float* g, float* b, int64_t n, float ratio, float other,
                                 bool per_pixel_luma) {
  for (int64_t i = 0; i < n; ++i) {
    const float o = per_pixel_luma ? Luma(r[i], g[i], b[i]) : other;
    r[i] = Blend(r[i], o, ratio);
    g[i] = Blend(g[i], o, ratio);
    b[i] = Blend(b[i], o, ratio);
  }
}

double LumaSum(const float* r, const float* g, const float* b, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += Luma(r[i], g[i], b[i]);
  return sum;
}

// torchvision's adjust_hue (_rgb2hsv, shift, _hsv2rgb) per pixel with the same float
// operations, written with selects instead of branches so that it vectorises.
SERE_PIXEL_LOOP void ShiftHue(float* r, float* g, float* b, int64_t n, float shift) {
  for (int64_t k = 0; k < n; ++k) {
    const float red = r[k], green = g[k], blue = b[k];
    const float maxc = Max(red, Max(green, blue)), minc = Min(red, Min(green, blue));
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float s = cr / (eqc ? 1.0f : maxc);
    const float divisor = eqc ? 1.0f : cr;
    const float rc = (maxc - red) / divisor, gc = (maxc - green) / divisor, bc = (maxc - blue) / divisor;
    const float from_red = bc - gc, from_green = 2.0f + rc - bc, from_blue = 4.0f + gc - rc;
    float h = maxc == red ? from_red : maxc == green ? from_green : from_blue;
    h = h / 6.0f + 1.0f;  // > 0, so fmod(h, 1) is h - floor(h), exactly
    h = h - SERE_FLOOR(h);
    h = h + shift;
    h = h - SERE_FLOOR(h);  // remainder(h, 1)
    const float floor6 = SERE_FLOOR(h * 6.0f);
    const float f = h * 6.0f - floor6;
    const float i = floor6 - (floor6 >= 6.0f ? 6.0f : 0.0f);  // torchvision's i % 6
    const float v = maxc;
    const float p = Clamp01(v * (1.0f - s));
    const float q = Clamp01(v * (1.0f - s * f));
    const float t = Clamp01(v * (1.0f - s * (1.0f - f)));
    // Sector i gives (r, g, b) = (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q).
    const float red_out = i == 1.0f ? q : i == 4.0f ? t : p;
    const float green_out = i == 0.0f ? t : i == 3.0f ? q : p;
    const float blue_out = i == 2.0f ? t : i == 5.0f ? q : p;
    r[k] = i == 0.0f ? v : i == 5.0f ? v : red_out;
    g[k] = i == 1.0f ? v : i == 2.0f ? v : green_out;
    b[k] = i == 3.0f ? v : i == 4.0f ? v : blue_out;
  }
}

SERE_PIXEL_LOOP void Grayscale(float* r, float* g, float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) r[i] = g[i] = b[i] = Luma(r[i], g[i], b[i]);
}

// Gaussian blur of one side x side plane: torchvision's kernel of 2 * half + 1 taps,
// applied separably with reflect padding. Each row is padded once, so the inner loops
// run over contiguous memory. `rows` and `padded` are scratch space.
SERE_PIXEL_LOOP void BlurPlane(float* plane, int64_t side, const float* kernel, int64_t half, float* rows,
                               float* padded) {
  const int64_t taps = 2 * half + 1;
  auto reflect = [side](int64_t i) { return i < 0 ? -i : i >= side ? 2 * (side - 1) - i : i; };
  for (int64_t y = 0; y < side; ++y) {
    for (int64_t i = 0; i < side + 2 * half; ++i) padded[i] = plane[y * side + reflect(i - half)];
    float* row = rows + y * side;
    for (int64_t x = 0; x < side; ++x) row[x] = 0.0f;
    for (int64_t k = 0; k < taps; ++k) {
      const float w = kernel[k];
      for (int64_t x = 0; x < side; ++x) row[x] += padded[x + k] * w;
    }
  }
  for (int64_t y = 0; y < side; ++y) {
    float* out = plane + y * side;
    for (int64_t x = 0; x < side; ++x) out[x] = 0.0f;
    for (int64_t k = 0; k < taps; ++k) {
      const float* row = rows + reflect(y + k - half) * side;
      const float w = kernel[k];
      for (int64_t x = 0; x < side; ++x) out[x] += row[x] * w;
    }
  }
}

// torchvision's _get_gaussian_kernel1d(2 * half + 1, sigma) in float32.
std::vector<float> GaussianKernel(float sigma, int64_t half) {
  std::vector<float> kernel(2 * half + 1);
  float total = 0.0f;
  for (int64_t k = 0; k <= 2 * half; ++k) {
    const float t = static_cast<float>(k - half) / sigma;
    total += kernel[k] = std::exp(-0.5f * t * t);
  }
  for (float& w : kernel) w /= total;
  return kernel;
}

// Solarisation (when asked) and normalisation of one plane, in place.
SERE_PIXEL_LOOP void Finish(float* plane, int64_t n, bool solarize, float mean, float std) {
  const float threshold = 128.0f / 255.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = solarize && plane[i] >= threshold ? 1.0f - plane[i] : plane[i];
    plane[i] = (v - mean) / std;
  }
}

// Scratch space of one thread, reused from view to view.
struct Scratch {
  std::vector<float> rows, blur_rows, padded;
};

// Renders view v of the group into `out` (3 planes of size x size).
void RenderView(const SourceImages& images, const ViewGroup& group, int64_t v, const Normalisation& normalisation,
                float* out, Scratch& scratch) {
  auto box = group.boxes.accessor<int32_t, 2>()[v];
  auto c = group.colour.accessor<float, 2>()[v];
  const int64_t size = group.size, plane = size * size;
  const int64_t image = box[kImage], width = images.widths[image];
  const uint8_t* crop = images.pixels[image] + (box[kY] * width + box[kX]) * 3;

  const ResizeTaps vertical = BicubicTaps(box[kHeight], size), horizontal = BicubicTaps(box[kWidth], size);
  scratch.rows.resize(size * box[kWidth] * 3);
  ResizeVertically(crop, width * 3, box[kWidth] * 3, vertical, scratch.rows.data());
  ResizeHorizontally(scratch.rows.data(), box[kWidth] * 3, size, horizontal, box[kFlipped] != 0, out);

  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  if (c[kJitter] != 0) {
    // An op whose factor is the identity is skipped: it would change nothing.
    constexpr float kIdentity[4] = {1.0f, 1.0f, 1.0f, 0.0f};
    for (int position = 0; position < 4; ++position) {
      const int op = static_cast<int>(c[kOrder0 + position]);
      const float factor = c[kBrightness + op];
      if (factor == kIdentity[op]) continue;
      switch (op) {
        case 0:
          BlendPlanes(r, g, b, plane, factor, 0.0f, false);
          break;
        case 1: {
          const float mean = static_cast<float>(LumaSum(r, g, b, plane) / static_cast<double>(plane));
          BlendPlanes(r, g, b, plane, factor, mean, false);
          break;
        }
        case 2:
          BlendPlanes(r, g, b, plane, factor, 0.0f, true);
          break;
        default:
          ShiftHue(r, g, b, plane, factor);
      }
    }
  }
  if (c[kGrayscale] != 0) Grayscale(r, g, b, plane);
  if (c[kBlurSigma] > 0) {
    const float sigma = c[kBlurSigma];
    const int64_t half = static_cast<int64_t>(std::ceil(3.0 * sigma));  // < size: CheckGroup
    const std::vector<float> kernel = GaussianKernel(sigma, half);
    scratch.blur_rows.resize(plane);
    scratch.padded.resize(size + 2 * half);
    for (int channel = 0; channel < 3; ++channel)
      BlurPlane(out + channel * plane, size, kernel.data(), half, scratch.blur_rows.data(), scratch.padded.data());
  }
  for (int channel = 0; channel < 3; ++channel)
    Finish(out + channel * plane, plane, c[kSolarize] != 0, normalisation.mean[channel], normalisation.std[channel]);
}

}  // namespace

at::Tensor RenderGroupCpu(const SourceImages& images, const ViewGroup& group, const Normalisation& normalisation) {
  const int64_t views = group.boxes.size(0), size = group.size;
  at::Tensor out = at::empty({views, 3, size, size}, at::kFloat);
  float* base = out.data_ptr<float>();
  // The views are independent jobs of similar size: spread them over the threads.
  at::parallel_for(0, views, 1, [&](int64_t begin, int64_t end) {
    Scratch scratch;
    for (int64_t v = begin; v < end; ++v)
      RenderView(images, group, v, normalisation, base + v * 3 * size * size, scratch);
  });
  return out;
}

}  // namespace sere::augment
