#include "common/error.h"
#include "common/torch_env.h"

#include <torch/torch.h>

#include <fstream>
#include <thread>

namespace rawmed {

c10::Device parse_device(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const std::exception&) {
    fail("--device: unknown device '{}' (use cpu or cuda)", name);
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    fail("--device {}: this LibTorch build has no usable CUDA device", name);
  return device;
}

int setup_torch_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Flush denormals to zero (before the thread pool starts, whose threads inherit it): AdamW's
  // moments of parameters that get no gradient (e.g. decoder rows of slots few events reach) decay
  // into the denormal range, where every operation on them is many times slower on x86.
  at::globalContext().setFlushDenormal(true);
  at::set_num_threads(threads);
  return at::get_num_threads();
}

static std::string blas_in_use() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) {
      if (line.find("openmp") != std::string::npos) return "openblas-openmp";
      if (line.find("pthread") != std::string::npos) return "openblas-pthread";
      return "openblas";
    }
    if (line.find("libmkl") != std::string::npos) return "mkl";
  }
  return "reference or unknown";
}

nlohmann::json torch_runtime_info() {
  return {{"torch", TORCH_VERSION},
          {"threads", at::get_num_threads()},
          {"blas", blas_in_use()},
          {"cuda_available", torch::cuda::is_available()}};
}

void seed_torch(uint64_t seed) { torch::manual_seed(seed); }

void set_adamw_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace rawmed
