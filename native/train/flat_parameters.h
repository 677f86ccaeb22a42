#pragma once
// The student's trainable parameters, their gradients and AdamW moments, and the teacher's
// parameters, each held in one contiguous buffer of which every tensor is a slice. The update
// then runs parameter_update.h's arithmetic a few times over ranges of the buffers, where the
// update one parameter at a time runs about a dozen ops per parameter: for the small networks
// trained on a CPU those thousand-odd small ops took most of the update's time, and on a GPU
// each one is a kernel launch. The modules, the optimiser's state and checkpoints hold the same
// tensors as before, now slices.
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace sere::train {

class FlatParameters {
 public:
  struct Member {
    at::Tensor student;  // trainable, with a gradient
    at::Tensor teacher;  // its EMA partner; undefined for a parameter the teacher lacks (masked_embed)
    size_t group = 0;    // its parameter group in the optimiser
    bool last_layer = false;
  };

  // Lays out the members (group by group, each group's last-layer members at its end, so that
  // members updated alike are adjacent), copies their values in and makes every tensor its
  // slice; creates AdamW states that do not exist yet (zero moments, step 0). nullptr where the
  // members cannot share buffers: different dtypes or devices, a missing gradient, a teacher
  // partner of another shape. A member without a partner has a slice of the teacher's buffer
  // that nothing reads. The caller then updates one parameter at a time.
  static std::unique_ptr<FlatParameters> Lay(std::vector<Member> members, torch::optim::AdamW& optimizer);

  // Whether the parameters and gradients are still their slices (autograd or a caller may
  // replace a gradient). A restored optimiser state is the caller's to report: the layout holds
  // its states and must then be laid again.
  bool Intact() const;

  // Every member's gradient, as one tensor.
  at::Tensor& gradients() { return gradients_; }

  // Per parameter (parameter_update.h's ClipGradientNorms).
  void ClipGradients(double clip);

  // AdamW's step with each group's options, on every member but the last layer's while
  // `freeze_last_layer` (the reference drops their gradients: no decay, no moments, no step).
  void Step(torch::optim::AdamW& optimizer, bool freeze_last_layer);

  // The teacher follows the student: t = momentum t + (1 - momentum) s.
  void UpdateTeacher(double momentum);

 private:
  FlatParameters() = default;
  // AdamW over members [first, last), which share options and step count.
  void StepRange(size_t first, size_t last, const torch::optim::AdamWOptions& options, int64_t step);

  std::vector<Member> members_;
  std::vector<torch::optim::AdamWParamState*> states_;
  std::vector<int64_t> offsets_;  // members_.size() + 1 entries: where each member's slice starts
  std::vector<at::Tensor> gradient_slices_;
  at::Tensor students_, teachers_, gradients_, exp_avgs_, exp_avg_sqs_, denominators_;
};

}  // namespace sere::train
