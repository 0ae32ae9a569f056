#pragma once
// What the two training loops (src/codec/train.cpp, src/temporal/train.cpp) share: the bf16
// autocast guard, the patience counter of early stopping, and the checkpoint file (a Torch
// archive with a CRC-32 trailer). The learning-rate arithmetic is in schedule.h. Each stage keeps
// its own batches, losses, state fields and stopping order. Implemented in trainer_nn.cpp.
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <optional>

namespace rawmed {

// bf16 autocast (CPU or CUDA) while alive. The cast cache is off: the weights change at every
// optimizer step, and a cast cached across steps would be stale.
class Bf16Autocast {
 public:
  Bf16Autocast(bool on, const c10::Device& device);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool on_;
};

// Early stopping: the best epoch so far and the epochs since it. Stored in checkpoints as the
// keys "best_epoch" and "bad_epochs".
struct Patience {
  int best_epoch = -1;  // 1-based; -1: none yet
  int bad_epochs = 0;

  void record(bool improved, int epoch) {
    if (improved) best_epoch = epoch, bad_epochs = 0;
    else ++bad_epochs;
  }
  bool exhausted(int patience) const { return bad_epochs >= patience; }
  void to_json(nlohmann::json& j) const {
    j["best_epoch"] = best_epoch;
    j["bad_epochs"] = bad_epochs;
  }
  void from_json(const nlohmann::json& j) {
    best_epoch = j.at("best_epoch");
    bad_epochs = j.at("bad_epochs");
  }
};

// Writes the archive to `path` (temporary file, then rename) with a CRC-32 trailer.
void save_checkpoint_archive(const std::filesystem::path& path, torch::serialize::OutputArchive& archive);
// Reads a checkpoint written by save_checkpoint_archive into `archive` (tensors onto `device`, or
// where they were saved). A missing, truncated or corrupt file is one Error naming it.
void load_checkpoint_archive(const std::filesystem::path& path, torch::serialize::InputArchive& archive,
                             std::optional<c10::Device> device = std::nullopt);

}  // namespace rawmed
