#pragma once
#include <napi.h>

#include <memory>

#include "distributed/communicator.h"

namespace sere::binding {

// The connected communicator behind a JS `Communicator`, for the training step's options.
std::shared_ptr<distributed::Communicator> CommunicatorFrom(Napi::Env env, Napi::Value value, const char* what);

}  // namespace sere::binding
