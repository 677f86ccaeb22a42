#pragma once
// What the bindings that hold an objective share (objective.cc, train.cc): its options, every
// field required since src/objective/options.ts defaults and validates them, and its centres.
#include <napi.h>

#include "binding/async.h"
#include "objective/sere_objective.h"

namespace sere::binding {

objective::SereObjectiveOptions ObjectiveOptionsFrom(const Napi::Object& options);

// Copies of the two centres (call it where the objective is locked), as { centre, patchCentre } for JS.
Finish CentresToJs(const objective::SereObjective& objective);

}  // namespace sere::binding
