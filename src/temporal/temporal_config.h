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
  std::string time_encoding = "gap";  // "gap" | "minute" | "digits" (layout.h TimeEncoding)
  int time_resolution_minutes = 1;
  bool condition = false;        // prefix tokens for gender and age group
  // Architecture.
  int layers = 3, d_model = 128, heads = 4, ff = 512;
  double dropout = 0.1;
  bool sinusoidal = false;       // false: learned positions
  bool time_sinusoid = true;     // add a fixed sinusoid of the time value to one-token times' embeddings
  bool running_clock = false;    // gap times (with time_sinusoid): give every position the clock, the sum of gaps
                                 // (on in `paper`: it pays after ~10 epochs and slows the first ones)
  // Optimisation.
  int batch_size = 8;            // stays
  int batch_tokens = 4096;       // at most this many padded tokens per batch (0: no limit); bounds
                                 // the attention's memory on long stays (B x H x T^2 scores)
  double lr = 1e-3;
  double min_lr_ratio = 0.1;     // cosine decays to lr * min_lr_ratio
  int warmup_steps = 20;
  double weight_decay = 0.01;
  double clip = 1.0;
  int max_epochs = 40;
  int patience = 5;              // epochs without a lower validation loss

  // Every key above but the preset and `sinusoidal` (TOML: positions = "learned" | "sinusoidal"),
  // once: drives [temporal] overrides and train.json.
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("time_encoding", c.time_encoding), f("time_resolution_minutes", c.time_resolution_minutes);
    f("condition", c.condition), f("time_sinusoid", c.time_sinusoid), f("running_clock", c.running_clock);
    f("layers", c.layers), f("d_model", c.d_model), f("heads", c.heads), f("ff", c.ff), f("dropout", c.dropout);
    f("batch_size", c.batch_size), f("batch_tokens", c.batch_tokens), f("lr", c.lr);
    f("min_lr_ratio", c.min_lr_ratio), f("warmup_steps", c.warmup_steps), f("weight_decay", c.weight_decay);
    f("clip", c.clip), f("max_epochs", c.max_epochs), f("patience", c.patience);
  }
  nlohmann::json to_json() const;
};

TemporalConfig temporal_preset(const std::string& name);
void apply_temporal_overrides(TemporalConfig& config, const toml::table& section, const std::filesystem::path& file);

}  // namespace rawmed::temporal
