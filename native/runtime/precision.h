#pragma once
// Inside an Fp32Region, autocast is off: the spec computes relations and losses in fp32
// whatever precision the networks run at.
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace sere {

class Fp32Region {
 public:
  Fp32Region() : guard_(c10::autocast_dispatch_keyset) {}

 private:
  c10::impl::ExcludeDispatchKeyGuard guard_;
};

}  // namespace sere
