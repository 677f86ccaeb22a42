#include "train/checkpoint_parts.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "model/pth.h"
#include "train/parameter_update.h"

namespace sere::train {
namespace {

std::vector<at::Tensor> OptimisedParameters(torch::optim::AdamW& optimizer) {
  std::vector<at::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) params.push_back(p);
  return params;
}

}  // namespace

c10::impl::GenericDict TensorDict(const model::NamedTensors& entries) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  // A tensor under two names (a shared head's last_layer2) is saved once, as torch.save does.
  std::map<const void*, at::Tensor> saved;
  for (const auto& [name, t] : entries) {
    auto it = saved.find(t.unsafeGetTensorImpl());
    if (it == saved.end()) it = saved.emplace(t.unsafeGetTensorImpl(), model::AsSaved(t)).first;
    dict.insert(name, it->second);
  }
  return dict;
}

c10::impl::GenericDict OptimizerStateDict(torch::optim::AdamW& optimizer) {
  c10::impl::GenericDict states(c10::IntType::get(), c10::AnyType::get());
  auto& map = optimizer.state();
  auto params = OptimisedParameters(optimizer);
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = map.find(StateKeyOf(params[i]));
    if (it == map.end()) continue;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    c10::impl::GenericDict entry(c10::StringType::get(), c10::AnyType::get());
    entry.insert("step", s.step());
    entry.insert("exp_avg", model::AsSaved(s.exp_avg()));
    entry.insert("exp_avg_sq", model::AsSaved(s.exp_avg_sq()));
    states.insert(static_cast<int64_t>(i), entry);
  }
  c10::impl::GenericList groups(c10::AnyType::get());
  int64_t index = 0;
  for (auto& group : optimizer.param_groups()) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    c10::impl::GenericDict g(c10::StringType::get(), c10::AnyType::get());
    g.insert("lr", options.lr());
    g.insert("weight_decay", options.weight_decay());
    // A plain list: a typed int list pickles as torch.jit._pickle.build_intlist, which
    // PyTorch's weights-only torch.load refuses.
    c10::impl::GenericList ids(c10::AnyType::get());
    for (size_t j = 0; j < group.params().size(); ++j) ids.push_back(index++);
    g.insert("params", ids);
    groups.push_back(g);
  }
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("state", states);
  out.insert("param_groups", groups);
  return out;
}

void RestoreOptimizerState(torch::optim::AdamW& optimizer, const model::NamedTensors& saved_entries) {
  std::map<std::string, at::Tensor> saved(saved_entries.begin(), saved_entries.end());
  auto& map = optimizer.state();
  map.clear();
  auto params = OptimisedParameters(optimizer);
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string prefix = std::to_string(i) + ".";
    auto avg = saved.find(prefix + "exp_avg"), avg_sq = saved.find(prefix + "exp_avg_sq"),
         steps = saved.find(prefix + "step");
    if (avg == saved.end() || avg_sq == saved.end() || steps == saved.end()) continue;
    TORCH_CHECK(avg->second.sizes() == params[i].sizes(), "the checkpoint's optimiser state does not match parameter ",
                i, ": it was written for another architecture");
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(steps->second.item<int64_t>());
    s->exp_avg(avg->second.to(params[i].device(), params[i].scalar_type()).clone());
    s->exp_avg_sq(avg_sq->second.to(params[i].device(), params[i].scalar_type()).clone());
    map[StateKeyOf(params[i])] = std::move(s);
  }
}

c10::impl::GenericDict LossScalerDict(const LossScaler& scaler) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("scale", scaler.scale);
  out.insert("_growth_tracker", scaler.good_steps);
  return out;
}

at::Tensor GeneratorState(at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(at::Generator& generator, const at::Tensor& state) {
  if (!state.defined()) return;
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state.to(at::kByte));
}

}  // namespace sere::train
