#pragma once
// float16's dynamic loss scale (PyTorch's GradScaler): the loss is multiplied by `scale`
// before backward; the gradients are divided by it before the update, which is skipped when
// any is not finite. The scale halves on overflow and doubles after `growth_interval` good steps.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace sere::train {

struct LossScaler {
  double scale = 65536.0;
  int64_t good_steps = 0;
  int64_t growth_interval = 2000;

  // Divides `grads` by the scale; false (and the scale halved) when a gradient overflowed.
  bool Unscale(std::vector<at::Tensor>& grads);
};

}  // namespace sere::train
