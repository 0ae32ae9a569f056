#pragma once
// A GPT-style causal Transformer decoder (pre-LayerNorm, GELU) with its own attention and an
// explicit key/value cache, so sampling costs one step per new token. Includes Torch: only
// src/temporal files and tests include this header.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <vector>

namespace rawmed::temporal {

struct ModelConfig {
  int vocab_size = 0;
  int64_t max_length = 0;
  int layers = 2, d_model = 64, heads = 2, ff = 256;
  double dropout = 0.0;
  bool sinusoidal = false;  // false: learned positions
  // Tokens time_first .. time_first + time_count - 1 stand for the values 0, 1, ...: a fixed
  // sinusoid of the value (times a learned scale) is added to their embeddings, so that values
  // seldom seen in training sit next to their neighbours. 0: none.
  int time_first = 0, time_count = 0;
  // The time tokens are gaps: their running sum (the current event's time, capped at time_count - 1)
  // is given at every position as a sinusoid through a learned projection, so a model that writes
  // gaps still knows the clock, e.g. that the window is nearly over.
  bool running_clock = false;

  // The keys of the "model" JSON stored in model.pt and checkpoints.
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("vocab_size", c.vocab_size), f("max_length", c.max_length);
    f("layers", c.layers), f("d_model", c.d_model), f("heads", c.heads), f("ff", c.ff), f("dropout", c.dropout);
    f("sinusoidal", c.sinusoidal), f("time_first", c.time_first), f("time_count", c.time_count);
    f("running_clock", c.running_clock);
  }
  nlohmann::json to_json() const;
  static ModelConfig from_json(const nlohmann::json& j);
};

// Keys and values of every layer for a batch: [layer] (B, heads, max_length, head_dim).
struct KVCache {
  std::vector<torch::Tensor> keys, values;
  torch::Tensor clock;  // (B) running sum of the gaps fed so far (ModelConfig::running_clock)
  int64_t length = 0;   // positions filled
};

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const ModelConfig& config);
  // tokens (B, T) -> logits (B, T, V). Without a cache, positions are 0..T-1 and attention is
  // causal over the T tokens. With a cache, the tokens continue at cache->length; their keys and
  // values are appended, and they attend to everything in the cache.
  torch::Tensor forward(const torch::Tensor& tokens, KVCache* cache = nullptr);
  KVCache make_cache(int64_t batch) const;
  const ModelConfig& config() const { return config_; }

 private:
  torch::Tensor attention(int layer, const torch::Tensor& x, KVCache* cache, int64_t start);
  torch::Tensor running_clock(const torch::Tensor& tokens, KVCache* cache) const;

  struct Block {
    torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
    torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
  };
  ModelConfig config_;
  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
  torch::Tensor sinusoid_;  // (max_length, d) buffer when sinusoidal
  torch::Tensor time_sinusoid_, time_scale_;  // (V, d) buffer, zero outside the time tokens; scalar
  torch::Tensor clock_sinusoid_;              // (time_count, d) buffer when running_clock
  torch::nn::Linear clock_projection{nullptr};
  std::vector<Block> blocks_;
  torch::nn::LayerNorm final_norm{nullptr};
  torch::nn::Linear head{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Transformer);

}  // namespace rawmed::temporal
