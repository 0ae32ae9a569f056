#include "temporal/temporal_config.h"

#include "common/error.h"
#include "common/config_fields.h"

namespace rawmed::temporal {

TemporalConfig temporal_preset(const std::string& name) {
  TemporalConfig c;
  c.preset = name;
  if (name == "paper") {
    // Reference sizes (docs/method.md, section 7), pre-LN and GELU instead of post-LN and ReLU.
    c.layers = 12;
    c.d_model = 256;
    c.heads = 4;
    c.ff = 1024;
    c.dropout = 0.1;
    c.batch_size = 64;
    c.batch_tokens = 0;  // 64 whole stays per batch, as the reference
    c.lr = 3e-4;
    c.warmup_steps = 200;
    c.clip = 5.0;
    c.max_epochs = 200;
    c.patience = 10;
    c.running_clock = true;
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
  auto j = fields_to_json(*this);
  j["preset"] = preset;
  j["sinusoidal"] = sinusoidal;
  return j;
}

void apply_temporal_overrides(TemporalConfig& c, const toml::table& s, const std::filesystem::path& file) {
  apply_fields(c, s, "temporal", file, {"positions"});
  if (c.time_encoding != "gap" && c.time_encoding != "minute" && c.time_encoding != "digits")
    fail("{}: temporal.time_encoding must be \"gap\", \"minute\" or \"digits\" (got \"{}\")", file.string(),
         c.time_encoding);
  std::string positions = get_string(s, "positions", c.sinusoidal ? "sinusoidal" : "learned", "temporal", file);
  if (positions != "learned" && positions != "sinusoidal")
    fail("{}: temporal.positions must be \"learned\" or \"sinusoidal\" (got \"{}\")", file.string(), positions);
  c.sinusoidal = positions == "sinusoidal";
  if (c.time_resolution_minutes <= 0 || c.layers <= 0 || c.d_model <= 0 || c.heads <= 0 || c.ff <= 0 ||
      c.batch_size <= 0 || c.batch_tokens < 0 || c.lr <= 0 || c.max_epochs < 0 || c.dropout < 0 || c.dropout >= 1)
    fail("{}: [temporal] has a value out of range (sizes, lr and resolution must be positive, dropout in [0, 1))",
         file.string());
  if (c.d_model % c.heads != 0)
    fail("{}: temporal.d_model ({}) must be a multiple of temporal.heads ({})", file.string(), c.d_model, c.heads);
}

}  // namespace rawmed::temporal
