#include "distributed/communicator.h"

#include <torch/version.h>

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#if SERE_DATA_PARALLEL
// SERE_C10D_GLOO / SERE_C10D_NCCL: the backends whose headers cmake/torch.cmake found. (A CUDA
// PyTorch defines USE_C10D_GLOO for its users without shipping Gloo's headers.)
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if SERE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if SERE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>

namespace sere::distributed {

#if SERE_DATA_PARALLEL
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// LibTorch 1.x: the backends are process groups themselves. From 2.0 they are
// c10d::Backends, which a ProcessGroup dispatches to per device type; 2.5 dropped
// ProcessGroup::Options (the timeout lives in the backend's options) for a default backend type.
template <class Backend>
c10::intrusive_ptr<c10d::ProcessGroup> AsProcessGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                      const CommunicatorOptions& o, c10::intrusive_ptr<Backend> backend,
                                                      const char* name) {
#if TORCH_VERSION_MAJOR >= 2
  const bool nccl = std::string(name) == "nccl";
  const auto type = nccl ? c10d::ProcessGroup::BackendType::NCCL : c10d::ProcessGroup::BackendType::GLOO;
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 5
  auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size);
  group->setDefaultBackend(type);
#else
  auto options = c10::make_intrusive<c10d::ProcessGroup::Options>(name, o.timeout);
  auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size, options);
#endif
  group->setBackend(nccl ? c10::DeviceType::CUDA : c10::DeviceType::CPU, type, backend);
  return group;
#else
  return backend;
#endif
}

c10::intrusive_ptr<c10d::ProcessGroup> NewGroup(const c10::intrusive_ptr<c10d::Store>& store, const std::string& name,
                                                const CommunicatorOptions& o) {
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>(name, store);
  const int rank = static_cast<int>(o.rank), size = static_cast<int>(o.world_size);
  if (o.device.is_cuda()) {
#if SERE_C10D_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = o.timeout;
    return AsProcessGroup(prefixed, rank, size, o,
                          c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, size, options), "nccl");
#else
    TORCH_CHECK(false,
                "data-parallel training on CUDA needs NCCL, and this LibTorch build has no c10d NCCL backend. "
                "Rebuild sere-torch against a CUDA build of PyTorch's LibTorch, or train on the CPU (Gloo).");
#endif
  }
#if SERE_C10D_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
  // GLOO_SOCKET_IFNAME picks the network interface as in PyTorch; otherwise the one that
  // reaches MASTER_ADDR's host name resolution of this machine (loopback for a local run).
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (o.master_addr == "127.0.0.1" || o.master_addr == "localhost") {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  options->threads = 2;
  return AsProcessGroup(prefixed, rank, size, o,
                        c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, size, options), "gloo");
#else
  TORCH_CHECK(false,
              "data-parallel training needs c10d's Gloo backend, and this LibTorch build has none. "
              "Install libgloo-dev (Debian) and rebuild sere-torch (npm rebuild sere-torch).");
#endif
}

// LibTorch 2.4 made libuv the TCPStore's default server backend, which builds without libuv
// (Debian's) reject at start. The classic backend is in every version and ample for the few
// ranks of a run; a LibTorch without the option has only that one.
template <class Options, class = void>
struct HasLibUvOption : std::false_type {};
template <class Options>
struct HasLibUvOption<Options, std::void_t<decltype(std::declval<Options&>().useLibUV)>> : std::true_type {};

template <class Options>
void UseClassicStoreBackend(Options& options) {
  if constexpr (HasLibUvOption<Options>::value) options.useLibUV = false;
}

}  // namespace

Communicator::Communicator(const CommunicatorOptions& options) : options_(options) {
  TORCH_CHECK(options.world_size >= 1, "WORLD_SIZE must be >= 1, got ", options.world_size);
  TORCH_CHECK(options.rank >= 0 && options.rank < options.world_size,
              "RANK must be in [0, WORLD_SIZE = ", options.world_size, "), got ", options.rank);
  TORCH_CHECK(options.master_port > 0 && options.master_port < 65536, "MASTER_PORT must be a port number, got ",
              options.master_port);
  c10d::TCPStoreOptions store;
  store.port = static_cast<uint16_t>(options.master_port);
  store.isServer = options.rank == 0;
  store.numWorkers = static_cast<size_t>(options.world_size);
  store.waitWorkers = true;
  store.timeout = options.timeout;
  UseClassicStoreBackend(store);
  try {
    store_ = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "rank ", options.rank, " could not meet the other ranks at ", options.master_addr, ":",
                options.master_port, " within ", options.timeout.count() / 1000.0, " s (", e.what(),
                "). Check MASTER_ADDR / MASTER_PORT (the same on every rank, the port free on rank 0's machine) and "
                "that all WORLD_SIZE = ",
                options.world_size, " ranks were started.");
  }
  gradients_ = NewGroup(store_, "gradients/", options);
  others_ = NewGroup(store_, "sync/", options);
}

Communicator::~Communicator() = default;

c10::intrusive_ptr<c10d::ProcessGroup> Communicator::gradient_group() const { return gradients_; }

std::string Communicator::backend() const { return gradients_->getBackendName(); }

void Communicator::AllReduceSum(at::Tensor& tensor) {
  Checked("an all-reduce", [&] {
    std::vector<at::Tensor> tensors{tensor};
    others_->allreduce(tensors)->wait();
  });
}

void Communicator::Broadcast(std::vector<at::Tensor>& tensors, int64_t root) {
  Checked("a broadcast", [&] {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      others_->broadcast(one, options)->wait();
    }
  });
}

void Communicator::Barrier() {
  Checked("a barrier", [&] { others_->barrier()->wait(); });
}

std::vector<std::string> Communicator::AllGather(const std::string& key, const std::string& value) {
  return Checked("an exchange through the store", [&] {
    const std::string round = "gather/" + key + "/" + std::to_string(gather_round_++) + "/";
    store_->set(round + std::to_string(options_.rank), Bytes(value));
    std::vector<std::string> all;
    for (int64_t r = 0; r < options_.world_size; ++r) all.push_back(Text(store_->get(round + std::to_string(r))));
    return all;
  });
}

void Communicator::MarkProgress(int64_t iteration) {
  iteration_ = iteration;
  store_->set("progress/" + std::to_string(options_.rank), Bytes(std::to_string(iteration)));
}

std::string Communicator::DescribeFailure(const char* what, const std::string& cause) {
  std::ostringstream out;
  out << "data-parallel training stopped: " << what << " failed on rank " << options_.rank;
  if (iteration_ >= 0) out << " in step " << iteration_ + 1;
  // Who is gone? Every rank that notices a failure says so in the store and waits briefly
  // for the others to do the same; those that never answer exited or hang.
  std::vector<std::string> silent;
  bool store_reachable = true;
  try {
    store_->setTimeout(std::chrono::seconds(5));
    store_->set("failed/" + std::to_string(options_.rank), Bytes(std::to_string(iteration_)));
    std::vector<bool> answered(options_.world_size, false);
    answered[options_.rank] = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < deadline &&
           std::find(answered.begin(), answered.end(), false) != answered.end()) {
      for (int64_t r = 0; r < options_.world_size; ++r)
        if (!answered[r]) answered[r] = store_->check({"failed/" + std::to_string(r)});
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (int64_t r = 0; r < options_.world_size; ++r) {
      if (answered[r]) continue;
      const std::string key = "progress/" + std::to_string(r);
      std::string last = store_->check({key})
                             ? " (last seen in step " + std::to_string(std::stoll(Text(store_->get(key))) + 1) + ")"
                             : "";
      silent.push_back(std::to_string(r) + last);
    }
  } catch (const std::exception&) {
    store_reachable = false;
  }
  if (!store_reachable && options_.rank != 0) {
    out << ": rank 0, which hosts the rendezvous store, is unreachable (it exited or hangs)";
  } else if (!silent.empty()) {
    out << ": rank" << (silent.size() > 1 ? "s " : " ");
    for (size_t i = 0; i < silent.size(); ++i) out << (i ? ", " : "") << silent[i];
    out << " stopped answering (exited or hangs)";
  }
  out << ". Cause: " << cause
      << ". The last checkpoint is intact; fix the failing rank and resume with --resume and the same number of ranks.";
  return out.str();
}

#else  // SERE_DATA_PARALLEL

// The LibTorch this addon was built against has no c10d API that this code compiles with
// (cmake/torch.cmake tried): everything else works, data parallelism says why it cannot.
namespace {
[[noreturn]] void Unavailable() {
  TORCH_CHECK(false, "data-parallel training is not available in this build of sere-torch: its LibTorch (",
              TORCH_VERSION,
              ") has no c10d backend that sere-torch compiles with (verified: Gloo on Debian's 1.13 with "
              "libgloo-dev and on 2.6; NCCL on a CUDA PyTorch 2.11, whose NCCL headers must be found: "
              "NCCL_INCLUDE_DIR). Train with one process, or rebuild against such a LibTorch.");
}
}  // namespace

Communicator::Communicator(const CommunicatorOptions& options) : options_(options) { Unavailable(); }
Communicator::~Communicator() = default;
c10::intrusive_ptr<c10d::ProcessGroup> Communicator::gradient_group() const { Unavailable(); }
std::string Communicator::backend() const { Unavailable(); }
void Communicator::AllReduceSum(at::Tensor&) { Unavailable(); }
void Communicator::Broadcast(std::vector<at::Tensor>&, int64_t) { Unavailable(); }
void Communicator::Barrier() { Unavailable(); }
std::vector<std::string> Communicator::AllGather(const std::string&, const std::string&) { Unavailable(); }
void Communicator::MarkProgress(int64_t) { Unavailable(); }
std::string Communicator::DescribeFailure(const char*, const std::string&) { Unavailable(); }

#endif  // SERE_DATA_PARALLEL

}  // namespace sere::distributed
