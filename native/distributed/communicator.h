#pragma once
// The ranks of a data-parallel run talking through LibTorch's c10d: a TCPStore for the
// rendezvous (rank 0 hosts it), one process group for the gradient buckets and one for
// everything else (SyncBatchNorm, centres, metrics), so the two streams of collectives
// never interleave. Gloo on the CPU, NCCL on CUDA where the LibTorch build has it.
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace c10d {
class ProcessGroup;
class Store;
}  // namespace c10d

namespace sere::distributed {

struct CommunicatorOptions {
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};  // any one collective or rendezvous
  c10::Device device = c10::kCPU;                               // CUDA: NCCL, otherwise Gloo
};

class Communicator {
 public:
  // Blocks until every rank has joined (or the timeout passes).
  explicit Communicator(const CommunicatorOptions& options);
  ~Communicator();

  int64_t rank() const { return options_.rank; }
  int64_t world_size() const { return options_.world_size; }
  const CommunicatorOptions& options() const { return options_; }
  std::string backend() const;

  // The group the gradient buckets are reduced on (c10d::Reducer's).
  c10::intrusive_ptr<c10d::ProcessGroup> gradient_group() const;

  // In place, summed over the ranks (on the other group); waits for the result.
  void AllReduceSum(at::Tensor& tensor);
  // In place, rank `root`'s values everywhere.
  void Broadcast(std::vector<at::Tensor>& tensors, int64_t root = 0);
  void Barrier();
  // Every rank's `value` for `key`, in rank order, through the store.
  std::vector<std::string> AllGather(const std::string& key, const std::string& value);

  // Records that this rank reached `iteration` (0-based; read back when a collective fails).
  void MarkProgress(int64_t iteration);

 private:
  // Runs `collective`; a failure becomes an error that names the rank(s) that fell behind.
  template <class F>
  auto Checked(const char* what, F&& collective) {
    try {
      return collective();
    } catch (const std::exception& e) {
      throw std::runtime_error(DescribeFailure(what, e.what()));
    }
  }
  std::string DescribeFailure(const char* what, const std::string& cause);

  CommunicatorOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> gradients_, others_;
  int64_t iteration_ = -1;
  int64_t gather_round_ = 0;
};

}  // namespace sere::distributed
