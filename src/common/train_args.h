#pragma once
// Flags shared by `rawmed train --stage codec|temporal` (src/cli/train.cpp).
#include "common/run_flags.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace rawmed {

// device, threads, seed (and quiet) come from the shared flags.
struct TrainArgs : RunFlags {
  std::filesystem::path work;     // WORK folder (holds dataset/, config.toml, ...)
  std::filesystem::path config;   // empty: WORK/config.toml
  std::string preset = "demo";    // paper | demo | tiny (stage sections of the config may override keys)
  bool resume = false;            // continue from the last checkpoint, bit for bit
  bool bf16 = false;              // CPU bf16 autocast
  int max_epochs = -1;            // -1: preset value
  double max_minutes = 0;         // 0: no wall-clock limit
};

}  // namespace rawmed
