#pragma once
// Every C++ exception that reaches the boundary becomes a JS Error carrying its
// message (LibTorch's without the C++ backtrace), so the process never aborts.
#include <c10/util/Exception.h>
#include <napi.h>

#include <exception>
#include <string>

namespace sere::binding {

inline std::string MessageOf(const std::exception& e) {
  if (auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->what_without_backtrace();
  return e.what();
}

// Runs a binding's body; C++ exceptions are rethrown as JS Errors.
template <class Body>
auto Guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, MessageOf(e));
  } catch (...) {
    throw Napi::Error::New(env, "unknown native exception");
  }
}

}  // namespace sere::binding
