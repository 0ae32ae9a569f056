#pragma once
// Data-parallel training on c10d, PyTorch's distributed backend (Gloo): every rank holds the same
// model, takes its contiguous slice of each global batch, and the gradients are summed over the
// ranks before the optimizer step, so all ranks step identically. Launch like torchrun: RANK,
// WORLD_SIZE, MASTER_ADDR and MASTER_PORT from the environment (torchrun, Slurm, Kubernetes), or
// `rawmed train --nproc N` for N ranks on one machine (common/launch.h). Only rank 0 writes files.
// Implemented in distributed_nn.cpp.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rawmed {

class DataParallel {
 public:
  // One process: no group; every call below is then a no-op.
  DataParallel();
  // From RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (WORLD_SIZE unset or 1: one process); errors
  // name the variable. Blocks until every rank has joined (the rendezvous waits up to 5 minutes).
  static DataParallel from_environment();
  ~DataParallel();
  DataParallel(DataParallel&&) noexcept;
  DataParallel& operator=(DataParallel&&) noexcept;

  int rank() const { return rank_; }
  int world() const { return world_; }
  bool is_main() const { return rank_ == 0; }
  bool active() const { return world_ > 1; }

  // This rank's contiguous share of a global batch: items [rank x n / world, (rank + 1) x n / world).
  template <class T>
  std::vector<T> slice(const std::vector<T>& batch) const {
    const size_t n = batch.size(), r = static_cast<size_t>(rank_), w = static_cast<size_t>(world_);
    return std::vector<T>(batch.begin() + static_cast<std::ptrdiff_t>(r * n / w),
                          batch.begin() + static_cast<std::ptrdiff_t>((r + 1) * n / w));
  }

  // The device this rank trains on: `device` itself, except that "cuda" without an index becomes
  // cuda:(LOCAL_RANK mod GPUs) under data parallelism, so ranks on one machine share its GPUs.
  torch::Device device_for_rank(const torch::Device& device) const;

  // Sums `values` over the ranks, in place (float64, so integer counts up to 2^53 stay exact).
  void sum(std::vector<double>& values) const;
  // The largest of the ranks' values (every rank gets it): ranks agree on stopping.
  int max(int local) const;
  // Sums every parameter's gradient over the ranks in buckets of about 25 MB (a parameter without
  // a gradient counts as zeros and gets one). Tensors on a GPU are summed through host memory.
  void sum_gradients(const std::vector<torch::Tensor>& parameters) const;
  // Makes every rank's tensors equal rank 0's (e.g. weights after a rank-0-only initialisation).
  void broadcast_from_main(const std::vector<torch::Tensor>& tensors) const;

 private:
  struct Group;
  int rank_ = 0, world_ = 1;
  std::unique_ptr<Group> group_;
};

}  // namespace rawmed
