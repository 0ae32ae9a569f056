#pragma once
// The event codec: an RQ-VAE over one tokenized event (docs/method.md, section 2).
//   tokens, types, DPE (+ roles) (B, L) -> summed embeddings -> strided Conv1d encoder -> (B, P, C)
//   latents -> residual quantizer (depth D, EMA codebooks) -> codes (B, P, D)
//   -> decoder (upsampling convolutions, or the "query" decoder: every slot reads the whole code)
//   -> (B, L, W) -> token / type / DPE heads.
// Included only by src/codec (it pulls in Torch).
#include "codec/codec_config.h"

#include <torch/torch.h>

#include <random>

namespace rawmed::codec {

struct VocabSizes {
  int tokens = 0, types = 5, dpe = 32, length = 128;  // length: tokens per event (L)
  int fields = 0;                      // table and column tokens (role_rank): field ids 1..fields
  std::vector<int64_t> token_field;    // per token id: its field id, 0 for other tokens (empty: all 0)
};

// Role of every slot (role_rank): the field (table or column token) it follows and how many slots
// after it, computed from the tokens before the slot only, so decoding can compute it slot by slot.
constexpr int kMaxRoleOffset = 64;

// Residual quantizer with EMA codebook updates, k-means initialisation and dead-code restarts.
// Codebook state lives in buffers (not trained by the optimiser).
struct ResidualQuantizerImpl : torch::nn::Module {
  ResidualQuantizerImpl(int dim, int codebook_size, int depth, bool shared, double decay);

  struct Output {
    torch::Tensor quantized;   // (N, C), straight-through
    torch::Tensor codes;       // (N, D) int64
    torch::Tensor commitment;  // scalar: sum over depths of mean squared (residual - code)
  };
  // z: (N, C). In training mode also accumulates the EMA statistics (apply with update_codebooks).
  Output forward(const torch::Tensor& z);
  // Sum over depths of the code vectors: codes (N, D) -> (N, C).
  torch::Tensor lookup(const torch::Tensor& codes) const;
  // EMA step from the statistics of the last training forward, then restarts dead codes with
  // residuals of that forward chosen by `rng`. Returns the number of restarted codes.
  int64_t update_codebooks(double dead_threshold, std::mt19937_64& rng);
  // k-means++ then Lloyd iterations on latents z (M, C), depth by depth.
  void kmeans_init(const torch::Tensor& z, int iters, std::mt19937_64& rng);
  int codebook_of(int d) const { return shared_ ? 0 : d; }

  int dim_, size_, depth_;
  bool shared_;
  double decay_;
  torch::Tensor embed;         // (books, K, C)
  torch::Tensor embed_avg;     // (books, K, C) EMA of assigned sums
  torch::Tensor cluster_size;  // (books, K) EMA of assignment counts
  torch::Tensor initted;       // scalar: 1 once k-means has run (or if it is off)
  // Statistics of the last training forward (not saved).
  std::vector<torch::Tensor> step_counts_, step_sums_, step_residuals_;
};
TORCH_MODULE(ResidualQuantizer);

struct RQVAEImpl : torch::nn::Module {
  RQVAEImpl(const CodecConfig& config, const VocabSizes& sizes);

  struct Output {
    torch::Tensor hidden;      // (T, W) decoder output at the T non-pad slots (event-major), before the heads
    torch::Tensor latents;     // (B, P, C) what the decoder read (quantized unless `quantize` is off)
    torch::Tensor codes;       // (B, P, D)
    torch::Tensor commitment;  // scalar
  };
  // Latents before quantization: (B, P, C). With role_rank, `token_roles` = roles(tokens) when the
  // caller has them already (computed here otherwise).
  torch::Tensor encode(const torch::Tensor& tokens, const torch::Tensor& types, const torch::Tensor& dpe,
                       const torch::Tensor& token_roles = {});
  // (B, P, C) quantized latents -> (B, L, W), or (T, W) at `slots` (flat indices into B x L).
  // With role_rank, `roles` (B, L) from roles(tokens) must be given.
  torch::Tensor decode(const torch::Tensor& quantized, const torch::Tensor& slots = {},
                       const torch::Tensor& roles = {});
  // "query" decoder in parts: what each event's slots read from its code, computed once; then the
  // decoder state at any (event, slot, role), so that decoding can go slot by slot.
  struct QueryContext {
    torch::Tensor base, slot_proj, role_proj;  // (B, W), (B * L, slot_rank), (B * (fields + 1), role_rank)
  };
  QueryContext query_context(const torch::Tensor& quantized);
  torch::Tensor query_at(const QueryContext& context, const torch::Tensor& events, const torch::Tensor& slots,
                         const torch::Tensor& roles);
  Output forward(const torch::Tensor& tokens, const torch::Tensor& types, const torch::Tensor& dpe);
  // codes (B, P, D) -> quantized latents (B, P, C).
  torch::Tensor lookup_codes(const torch::Tensor& codes);

  CodecConfig config;
  VocabSizes sizes;
  bool quantize = true;  // false: latents pass through unquantized (autoencoder warm-up)
  torch::nn::Embedding token_embed{nullptr}, type_embed{nullptr}, dpe_embed{nullptr}, position_embed{nullptr};
  torch::nn::Sequential encoder{nullptr}, decoder{nullptr};
  torch::nn::Linear encoder_mix{nullptr}, decoder_mix{nullptr};  // across the P latents (mix_positions)
  torch::nn::Linear query_in{nullptr}, query_hidden{nullptr};     // "query" decoder
  torch::nn::Embedding query_slot{nullptr};
  torch::nn::Linear slot_in{nullptr}, slot_out{nullptr};  // per-slot rank-r projections (slot_rank)
  torch::nn::Linear role_in{nullptr}, role_out{nullptr};  // per-field rank-r projections (role_rank)
  torch::nn::Embedding role_embed{nullptr};               // (field, offset)
  torch::nn::Embedding role_input{nullptr};               // (field, offset), added to the encoder input
  torch::Tensor token_field;                              // buffer (V,) int64
  // Role index field * kMaxRoleOffset + offset of every slot of tokens (B, L) -> (B, L).
  torch::Tensor roles(const torch::Tensor& tokens) const;
  ResidualQuantizer quantizer{nullptr};
  torch::nn::Linear token_head{nullptr}, type_head{nullptr}, dpe_head{nullptr};
};
TORCH_MODULE(RQVAE);

}  // namespace rawmed::codec
