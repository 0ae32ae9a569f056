#pragma once
// Codec (RQ-VAE) hyper-parameters: presets `paper`, `demo`, `tiny`, overridden by the [codec]
// section of the dataset TOML. Torch-free.
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <filesystem>
#include <string>

namespace rawmed::codec {

struct CodecConfig {
  std::string preset = "demo";
  // Architecture.
  int embed_dim = 64;           // token + type + DPE (+ position) embeddings, summed
  int channels = 64;            // encoder/decoder width = codebook vector size
  int positions = 4;            // P latent positions per event
  int depth = 4;                // D residual quantization depth
  int codebook_size = 256;      // K
  int kernel_size = 5;          // encoder strided conv kernel
  bool positional_embedding = true;  // the reference has none (notes 6.12)
  std::string upsample = "shuffle";  // "shuffle" (Conv1d 2x channels + 1-D pixel shuffle) or "transpose"
  // Quantizer.
  bool shared_codebook = false;  // one codebook for every depth (reference) or one per depth
  double ema_decay = 0.95;
  double commitment = 0.25;      // beta
  bool kmeans_init = true;
  int kmeans_iters = 10;
  int kmeans_samples = 16384;    // latent vectors used for the k-means initialisation
  double dead_code_threshold = 0.02;  // restart codes whose EMA use per step falls below this (0: never)
  int warmup_steps = 0;          // train as a plain autoencoder (no quantization) for this many steps,
                                 // then initialise the codebooks by k-means on the trained encoder
  // Optimisation.
  int batch_size = 32;           // events
  double lr = 3e-3;
  double weight_decay = 0.01;
  double clip = 5.0;
  int max_epochs = 60;
  int patience = 6;              // epochs without a better validation exact-event rate
  int eval_batch_size = 256;

  nlohmann::json to_json() const;
  static CodecConfig from_json(const nlohmann::json& json);
  // Errors on values that cannot work (e.g. K > 65535, tokens per event not P * 2^n).
  void validate(int tokens_per_event) const;
};

// `paper`, `demo` or `tiny`; anything else errors.
CodecConfig codec_preset(const std::string& name);

// Applies the keys of a [codec] TOML table (unknown keys error, naming the file and key).
void apply_codec_overrides(CodecConfig& config, const toml::table& section, const std::filesystem::path& file);

}  // namespace rawmed::codec
