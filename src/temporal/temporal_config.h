#pragma once
// Temporal-model hyper-parameters: presets `paper`, `demo`, `tiny`, overridden by the
// [temporal] section of the dataset TOML. Torch-free.
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <filesystem>
#include <string>

namespace rawmed::temporal {

struct TemporalConfig {
  std::string preset = "demo";
  // Sequence.
  int time_resolution_minutes = 10;
  bool condition = false;        // prefix tokens for gender and age group
  // Architecture.
  int layers = 3, d_model = 128, heads = 4, ff = 512;
  double dropout = 0.1;
  bool sinusoidal = false;       // false: learned positions
  // Optimisation.
  int batch_size = 8;            // stays
  double lr = 1e-3;
  double min_lr_ratio = 0.1;     // cosine decays to lr * min_lr_ratio
  int warmup_steps = 20;
  double weight_decay = 0.01;
  double clip = 1.0;
  int max_epochs = 40;
  int patience = 5;              // epochs without a lower validation loss

  nlohmann::json to_json() const;
};

TemporalConfig temporal_preset(const std::string& name);
void apply_temporal_overrides(TemporalConfig& config, const toml::table& section, const std::filesystem::path& file);

}  // namespace rawmed::temporal
