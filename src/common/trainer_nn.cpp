#include "common/trainer.h"

#include "common/error.h"
#include "common/fs.h"

#include <ATen/autocast_mode.h>

#include <sstream>

namespace rawmed {

Bf16Autocast::Bf16Autocast(bool on, const c10::Device& device) : on_(on) {
  if (!on_) return;
  at::autocast::set_autocast_cache_enabled(false);
  if (device.is_cpu()) {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  } else {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  }
}

Bf16Autocast::~Bf16Autocast() {
  if (!on_) return;
  at::autocast::set_cpu_enabled(false);
  at::autocast::set_enabled(false);
  at::autocast::set_autocast_cache_enabled(true);
}

void save_checkpoint_archive(const std::filesystem::path& path, torch::serialize::OutputArchive& archive) {
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_checksummed(path, bytes.str());
}

void load_checkpoint_archive(const std::filesystem::path& path, torch::serialize::InputArchive& archive,
                             std::optional<c10::Device> device) {
  if (!std::filesystem::exists(path))
    fail("{}: no checkpoint to resume from (train without --resume first)", path.string());
  std::istringstream bytes(read_file_checksummed(path));
  try {
    c10::optional<c10::Device> where;
    if (device) where = *device;
    archive.load_from(bytes, where);
  } catch (const c10::Error&) {
    fail("{}: corrupt or truncated checkpoint (cannot be read); delete it or train without --resume", path.string());
  }
}

}  // namespace rawmed
