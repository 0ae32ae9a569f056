#include "codec/codec_config.h"

#include "common/error.h"
#include "common/config_fields.h"

namespace rawmed::codec {

CodecConfig codec_preset(const std::string& name) {
  CodecConfig c;
  c.preset = name;
  if (name == "paper") {
    // Paper / reference sizes (docs/method.md, section 7), with our quantizer improvements kept on.
    c.embed_dim = 256;
    c.channels = 256;
    c.positions = 4;
    c.depth = 2;
    c.codebook_size = 1024;
    c.upsample = "shuffle";  // the reference's transposed convolutions: "transpose"
    c.slot_rank = 0;
    c.role_rank = 0;
    c.mix_positions = false;
    c.shared_codebook = true;
    c.ema_decay = 0.99;
    c.commitment = 1.0;
    c.batch_size = 4096;
    c.lr = 5e-4;
    c.clip = 5.0;
    c.lr_schedule = "constant";
    c.lr_warmup_steps = 0;
    c.max_epochs = 200;
    c.patience = 10;
    c.eval_batch_size = 256;
  } else if (name == "demo") {
    // defaults above (embed 64, channels 64, P 4, D 2, K 1024, "query" decoder of width 512 with
    // slot_rank 64 and role_rank 64, batch 32, cosine lr 2e-3 over 10 epochs): about 10 minutes on
    // the MIMIC-IV demo on one core; notes/issue-3.md
  } else if (name == "tiny") {
    c.embed_dim = 16;
    c.channels = 16;
    c.decoder_width = 16;
    c.slot_rank = 4;
    c.role_rank = 4;
    c.positions = 2;
    c.depth = 2;
    c.codebook_size = 16;
    c.commitment = 1.0;
    c.kmeans_samples = 256;
    c.kmeans_iters = 3;
    c.batch_size = 8;
    c.lr = 3e-3;
    c.lr_schedule = "constant";
    c.lr_warmup_steps = 0;
    c.max_epochs = 3;
    c.patience = 3;
    c.eval_batch_size = 16;
  } else {
    fail("codec preset '{}' is unknown (use paper, demo or tiny)", name);
  }
  return c;
}

nlohmann::json CodecConfig::to_json() const {
  auto j = fields_to_json(*this);
  j["preset"] = preset;
  return j;
}

CodecConfig CodecConfig::from_json(const nlohmann::json& j) {
  // Keys missing from files written before they existed keep the behaviour of that time.
  CodecConfig c;
  c.upsample = "shuffle";
  c.slot_rank = 0;
  c.role_rank = 0;
  c.mix_positions = false;
  c.lr_schedule = "constant";
  c.lr_warmup_steps = 0;
  fields_from_json(c, j);
  c.preset = j.value("preset", c.preset);
  return c;
}

void CodecConfig::validate(int tokens_per_event) const {
  auto need = [](bool ok, const char* what) {
    if (!ok) fail("codec config: {}", what);
  };
  need(embed_dim > 0 && channels > 0, "embed_dim and channels must be positive");
  need(positions > 0 && depth > 0, "positions and depth must be positive");
  need(codebook_size >= 2 && codebook_size <= 65535, "codebook_size must be in [2, 65535] (codes are u16)");
  need(kernel_size >= 1 && kernel_size % 2 == 1, "kernel_size must be odd");
  need(upsample == "shuffle" || upsample == "transpose" || upsample == "query",
       "upsample must be \"shuffle\", \"transpose\" or \"query\"");
  need(decoder_width > 0, "decoder_width must be positive");
  need(slot_rank >= 0 && role_rank >= 0, "slot_rank and role_rank must be >= 0");
  need(ema_decay > 0 && ema_decay < 1, "ema_decay must be in (0, 1)");
  need(batch_size > 0 && eval_batch_size > 0, "batch sizes must be positive");
  need(lr > 0 && clip > 0, "lr and clip must be positive");
  need(warmup_steps >= 0 && lr_warmup_steps >= 0, "warmup_steps and lr_warmup_steps must be >= 0");
  need(lr_schedule == "constant" || lr_schedule == "cosine", "lr_schedule must be \"constant\" or \"cosine\"");
  need(min_lr_ratio >= 0 && min_lr_ratio <= 1, "min_lr_ratio must be in [0, 1]");
  need(max_epochs > 0 && patience > 0, "max_epochs and patience must be positive");
  need(augment_numbers >= 0 && augment_numbers <= 1, "augment_numbers must be in [0, 1]");
  int ratio = tokens_per_event / positions;
  if (tokens_per_event % positions != 0 || ratio < 1 || (ratio & (ratio - 1)) != 0)
    fail("codec config: tokens per event ({}) must be positions ({}) times a power of two", tokens_per_event,
         positions);
}

void apply_codec_overrides(CodecConfig& c, const toml::table& s, const std::filesystem::path& file) {
  apply_fields(c, s, "codec", file);
}

}  // namespace rawmed::codec
