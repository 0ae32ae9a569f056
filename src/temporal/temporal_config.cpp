#include "temporal/temporal_config.h"

#include "common/error.h"
#include "ingest/config.h"

namespace rawmed::temporal {

TemporalConfig temporal_preset(const std::string& name) {
  TemporalConfig c;
  c.preset = name;
  if (name == "paper") {
    // Reference sizes (reference notes 3.2-3.3), pre-LN and GELU instead of post-LN and ReLU.
    c.layers = 12;
    c.d_model = 256;
    c.heads = 4;
    c.ff = 1024;
    c.dropout = 0.1;
    c.batch_size = 64;
    c.lr = 3e-4;
    c.warmup_steps = 200;
    c.clip = 5.0;
    c.max_epochs = 200;
    c.patience = 10;
  } else if (name == "demo") {
    // defaults above: a few minutes on the MIMIC-IV / eICU demos on 2 cores
  } else if (name == "tiny") {
    c.layers = 1;
    c.d_model = 32;
    c.heads = 2;
    c.ff = 64;
    c.dropout = 0.0;
    c.batch_size = 4;
    c.lr = 1e-2;
    c.warmup_steps = 2;
    c.max_epochs = 6;
    c.patience = 3;
  } else {
    fail("temporal preset '{}' is unknown (use paper, demo or tiny)", name);
  }
  return c;
}

nlohmann::json TemporalConfig::to_json() const {
  return {{"preset", preset},         {"time_resolution_minutes", time_resolution_minutes},
          {"condition", condition},   {"layers", layers},
          {"d_model", d_model},       {"heads", heads},
          {"ff", ff},                 {"dropout", dropout},
          {"sinusoidal", sinusoidal}, {"batch_size", batch_size},
          {"lr", lr},                 {"min_lr_ratio", min_lr_ratio},
          {"warmup_steps", warmup_steps}, {"weight_decay", weight_decay},
          {"clip", clip},             {"max_epochs", max_epochs},
          {"patience", patience}};
}

void apply_temporal_overrides(TemporalConfig& c, const toml::table& s, const std::filesystem::path& file) {
  const char* ctx = "temporal";
  check_keys(s,
             {"time_resolution_minutes", "condition", "layers", "d_model", "heads", "ff", "dropout", "positions",
              "batch_size", "lr", "min_lr_ratio", "warmup_steps", "weight_decay", "clip", "max_epochs", "patience"},
             ctx, file);
  c.time_resolution_minutes = static_cast<int>(get_int(s, "time_resolution_minutes", c.time_resolution_minutes, ctx, file));
  c.condition = get_bool(s, "condition", c.condition, ctx, file);
  c.layers = static_cast<int>(get_int(s, "layers", c.layers, ctx, file));
  c.d_model = static_cast<int>(get_int(s, "d_model", c.d_model, ctx, file));
  c.heads = static_cast<int>(get_int(s, "heads", c.heads, ctx, file));
  c.ff = static_cast<int>(get_int(s, "ff", c.ff, ctx, file));
  c.dropout = get_double(s, "dropout", c.dropout, ctx, file);
  std::string positions = get_string(s, "positions", c.sinusoidal ? "sinusoidal" : "learned", ctx, file);
  if (positions != "learned" && positions != "sinusoidal")
    fail("{}: temporal.positions must be \"learned\" or \"sinusoidal\" (got \"{}\")", file.string(), positions);
  c.sinusoidal = positions == "sinusoidal";
  c.batch_size = static_cast<int>(get_int(s, "batch_size", c.batch_size, ctx, file));
  c.lr = get_double(s, "lr", c.lr, ctx, file);
  c.min_lr_ratio = get_double(s, "min_lr_ratio", c.min_lr_ratio, ctx, file);
  c.warmup_steps = static_cast<int>(get_int(s, "warmup_steps", c.warmup_steps, ctx, file));
  c.weight_decay = get_double(s, "weight_decay", c.weight_decay, ctx, file);
  c.clip = get_double(s, "clip", c.clip, ctx, file);
  c.max_epochs = static_cast<int>(get_int(s, "max_epochs", c.max_epochs, ctx, file));
  c.patience = static_cast<int>(get_int(s, "patience", c.patience, ctx, file));
  if (c.time_resolution_minutes <= 0 || c.layers <= 0 || c.d_model <= 0 || c.heads <= 0 || c.ff <= 0 ||
      c.batch_size <= 0 || c.lr <= 0 || c.max_epochs < 0 || c.dropout < 0 || c.dropout >= 1)
    fail("{}: [temporal] has a value out of range (sizes, lr and resolution must be positive, dropout in [0, 1))",
         file.string());
  if (c.d_model % c.heads != 0)
    fail("{}: temporal.d_model ({}) must be a multiple of temporal.heads ({})", file.string(), c.d_model, c.heads);
}

}  // namespace rawmed::temporal
