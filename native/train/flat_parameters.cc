#include "train/flat_parameters.h"

#include <algorithm>

#include "train/parameter_update.h"

namespace sere::train {
namespace {

bool SameKind(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.device() == b.device();
}

// Where element `offset` of a flat buffer lies in memory.
const void* AddressIn(const at::Tensor& buffer, int64_t offset) {
  return static_cast<const char*>(buffer.data_ptr()) + offset * buffer.element_size();
}

}  // namespace

std::unique_ptr<FlatParameters> FlatParameters::Lay(std::vector<Member> members, torch::optim::AdamW& optimizer) {
  if (members.empty()) return nullptr;
  const auto& first = members.front().student;
  for (const auto& m : members) {
    const auto& grad = m.student.grad();
    if (!grad.defined() || grad.sizes() != m.student.sizes() || !SameKind(m.student, first) || !SameKind(grad, first))
      return nullptr;
    if (m.teacher.defined() && (m.teacher.sizes() != m.student.sizes() || !SameKind(m.teacher, first))) return nullptr;
  }
  std::stable_sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    return a.group != b.group ? a.group < b.group : a.last_layer < b.last_layer;
  });

  std::unique_ptr<FlatParameters> flat(new FlatParameters());
  // Each slice starts on a 64-byte boundary, as a tensor of its own would (vectorised kernels
  // read aligned memory faster); the gaps between slices stay zero through every update.
  const int64_t alignment = std::max<int64_t>(1, 64 / static_cast<int64_t>(first.element_size()));
  flat->offsets_.push_back(0);
  for (const auto& m : members) {
    const int64_t end = flat->offsets_.back() + m.student.numel();
    flat->offsets_.push_back((end + alignment - 1) / alignment * alignment);
  }
  auto buffer = [&] { return at::zeros({flat->offsets_.back()}, first.options().requires_grad(false)); };
  flat->students_ = buffer();
  flat->teachers_ = buffer();
  flat->gradients_ = buffer();
  flat->exp_avgs_ = buffer();
  flat->exp_avg_sqs_ = buffer();
  flat->denominators_ = buffer();

  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < members.size(); ++k) {
    auto& m = members[k];
    auto slice = [&](const at::Tensor& buffer, const at::Tensor& values) {
      auto s = buffer.narrow(0, flat->offsets_[k], m.student.numel()).view(m.student.sizes());
      s.copy_(values);
      return s;
    };
    auto& state = AdamWStateOf(optimizer, m.student);
    // set_data keeps each tensor's identity (its TensorImpl: the modules', the optimiser's
    // state key) and points it at the slice.
    m.student.set_data(slice(flat->students_, m.student));
    if (m.teacher.defined()) m.teacher.set_data(slice(flat->teachers_, m.teacher));
    m.student.mutable_grad() = slice(flat->gradients_, m.student.grad());
    state.exp_avg(slice(flat->exp_avgs_, state.exp_avg()));
    state.exp_avg_sq(slice(flat->exp_avg_sqs_, state.exp_avg_sq()));
    flat->gradient_slices_.push_back(m.student.grad());
    flat->states_.push_back(&state);
  }
  flat->members_ = std::move(members);
  return flat;
}

bool FlatParameters::Intact() const {
  for (size_t k = 0; k < members_.size(); ++k) {
    const auto& m = members_[k];
    const auto& grad = m.student.grad();
    if (!grad.defined() || m.student.data_ptr() != AddressIn(students_, offsets_[k]) ||
        grad.data_ptr() != AddressIn(gradients_, offsets_[k]) ||
        (m.teacher.defined() && m.teacher.data_ptr() != AddressIn(teachers_, offsets_[k])))
      return false;
  }
  return true;
}

void FlatParameters::ClipGradients(double clip) { ClipGradientNorms(gradient_slices_, clip); }

void FlatParameters::Step(torch::optim::AdamW& optimizer, bool freeze_last_layer) {
  auto& groups = optimizer.param_groups();
  size_t first = 0;
  while (first < members_.size()) {
    const auto& head = members_[first];
    const int64_t step = states_[first]->step();
    size_t last = first + 1;
    while (last < members_.size() && members_[last].group == head.group &&
           members_[last].last_layer == head.last_layer && states_[last]->step() == step)
      ++last;
    if (!(freeze_last_layer && head.last_layer)) {
      for (size_t k = first; k < last; ++k) states_[k]->step(step + 1);
      StepRange(first, last, static_cast<torch::optim::AdamWOptions&>(groups[head.group].options()), step + 1);
    }
    first = last;
  }
}

void FlatParameters::StepRange(size_t first, size_t last, const torch::optim::AdamWOptions& options, int64_t step) {
  auto range = [&](const at::Tensor& buffer) {
    return buffer.narrow(0, offsets_[first], offsets_[last] - offsets_[first]);
  };
  AdamWStep(range(students_), range(gradients_), range(exp_avgs_), range(exp_avg_sqs_), options, step,
            range(denominators_));
}

void FlatParameters::UpdateTeacher(double momentum) { teachers_.mul_(momentum).add_(students_, 1.0 - momentum); }

}  // namespace sere::train
