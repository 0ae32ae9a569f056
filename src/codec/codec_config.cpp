#include "codec/codec_config.h"

#include "common/error.h"
#include "ingest/config.h"

namespace rawmed::codec {

CodecConfig codec_preset(const std::string& name) {
  CodecConfig c;
  c.preset = name;
  if (name == "paper") {
    // Paper / reference sizes (reference notes 2.1), with our quantizer improvements kept on.
    c.embed_dim = 256;
    c.channels = 256;
    c.positions = 4;
    c.depth = 2;
    c.codebook_size = 1024;
    c.shared_codebook = true;
    c.ema_decay = 0.99;
    c.commitment = 1.0;
    c.batch_size = 4096;
    c.lr = 5e-4;
    c.clip = 5.0;
    c.max_epochs = 200;
    c.patience = 10;
    c.eval_batch_size = 256;
  } else if (name == "demo") {
    // defaults above (embed 64, channels 64, P 4, D 4, K 256, batch 32): sized for the demos on
    // 2 shared cores; see notes/issue-3.md for what it reaches
  } else if (name == "tiny") {
    c.embed_dim = 16;
    c.channels = 16;
    c.positions = 2;
    c.depth = 2;
    c.codebook_size = 16;
    c.commitment = 1.0;
    c.kmeans_samples = 256;
    c.kmeans_iters = 3;
    c.batch_size = 8;
    c.lr = 3e-3;
    c.max_epochs = 3;
    c.patience = 3;
    c.eval_batch_size = 16;
  } else {
    fail("codec preset '{}' is unknown (use paper, demo or tiny)", name);
  }
  return c;
}

nlohmann::json CodecConfig::to_json() const {
  return {{"preset", preset},
          {"embed_dim", embed_dim},
          {"channels", channels},
          {"positions", positions},
          {"depth", depth},
          {"codebook_size", codebook_size},
          {"kernel_size", kernel_size},
          {"positional_embedding", positional_embedding},
          {"upsample", upsample},
          {"shared_codebook", shared_codebook},
          {"ema_decay", ema_decay},
          {"commitment", commitment},
          {"kmeans_init", kmeans_init},
          {"kmeans_iters", kmeans_iters},
          {"kmeans_samples", kmeans_samples},
          {"dead_code_threshold", dead_code_threshold},
          {"warmup_steps", warmup_steps},
          {"batch_size", batch_size},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"clip", clip},
          {"max_epochs", max_epochs},
          {"patience", patience},
          {"eval_batch_size", eval_batch_size}};
}

CodecConfig CodecConfig::from_json(const nlohmann::json& j) {
  CodecConfig c;
  c.preset = j.at("preset");
  c.embed_dim = j.at("embed_dim");
  c.channels = j.at("channels");
  c.positions = j.at("positions");
  c.depth = j.at("depth");
  c.codebook_size = j.at("codebook_size");
  c.kernel_size = j.at("kernel_size");
  c.positional_embedding = j.at("positional_embedding");
  c.upsample = j.at("upsample");
  c.shared_codebook = j.at("shared_codebook");
  c.ema_decay = j.at("ema_decay");
  c.commitment = j.at("commitment");
  c.kmeans_init = j.at("kmeans_init");
  c.kmeans_iters = j.at("kmeans_iters");
  c.kmeans_samples = j.at("kmeans_samples");
  c.dead_code_threshold = j.at("dead_code_threshold");
  c.warmup_steps = j.value("warmup_steps", 0);
  c.batch_size = j.at("batch_size");
  c.lr = j.at("lr");
  c.weight_decay = j.at("weight_decay");
  c.clip = j.at("clip");
  c.max_epochs = j.at("max_epochs");
  c.patience = j.at("patience");
  c.eval_batch_size = j.at("eval_batch_size");
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
  need(upsample == "shuffle" || upsample == "transpose", "upsample must be \"shuffle\" or \"transpose\"");
  need(ema_decay > 0 && ema_decay < 1, "ema_decay must be in (0, 1)");
  need(batch_size > 0 && eval_batch_size > 0, "batch sizes must be positive");
  need(lr > 0 && clip > 0, "lr and clip must be positive");
  need(warmup_steps >= 0, "warmup_steps must be >= 0");
  need(max_epochs > 0 && patience > 0, "max_epochs and patience must be positive");
  int ratio = tokens_per_event / positions;
  if (tokens_per_event % positions != 0 || ratio < 1 || (ratio & (ratio - 1)) != 0)
    fail("codec config: tokens per event ({}) must be positions ({}) times a power of two", tokens_per_event,
         positions);
}

void apply_codec_overrides(CodecConfig& c, const toml::table& s, const std::filesystem::path& file) {
  check_keys(s,
             {"embed_dim", "channels", "positions", "depth", "codebook_size", "kernel_size", "positional_embedding",
              "upsample", "shared_codebook", "ema_decay", "commitment", "kmeans_init", "kmeans_iters",
              "kmeans_samples", "dead_code_threshold", "warmup_steps", "batch_size", "lr", "weight_decay", "clip", "max_epochs",
              "patience", "eval_batch_size"},
             "codec", file);
  auto i = [&](const char* key, int& v) { v = static_cast<int>(get_int(s, key, v, "codec", file)); };
  auto d = [&](const char* key, double& v) { v = get_double(s, key, v, "codec", file); };
  auto b = [&](const char* key, bool& v) { v = get_bool(s, key, v, "codec", file); };
  i("embed_dim", c.embed_dim);
  i("channels", c.channels);
  i("positions", c.positions);
  i("depth", c.depth);
  i("codebook_size", c.codebook_size);
  i("kernel_size", c.kernel_size);
  b("positional_embedding", c.positional_embedding);
  c.upsample = get_string(s, "upsample", c.upsample, "codec", file);
  b("shared_codebook", c.shared_codebook);
  d("ema_decay", c.ema_decay);
  d("commitment", c.commitment);
  b("kmeans_init", c.kmeans_init);
  i("kmeans_iters", c.kmeans_iters);
  i("kmeans_samples", c.kmeans_samples);
  d("dead_code_threshold", c.dead_code_threshold);
  i("warmup_steps", c.warmup_steps);
  i("batch_size", c.batch_size);
  d("lr", c.lr);
  d("weight_decay", c.weight_decay);
  d("clip", c.clip);
  i("max_epochs", c.max_epochs);
  i("patience", c.patience);
  i("eval_batch_size", c.eval_batch_size);
}

}  // namespace rawmed::codec
