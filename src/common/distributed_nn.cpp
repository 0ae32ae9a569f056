#include "common/distributed.h"

#include "common/error.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#ifdef RAWMED_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace rawmed {

#ifdef RAWMED_HAVE_GLOO
struct DataParallel::Group {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};
#else
struct DataParallel::Group {};
#endif

namespace {

int int_from_environment(const char* name, int low, int high) {
  const char* text = std::getenv(name);
  if (!text || !*text) fail("distributed training: {} is not set (set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)", name);
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < low || value > high)
    fail("distributed training: {}='{}' is not an integer in [{}, {}]", name, text, low, high);
  return static_cast<int>(value);
}

constexpr int64_t kBucketElements = 25 * 1024 * 1024 / 4;  // 25 MB of float32 per all-reduce

}  // namespace

DataParallel::DataParallel() = default;
DataParallel::~DataParallel() = default;
DataParallel::DataParallel(DataParallel&&) noexcept = default;
DataParallel& DataParallel::operator=(DataParallel&&) noexcept = default;

DataParallel DataParallel::from_environment() {
  DataParallel dp;
  const char* world_text = std::getenv("WORLD_SIZE");
  if (!world_text || std::string(world_text).empty() || std::string(world_text) == "1") return dp;
  dp.world_ = int_from_environment("WORLD_SIZE", 1, 1 << 16);
  dp.rank_ = int_from_environment("RANK", 0, dp.world_ - 1);
#ifdef RAWMED_HAVE_GLOO
  const char* address = std::getenv("MASTER_ADDR");
  if (!address || !*address) fail("distributed training: MASTER_ADDR is not set");
  const int port = int_from_environment("MASTER_PORT", 1, 65535);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(port);
  store_options.isServer = dp.rank_ == 0;
  store_options.numWorkers = static_cast<size_t>(dp.world_);
  store_options.waitWorkers = true;
  store_options.timeout = std::chrono::minutes(5);
  try {
    auto store = c10::make_intrusive<c10d::TCPStore>(address, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create();
    const std::string host = address;
    // One machine: loopback; several: the interface that reaches this host's name.
    options->devices.push_back(host == "127.0.0.1" || host == "localhost"
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    dp.group_ = std::make_unique<Group>();
    dp.group_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, dp.rank_, dp.world_, options);
  } catch (const c10::Error& e) {
    fail("distributed training: rank {} of {} cannot join {}:{}: {}", dp.rank_, dp.world_, address, port,
         e.what_without_backtrace());
  }
  return dp;
#else
  fail("distributed training: WORLD_SIZE={} but this rawmed was built without Gloo (install libgloo-dev and "
       "rebuild; CMake then reports 'data-parallel training: Gloo')",
       dp.world_);
#endif
}

#ifdef RAWMED_HAVE_GLOO
namespace {

void all_reduce_sum(c10d::ProcessGroup& group, torch::Tensor& cpu_tensor) {
  std::vector<at::Tensor> tensors{cpu_tensor};
  group.allreduce(tensors)->wait();
}

}  // namespace
#endif

void DataParallel::sum(std::vector<double>& values) const {
  if (!active() || values.empty()) return;
#ifdef RAWMED_HAVE_GLOO
  auto t = torch::from_blob(values.data(), {static_cast<int64_t>(values.size())}, torch::kFloat64).clone();
  all_reduce_sum(*group_->group, t);
  std::memcpy(values.data(), t.data_ptr<double>(), values.size() * sizeof(double));
#endif
}

torch::Device DataParallel::device_for_rank(const torch::Device& device) const {
  if (!active() || !device.is_cuda() || device.has_index()) return device;
  const char* local = std::getenv("LOCAL_RANK");
  const int local_rank = local && *local ? std::atoi(local) : rank_;
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (gpus <= 0) return device;
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
}

int DataParallel::max(int local) const {
  if (!active()) return local;
  std::vector<double> values(static_cast<size_t>(world_), 0.0);
  values[static_cast<size_t>(rank_)] = local;
  sum(values);
  return static_cast<int>(*std::max_element(values.begin(), values.end()));
}

void DataParallel::sum_gradients(const std::vector<torch::Tensor>& parameters) const {
  if (!active()) return;
#ifdef RAWMED_HAVE_GLOO
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> bucket;
  int64_t elements = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> flat_parts;
    for (auto& g : bucket) flat_parts.push_back(g.reshape(-1).to(torch::kCPU));
    auto flat = torch::cat(flat_parts);
    all_reduce_sum(*group_->group, flat);
    int64_t offset = 0;
    for (auto& g : bucket) {
      g.copy_(flat.narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
    bucket.clear();
    elements = 0;
  };
  for (const auto& p : parameters) {
    if (!p.requires_grad()) continue;
    auto& grad = const_cast<torch::Tensor&>(p).mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    // One bucket per dtype, so that the flat tensor keeps every gradient's precision.
    if (!bucket.empty() && bucket.front().scalar_type() != grad.scalar_type()) flush();
    bucket.push_back(grad);
    elements += grad.numel();
    if (elements >= kBucketElements) flush();
  }
  flush();
#endif
}

void DataParallel::broadcast_from_main(const std::vector<torch::Tensor>& tensors) const {
  if (!active()) return;
#ifdef RAWMED_HAVE_GLOO
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    auto cpu = t.detach().to(torch::kCPU).contiguous().clone();
    std::vector<at::Tensor> list{cpu};
    group_->group->broadcast(list)->wait();
    const_cast<torch::Tensor&>(t).detach().copy_(cpu);
  }
#endif
}

}  // namespace rawmed
