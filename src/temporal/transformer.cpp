#include "temporal/transformer.h"

#include "common/config_fields.h"
#include "common/error.h"

#include <cmath>

namespace rawmed::temporal {

nlohmann::json ModelConfig::to_json() const { return fields_to_json(*this); }

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  stored_fields_from_json(c, j, {"time_first", "time_count", "running_clock"});  // absent in older models: 0 / false
  return c;
}

// Row i: sin / cos of i at frequencies 10000^(-2k/d) (the Transformer's position encoding).
static torch::Tensor sinusoid_table(int64_t rows, int64_t d) {
  auto value = torch::arange(rows, torch::kFloat).unsqueeze(1);
  auto frequency = torch::exp(torch::arange(0, d, 2, torch::kFloat) * (-std::log(10000.0) / double(d)));
  auto table = torch::zeros({rows, d});
  table.slice(1, 0, d, 2) = torch::sin(value * frequency);
  table.slice(1, 1, d, 2) = torch::cos(value * frequency);
  return table;
}

TransformerImpl::TransformerImpl(const ModelConfig& config) : config_(config) {
  if (config.d_model % config.heads != 0)
    fail("temporal: d_model {} is not a multiple of heads {}", config.d_model, config.heads);
  if (config.time_count < 0 || config.time_first < 0 || config.time_first + config.time_count > config.vocab_size)
    fail("temporal: time tokens {}+{} lie outside the vocabulary ({})", config.time_first, config.time_count,
         config.vocab_size);
  const int64_t d = config.d_model;
  token_embedding = register_module("token_embedding", torch::nn::Embedding(config.vocab_size, d));
  if (config.time_count > 0) {
    time_sinusoid_ = torch::zeros({config.vocab_size, d});
    time_sinusoid_.narrow(0, config.time_first, config.time_count).copy_(sinusoid_table(config.time_count, d));
    time_sinusoid_ = register_buffer("time_sinusoid", time_sinusoid_);
    // Starts near the size the learned embeddings reach, so neither drowns the other.
    time_scale_ = register_parameter("time_scale", torch::full({1}, 0.1));
  }
  if (config.running_clock) {
    if (config.time_count <= 0) fail("temporal: a running clock needs time tokens");
    clock_sinusoid_ = register_buffer("clock_sinusoid", sinusoid_table(config.time_count, d));
    clock_projection = register_module("clock_projection", torch::nn::Linear(torch::nn::LinearOptions(d, d).bias(false)));
  }
  if (config.sinusoidal) {
    sinusoid_ = register_buffer("sinusoid", sinusoid_table(config.max_length, d));
  } else {
    position_embedding = register_module("position_embedding", torch::nn::Embedding(config.max_length, d));
  }
  for (int l = 0; l < config.layers; ++l) {
    Block b;
    std::string p = "block" + std::to_string(l) + "_";
    b.ln1 = register_module(p + "ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    b.qkv = register_module(p + "qkv", torch::nn::Linear(d, 3 * d));
    b.proj = register_module(p + "proj", torch::nn::Linear(d, d));
    b.ln2 = register_module(p + "ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    b.fc1 = register_module(p + "fc1", torch::nn::Linear(d, config.ff));
    b.fc2 = register_module(p + "fc2", torch::nn::Linear(config.ff, d));
    blocks_.push_back(b);
  }
  final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  head = register_module("head", torch::nn::Linear(d, config.vocab_size));
  dropout = register_module("dropout", torch::nn::Dropout(config.dropout));

  // GPT-2 style initialisation; residual projections scaled down with depth.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const auto& name = p.key();
    if (name.find("ln") != std::string::npos || name.find("norm") != std::string::npos || name == "time_scale")
      continue;
    if (name.rfind("clock_projection", 0) == 0) {  // starts silent: a random clock would drown the tokens
      p.value().zero_();
      continue;
    }
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.value().zero_();
      continue;
    }
    double std = 0.02;
    if (name.find("proj") != std::string::npos || name.find("fc2") != std::string::npos)
      std /= std::sqrt(2.0 * config.layers);
    p.value().normal_(0, std);
  }
}

KVCache TransformerImpl::make_cache(int64_t batch) const {
  KVCache cache;
  auto options = head->weight.options();
  const int64_t head_dim = config_.d_model / config_.heads;
  for (int l = 0; l < config_.layers; ++l) {
    cache.keys.push_back(torch::empty({batch, config_.heads, config_.max_length, head_dim}, options));
    cache.values.push_back(torch::empty({batch, config_.heads, config_.max_length, head_dim}, options));
  }
  cache.clock = torch::zeros({batch}, options.dtype(torch::kLong));
  return cache;
}

torch::Tensor TransformerImpl::attention(int layer, const torch::Tensor& x, KVCache* cache, int64_t start) {
  auto& b = blocks_[layer];
  const int64_t B = x.size(0), T = x.size(1), H = config_.heads, hd = config_.d_model / H;
  auto qkv = b.qkv->forward(x).view({B, T, 3, H, hd}).permute({2, 0, 3, 1, 4});  // (3, B, H, T, hd)
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  if (cache) {
    cache->keys[layer].narrow(2, start, T).copy_(k);
    cache->values[layer].narrow(2, start, T).copy_(v);
    k = cache->keys[layer].narrow(2, 0, start + T);
    v = cache->values[layer].narrow(2, 0, start + T);
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(hd)));  // (B, H, T, start+T)
  if (T > 1) {
    // Query i (absolute position start+i) sees keys 0..start+i.
    auto rows = torch::arange(start, start + T, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    auto cols = torch::arange(start + T, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    scores = scores.masked_fill(cols.unsqueeze(0) > rows.unsqueeze(1), -std::numeric_limits<float>::infinity());
  }
  auto out = torch::matmul(torch::softmax(scores, -1), v);  // (B, H, T, hd)
  return b.proj->forward(out.transpose(1, 2).reshape({B, T, config_.d_model}));
}

// (B, T): the sum of the gap tokens up to and including each position, after those in the cache.
torch::Tensor TransformerImpl::running_clock(const torch::Tensor& tokens, KVCache* cache) const {
  auto gap = tokens - config_.time_first;
  gap = torch::where((gap >= 0) & (gap < config_.time_count), gap, torch::zeros_like(gap));
  auto clock = torch::cumsum(gap, 1);
  if (cache) {
    clock = clock + cache->clock.unsqueeze(1);
    cache->clock = clock.select(1, clock.size(1) - 1).clone();
  }
  return clock.clamp_max(config_.time_count - 1);
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens, KVCache* cache) {
  const int64_t T = tokens.size(1);
  const int64_t start = cache ? cache->length : 0;
  if (start + T > config_.max_length)
    fail("temporal: sequence of {} tokens exceeds the model's maximum length {}", start + T, config_.max_length);
  auto x = token_embedding->forward(tokens);
  if (config_.time_count > 0) x = x + time_scale_ * torch::embedding(time_sinusoid_, tokens);
  if (config_.running_clock)
    x = x + clock_projection->forward(torch::embedding(clock_sinusoid_, running_clock(tokens, cache)));
  if (config_.sinusoidal) x = x + sinusoid_.narrow(0, start, T);
  else x = x + position_embedding->forward(torch::arange(start, start + T, tokens.options()));
  x = dropout->forward(x);
  for (int l = 0; l < config_.layers; ++l) {
    auto& b = blocks_[l];
    x = x + dropout->forward(attention(l, b.ln1->forward(x), cache, start));
    x = x + dropout->forward(b.fc2->forward(torch::gelu(b.fc1->forward(b.ln2->forward(x)))));
  }
  if (cache) cache->length = start + T;
  return head->forward(final_norm->forward(x));
}

}  // namespace rawmed::temporal
