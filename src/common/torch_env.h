#pragma once
// Torch runtime setup shared by every neural stage: device choice, thread count, bf16 support,
// and the versions recorded next to outputs. Implemented in torch_env_nn.cpp (rawmed_nn).
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <string>

namespace torch::optim {
class Optimizer;
}

namespace rawmed {

// "cpu", "cuda" or "cuda:N"; errors when CUDA is asked for but not available.
c10::Device parse_device(const std::string& name);
// Sets intra-op threads (0 = all cores) and flush-to-zero for denormals; returns the number of
// threads in use. LibTorch defaults to 1 here.
int setup_torch_threads(int threads);
// Torch version, BLAS in use (from /proc/self/maps), threads, CUDA availability.
nlohmann::json torch_runtime_info();
// Sets the learning rate of every parameter group of an AdamW optimizer (for schedules).
void set_adamw_learning_rate(torch::optim::Optimizer& optimizer, double lr);
// Seeds Torch's global generators (CPU and CUDA).
void seed_torch(uint64_t seed);

}  // namespace rawmed
