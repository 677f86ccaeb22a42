#pragma once
// The objective's options as the bindings that build an objective read them (objective.cc,
// train.cc): every field required, since src/objective/options.ts defaults and validates them.
#include <napi.h>

#include "objective/sere_objective.h"

namespace sere::binding {

objective::SereObjectiveOptions ObjectiveOptionsFrom(const Napi::Object& options);

}  // namespace sere::binding
