#include "train/loss_scaler.h"

namespace sere::train {

bool LossScaler::Unscale(std::vector<at::Tensor>& grads) {
  if (grads.empty()) return true;
  auto finite = at::ones({}, at::TensorOptions().dtype(at::kBool).device(grads.front().device()));
  for (auto& g : grads) {
    g.div_(scale);
    finite = finite.logical_and(at::isfinite(g).all());
  }
  if (!finite.item<bool>()) {
    scale /= 2;
    good_steps = 0;
    return false;
  }
  if (++good_steps % growth_interval == 0) scale *= 2;
  return true;
}

}  // namespace sere::train
