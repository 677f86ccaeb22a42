#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>

#include <map>
#include <mutex>
#include <type_traits>

#include "model/pth.h"
#include "runtime/files.h"

namespace sere::train {
namespace {

// The optimiser's state map is keyed by a parameter's TensorImpl (as a string on
// LibTorch 1.x, as a pointer on 2.x).
template <class Map>
auto StateKey(const Map&, const at::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    return c10::guts::to_string(p.unsafeGetTensorImpl());
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

std::vector<at::Tensor> OptimisedParameters(SereStep& step) {
  std::vector<at::Tensor> params;
  for (auto& group : step.optimizer->param_groups())
    for (auto& p : group.params()) params.push_back(p);
  return params;
}

c10::impl::GenericDict TensorDict(const model::NamedTensors& entries) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, t] : entries) dict.insert(name, t.detach().to(at::kCPU).contiguous());
  return dict;
}

}  // namespace

void SaveCheckpoint(const std::string& path, SereStep& step, const c10::impl::GenericDict& extra) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("student", TensorDict(step.student->state()));
  out.insert("teacher", TensorDict(step.teacher->state()));

  // As PyTorch lays out an optimiser's state_dict: {"state": {i: {...}}, "param_groups": [...]}.
  c10::impl::GenericDict states(c10::IntType::get(), c10::AnyType::get());
  auto& map = step.optimizer->state();
  auto params = OptimisedParameters(step);
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = map.find(StateKey(map, params[i]));
    if (it == map.end()) continue;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    c10::impl::GenericDict entry(c10::StringType::get(), c10::AnyType::get());
    entry.insert("step", s.step());
    entry.insert("exp_avg", s.exp_avg().to(at::kCPU));
    entry.insert("exp_avg_sq", s.exp_avg_sq().to(at::kCPU));
    states.insert(static_cast<int64_t>(i), entry);
  }
  c10::impl::GenericList groups(c10::AnyType::get());
  int64_t index = 0;
  for (auto& group : step.optimizer->param_groups()) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    c10::impl::GenericDict g(c10::StringType::get(), c10::AnyType::get());
    g.insert("lr", options.lr());
    g.insert("weight_decay", options.weight_decay());
    c10::List<int64_t> ids;
    for (size_t j = 0; j < group.params().size(); ++j) ids.push_back(index++);
    g.insert("params", ids);
    groups.push_back(g);
  }
  c10::impl::GenericDict optimizer(c10::StringType::get(), c10::AnyType::get());
  optimizer.insert("state", states);
  optimizer.insert("param_groups", groups);
  out.insert("optimizer", optimizer);

  c10::impl::GenericDict centres(c10::StringType::get(), c10::TensorType::get());
  centres.insert("center", step.objective.centre().to(at::kCPU));
  centres.insert("center2", step.objective.patch_centre().to(at::kCPU));
  out.insert("ibot_loss", centres);

  c10::impl::GenericDict scaler(c10::StringType::get(), c10::AnyType::get());
  scaler.insert("scale", step.scaler.scale);
  scaler.insert("_growth_tracker", step.scaler.good_steps);
  out.insert("fp16_scaler", scaler);
  out.insert("iteration", step.iteration());
  {
    at::Generator& generator = step.drop_path_generator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    out.insert("cpu_generator", generator.get_state());
  }
  for (const auto& item : extra) out.insert(item.key(), item.value());
  WriteFileAtomically(path, torch::pickle_save(out));
}

void RestoreTrainingState(SereStep& step, const TrainingState& state) {
  step.student->load_state(state.student);
  step.teacher->load_state(state.teacher);

  std::map<std::string, at::Tensor> saved(state.optimizer.begin(), state.optimizer.end());
  auto& map = step.optimizer->state();
  map.clear();
  auto params = OptimisedParameters(step);
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
    map[StateKey(map, params[i])] = std::move(s);
  }
  step.objective.SetCentres(state.centre, state.patch_centre);
  step.scaler.scale = state.loss_scale;
  step.scaler.good_steps = state.good_steps;
  step.set_iteration(state.iteration);
  if (state.cpu_generator.defined()) {
    at::Generator& generator = step.drop_path_generator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state.cpu_generator.to(at::kByte));
  }
}

}  // namespace sere::train
