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
  int depth = 2;                // D residual quantization depth
  int codebook_size = 1024;     // K
  int kernel_size = 5;          // encoder strided conv kernel
  bool positional_embedding = true;  // the reference has none (docs/method.md, section 7)
  std::string upsample = "query";    // decoder: "shuffle" (Conv1d 2x channels + 1-D pixel shuffle),
                                     // "transpose" (ConvTranspose1d, the reference) or "query" (each
                                     // slot = MLP(all P latents + slot embedding))
  int decoder_width = 512;      // hidden size of the "query" decoder
  int slot_rank = 64;           // "query" decoder: each slot also reads its own rank-r projection of the
                                // latents (0: only the shared one)
  int role_rank = 64;           // "query" decoder: each slot also reads its role, the (column, offset) it
                                // follows, with a per-column rank-r projection of the code, and the
                                // encoder reads every token's role (0: off); decoding then goes slot by slot
  bool mix_positions = true;    // a dense layer across the P latents after the encoder and before the
                                // decoder, so a short event (most fit in the first P-th of the slots)
                                // can use every position's codes; the reference has none
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
  double lr = 2e-3;
  double weight_decay = 0.01;
  double clip = 5.0;
  // "constant" or "cosine" (to min_lr_ratio * lr at max_epochs, or at the --max-minutes deadline)
  std::string lr_schedule = "cosine";
  int lr_warmup_steps = 200;     // linear warm-up of the learning rate
  double min_lr_ratio = 0.05;
  int max_epochs = 10;
  int patience = 10;             // epochs without a better validation exact-event rate
  int eval_batch_size = 256;
  double augment_numbers = 0;    // share of training events whose digits are redrawn at random at each
                                 // step (canonical numbers of the same shape), so that the code learns
                                 // digits rather than the values it has seen (0: off)

  // Every key above but the preset, once: drives [codec] overrides and the JSON next to the model.
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("embed_dim", c.embed_dim), f("channels", c.channels), f("positions", c.positions);
    f("depth", c.depth), f("codebook_size", c.codebook_size), f("kernel_size", c.kernel_size);
    f("positional_embedding", c.positional_embedding), f("upsample", c.upsample);
    f("decoder_width", c.decoder_width), f("slot_rank", c.slot_rank), f("role_rank", c.role_rank);
    f("mix_positions", c.mix_positions);
    f("shared_codebook", c.shared_codebook), f("ema_decay", c.ema_decay), f("commitment", c.commitment);
    f("kmeans_init", c.kmeans_init), f("kmeans_iters", c.kmeans_iters), f("kmeans_samples", c.kmeans_samples);
    f("dead_code_threshold", c.dead_code_threshold), f("warmup_steps", c.warmup_steps);
    f("batch_size", c.batch_size), f("lr", c.lr), f("weight_decay", c.weight_decay), f("clip", c.clip);
    f("lr_schedule", c.lr_schedule), f("lr_warmup_steps", c.lr_warmup_steps), f("min_lr_ratio", c.min_lr_ratio);
    f("max_epochs", c.max_epochs), f("patience", c.patience), f("eval_batch_size", c.eval_batch_size);
    f("augment_numbers", c.augment_numbers);
  }
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
