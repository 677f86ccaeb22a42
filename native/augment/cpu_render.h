#pragma once
// The CPU renderer: every view made in one go from its uint8 source image by plain loops
// that the compiler vectorises, with no intermediate tensors and no float copy of the
// whole image. The definitions are the tensor path's (augment.cc, photometric.cc), which
// other devices run and which tests also run on the CPU: crop + antialiased bicubic
// resize, flip, colour jitter, grayscale, blur, solarisation, normalisation.
#include <ATen/ATen.h>

#include "augment/augment.h"

namespace sere::augment {

// One group's views as a float32 (V, 3, size, size) CPU tensor, normalised. Boxes must
// already be checked.
at::Tensor RenderGroupCpu(const SourceImages& images, const ViewGroup& group, const Normalisation& normalisation);

}  // namespace sere::augment
