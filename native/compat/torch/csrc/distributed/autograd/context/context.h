#pragma once
// Stand-in for a header that c10d/reducer.hpp includes and Debian's libtorch-dev 1.13 does
// not ship. reducer.hpp needs only the ContextPtr type (a shared_ptr, whose layout does not
// depend on its element type) and the GradCallback type, checked there by a static_assert.
// Nothing here is ever constructed. cmake/torch.cmake puts this folder on the include path
// only when the LibTorch found lacks the real header.
#include <ATen/ATen.h>

#include <functional>
#include <memory>

namespace torch::distributed::autograd {
class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
  DistAutogradContext() = delete;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;
}  // namespace torch::distributed::autograd
