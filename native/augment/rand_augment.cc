#include "augment/rand_augment.h"

#include <array>
#include <cmath>
#include <iterator>
#include <vector>

#include "augment/photometric.h"
#include "augment/subset.h"

namespace sere::augment {
namespace {

static_assert(std::size(kRandAugmentOpNames) == static_cast<size_t>(RandAugmentOp::kCount));

// Python's math.radians and math.degrees, which torchvision's angles go through.
constexpr double kPi = 3.14159265358979323846;
constexpr double kRadiansPerDegree = kPi / 180.0;
constexpr double kDegreesPerRadian = 180.0 / kPi;

// torchvision's _get_inverse_affine_matrix (inverted, scale 1): for each output pixel, the
// input point it samples, in coordinates centred on the image. Angles in degrees.
using AffineMatrix = std::array<double, 6>;
AffineMatrix InverseAffine(double cx, double cy, double angle, double tx, double ty, double shear_x, double shear_y) {
  const double rot = angle * kRadiansPerDegree, sx = shear_x * kRadiansPerDegree, sy = shear_y * kRadiansPerDegree;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  AffineMatrix m = {d, -b, 0.0, -c, a, 0.0};
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

// torchvision's F_t.affine with nearest sampling and no fill (zeros outside), one matrix per
// image. The grid is its _gen_affine_grid in float32, except that each coordinate's three-term
// sum is taken by elementwise ops instead of a matrix product: where a point lies halfway
// between two pixels its last bit picks the pixel, and a BLAS kernel's last bit depends on the
// kernel (fused multiply-adds or not) and on how the threads split the work.
at::Tensor Warp(const at::Tensor& x, const std::vector<AffineMatrix>& matrices) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  std::vector<float> entries;
  for (const AffineMatrix& m : matrices) entries.insert(entries.end(), m.begin(), m.end());
  at::Tensor theta = at::tensor(entries, at::kFloat).view({n, 2, 3}).to(x.device());
  at::Tensor half_size = at::tensor({0.5f * w, 0.5f * h}, at::kFloat).to(x.device());
  at::Tensor scaled = theta / half_size.view({1, 2, 1});  // torchvision's rescaled_theta, transposed
  auto coefficient = [&](int64_t out, int64_t in) { return scaled.select(1, out).select(1, in).view({n, 1, 1}); };
  // Pixel centres, centred on the image.
  at::Tensor xs = at::linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w, x.options()).view({1, 1, w});
  at::Tensor ys = at::linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h, x.options()).view({1, h, 1});
  at::Tensor grid_x = xs * coefficient(0, 0) + ys * coefficient(0, 1) + coefficient(0, 2);
  at::Tensor grid_y = xs * coefficient(1, 0) + ys * coefficient(1, 1) + coefficient(1, 2);
  constexpr int64_t kNearest = 1, kZeros = 0;
  return at::grid_sampler(x, at::stack({grid_x, grid_y}, 3), kNearest, kZeros, /*align_corners=*/false);
}

// torchvision passes center [0, 0] for the shears: the top-left corner, not the image centre.
at::Tensor Shear(const at::Tensor& x, const std::vector<double>& magnitudes, bool vertical) {
  const double cx = -0.5 * x.size(3), cy = -0.5 * x.size(2);
  std::vector<AffineMatrix> matrices;
  for (double m : magnitudes) {
    const double angle = std::atan(m) * kDegreesPerRadian;
    matrices.push_back(InverseAffine(cx, cy, 0.0, 0.0, 0.0, vertical ? 0.0 : angle, vertical ? angle : 0.0));
  }
  return Warp(x, matrices);
}

at::Tensor Translate(const at::Tensor& x, const std::vector<double>& magnitudes, bool vertical) {
  std::vector<AffineMatrix> matrices;
  for (double m : magnitudes) {
    const double pixels = std::trunc(m);  // torchvision's int(magnitude)
    matrices.push_back(InverseAffine(0.0, 0.0, 0.0, vertical ? 0.0 : pixels, vertical ? pixels : 0.0, 0.0, 0.0));
  }
  return Warp(x, matrices);
}

// F.rotate hands the affine matrix -angle: the two turn opposite ways.
at::Tensor Rotate(const at::Tensor& x, const std::vector<double>& degrees) {
  std::vector<AffineMatrix> matrices;
  for (double m : degrees) matrices.push_back(InverseAffine(0.0, 0.0, -m, 0.0, 0.0, 0.0, 0.0));
  return Warp(x, matrices);
}

// The blend factors 1 + magnitude, one per image, as torchvision's float ratio.
at::Tensor Factors(const at::Tensor& x, const std::vector<double>& magnitudes, RandAugmentOp op) {
  std::vector<float> factors;
  for (double m : magnitudes) {
    TORCH_CHECK(1.0 + m >= 0.0, "RandAugment: ", kRandAugmentOpNames[static_cast<int64_t>(op)], " magnitude ", m,
                " is below -1 (a negative blend factor)");
    factors.push_back(static_cast<float>(1.0 + m));
  }
  return at::tensor(factors, at::kFloat).to(x.device());
}

// torchvision's convert_image_dtype, float to uint8 and back.
at::Tensor ToUint8(const at::Tensor& x) { return (x * (255.0 + 1.0 - 1e-3)).to(at::kByte); }
at::Tensor ToFloat(const at::Tensor& x) { return x.to(at::kFloat) / 255.0; }

// Keeps the top `bits` bits of each uint8 value.
at::Tensor Posterize(const at::Tensor& x, const std::vector<double>& magnitudes) {
  std::vector<int64_t> masks;
  for (double m : magnitudes) {
    const int64_t bits = static_cast<int64_t>(std::trunc(m));
    TORCH_CHECK(bits >= 0 && bits <= 8, "RandAugment: Posterize keeps 0 to 8 bits, got ", m);
    masks.push_back((0xFF << (8 - bits)) & 0xFF);
  }
  at::Tensor mask = at::tensor(masks, at::kLong).to(at::kByte).to(x.device()).view({-1, 1, 1, 1});
  return ToFloat(ToUint8(x).bitwise_and(mask));
}

at::Tensor SolarizeAbove(const at::Tensor& x, const std::vector<double>& thresholds) {
  for (double t : thresholds)
    TORCH_CHECK(t <= 1.0, "RandAugment: the Solarize threshold is a fraction of 1 (uint8 units / 255), got ", t);
  std::vector<float> values(thresholds.begin(), thresholds.end());
  return Solarize(x, at::tensor(values, at::kFloat).to(x.device()));
}

// Each channel stretched to [0, 1]; a channel of one value is left as it is.
at::Tensor AutoContrast(const at::Tensor& x) {
  at::Tensor low = x.amin({2, 3}, /*keepdim=*/true), high = x.amax({2, 3}, /*keepdim=*/true);
  at::Tensor scale = 1.0 / (high - low);
  at::Tensor flat = at::isfinite(scale).logical_not();
  low.masked_fill_(flat, 0.0);
  scale.masked_fill_(flat, 1.0);
  return ((x - low) * scale).clamp(0.0, 1.0);
}

// torchvision's equalize (_scale_channel) on every channel of every uint8 image at once: a
// lookup table from the channel's cumulative histogram, in steps of the pixels that are not
// of its largest value, / 255. With a step of 0 the channel is left as it is.
at::Tensor Equalize(const at::Tensor& x) {
  at::Tensor u8 = ToUint8(x);
  const int64_t channels = u8.size(0) * u8.size(1);
  at::Tensor values = u8.reshape({channels, -1}).to(at::kLong);
  at::Tensor histogram = at::zeros({channels, 256}, values.options()).scatter_add_(1, values, at::ones_like(values));
  at::Tensor largest = std::get<0>(values.max(1, /*keepdim=*/true));
  at::Tensor step = at::div(values.size(1) - histogram.gather(1, largest), 255, "floor");
  at::Tensor table =
      at::div(histogram.cumsum(1) + at::div(step, 2, "floor"), step.clamp_min(1), "floor").narrow(1, 0, 255);
  table = at::cat({at::zeros({channels, 1}, table.options()), table}, 1).clamp(0, 255);
  at::Tensor equalized = at::where(step == 0, values, table.gather(1, values));
  return ToFloat(equalized.view(u8.sizes()));
}

// One op on the images that draw it at this position, with their magnitudes.
at::Tensor Apply(RandAugmentOp op, const at::Tensor& x, const std::vector<double>& magnitudes) {
  switch (op) {
    case RandAugmentOp::kShearX:
      return Shear(x, magnitudes, false);
    case RandAugmentOp::kShearY:
      return Shear(x, magnitudes, true);
    case RandAugmentOp::kTranslateX:
      return Translate(x, magnitudes, false);
    case RandAugmentOp::kTranslateY:
      return Translate(x, magnitudes, true);
    case RandAugmentOp::kRotate:
      return Rotate(x, magnitudes);
    case RandAugmentOp::kBrightness:
      return Brightness(x, Factors(x, magnitudes, op));
    case RandAugmentOp::kColor:
      return Saturation(x, Factors(x, magnitudes, op));
    case RandAugmentOp::kContrast:
      return Contrast(x, Factors(x, magnitudes, op));
    case RandAugmentOp::kSharpness:
      return Sharpness(x, Factors(x, magnitudes, op));
    case RandAugmentOp::kPosterize:
      return Posterize(x, magnitudes);
    case RandAugmentOp::kSolarize:
      return SolarizeAbove(x, magnitudes);
    case RandAugmentOp::kAutoContrast:
      return AutoContrast(x);
    case RandAugmentOp::kEqualize:
      return Equalize(x);
    default:
      return x;
  }
}

}  // namespace

at::Tensor RandAugment(const at::Tensor& images, const at::Tensor& ops, const at::Tensor& magnitudes) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3 && images.scalar_type() == at::kFloat,
              "RandAugment: images must be float32 (N, 3, H, W), got ", images.scalar_type(), " ", images.sizes());
  TORCH_CHECK(ops.dim() == 2 && ops.size(0) == images.size(0) && !ops.is_floating_point(),
              "RandAugment: ops must be integer (N, K) with N = ", images.size(0), ", got ", ops.sizes());
  TORCH_CHECK(magnitudes.sizes() == ops.sizes() && magnitudes.is_floating_point(),
              "RandAugment: magnitudes must be floating point, shaped as ops ", ops.sizes(), ", got ",
              magnitudes.sizes());
  at::Tensor op_table = ops.to(at::kCPU, at::kLong).contiguous();
  at::Tensor magnitude_table = magnitudes.to(at::kCPU, at::kDouble).contiguous();
  auto op_of = op_table.accessor<int64_t, 2>();
  auto magnitude_of = magnitude_table.accessor<double, 2>();
  const int64_t n = ops.size(0), k = ops.size(1), count = static_cast<int64_t>(RandAugmentOp::kCount);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      TORCH_CHECK(op_of[i][j] >= 0 && op_of[i][j] < count, "RandAugment: image ", i, "'s op ", j, " is ", op_of[i][j],
                  ", not an op index 0..", count - 1);

  at::Tensor out = images.clone(at::MemoryFormat::Contiguous);
  // At each position, every op runs once, batched over the images that draw it there.
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t op = 1; op < count; ++op) {  // 0, Identity, changes nothing
      std::vector<int64_t> idx;
      std::vector<double> values;
      for (int64_t i = 0; i < n; ++i) {
        if (op_of[i][j] != op) continue;
        idx.push_back(i);
        values.push_back(magnitude_of[i][j]);
      }
      ApplyTo(out, idx, [&](const at::Tensor& x) { return Apply(static_cast<RandAugmentOp>(op), x, values); });
    }
  }
  return out;
}

}  // namespace sere::augment
