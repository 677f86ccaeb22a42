#include "model/throughput.h"

#include <chrono>

#include "runtime/precision.h"

namespace sere::model {

double SecondsPerIteration(SereNetwork& network, const at::Tensor& images, const ThroughputOptions& options) {
  network->train();
  auto run_once = [&] {
    torch::AutoGradMode grad_mode(options.backward);
    at::Tensor loss;
    {
      AutocastRegion autocast(images.device().type(), options.precision);
      auto out = network->backbone->forward(images, std::nullopt, /*local=*/false, RelationsOf::kPrediction);
      loss = out.channel.of_p.mean() + out.spatial.of_p.mean();
      if (network->head) {
        auto head = network->head->forward(out.tokens);
        loss = loss + head.cls.to(at::kFloat).mean() + head.patches.to(at::kFloat).mean();
      }
    }
    if (options.backward) {
      loss.backward();
      network->zero_grad();
    }
    if (images.is_cuda()) loss.item<float>();  // waits for the device
  };
  for (int i = 0; i < options.warmup; ++i) run_once();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.iterations; ++i) run_once();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / options.iterations;
}

}  // namespace sere::model
