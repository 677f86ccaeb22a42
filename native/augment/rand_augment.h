#pragma once
// RandAugment's image operations (torchvision 0.14, transforms/autoaugment.py: _apply_op with
// RandAugment's defaults, nearest interpolation and fill 0) on float images in [0, 1], shaped
// (N, 3, H, W). The ops and their magnitudes are drawn by the caller (src/data/rand-augment.ts).
//
// Each image has its own list of K (op, magnitude) pairs, applied in order. A magnitude is signed
// and in the op's own units, as _apply_op receives it:
//   ShearX, ShearY           shear factor (the affine shear angle is atan of it), about the top-left corner
//   TranslateX, TranslateY   pixels, truncated toward zero (torchvision's int())
//   Rotate                   degrees, counter-clockwise, about the image centre
//   Brightness, Color,       factor - 1: the op blends with factor 1 + magnitude (Color is the
//   Contrast, Sharpness      saturation blend), which must not be negative
//   Posterize                bits kept, 0..8 (truncated)
//   Solarize                 threshold in [0, 1]: values >= it are inverted. torchvision's table is in
//                            uint8 units (255 down to 0), which its float solarize refuses above 1: here it
//                            is divided by 255, which on images of whole uint8 steps is the same test
//   Identity, AutoContrast,  no magnitude (ignored)
//   Equalize
// Posterize and Equalize are defined on uint8 only: they run on the images converted as
// torchvision's convert_image_dtype does (x * (256 - 1e-3), truncated) and back (/ 255).
// Every other op stays in float; torchvision's RandAugment on uint8 images would instead round
// its output to uint8 after each op.
#include <ATen/ATen.h>

#include <cstdint>

namespace sere::augment {

// Op indices: torchvision's order (RandAugment._augmentation_space).
enum class RandAugmentOp : int64_t {
  kIdentity = 0,
  kShearX,
  kShearY,
  kTranslateX,
  kTranslateY,
  kRotate,
  kBrightness,
  kColor,
  kContrast,
  kSharpness,
  kPosterize,
  kSolarize,
  kAutoContrast,
  kEqualize,
  kCount
};

inline constexpr const char* kRandAugmentOpNames[] = {
    "Identity", "ShearX",   "ShearY",    "TranslateX", "TranslateY", "Rotate",       "Brightness",
    "Color",    "Contrast", "Sharpness", "Posterize",  "Solarize",   "AutoContrast", "Equalize"};

// images: float32 (N, 3, H, W) on any device; ops: integer (N, K) indices of RandAugmentOp;
// magnitudes: floating (N, K). ops and magnitudes are read on the CPU. Returns new images.
at::Tensor RandAugment(const at::Tensor& images, const at::Tensor& ops, const at::Tensor& magnitudes);

}  // namespace sere::augment
