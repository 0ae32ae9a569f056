#pragma once
// Training sequences for the temporal model: one token sequence per stay (layout.h), batches,
// the grammar masks applied to the logits, and the unigram (per-slot frequency) baseline.
#include "temporal/layout.h"
#include "temporal/temporal_config.h"
#include "text/dataset.h"

#include <torch/torch.h>

#include <filesystem>
#include <random>
#include <vector>

namespace rawmed::temporal {

struct Batch {
  torch::Tensor input;   // (B, T) sequence[:-1], PAD-padded
  torch::Tensor target;  // (B, T) sequence[1:], -100 where padded
  torch::Tensor slot;    // (T) slot class of each target position
  int64_t tokens = 0;    // targets that count
};

struct Corpus {
  Layout layout;
  std::vector<std::vector<int32_t>> train, valid, test;
  int64_t train_tokens = 0;     // targets in the train split
  int64_t events_cut = 0, stays_cut = 0;  // beyond the per-stay cap
  int64_t events_total = 0;
  torch::Tensor target_slots;   // (max_length - 1) slot class of target position p (token p + 1)

  Batch make_batch(const std::vector<std::vector<int32_t>>& sequences, const std::vector<size_t>& ids,
                   torch::Device device) const;
  // Shuffled batches of similar length (shuffle, sort within windows of 16 batches, shuffle batches).
  // Shuffled batches of up to batch_size stays and batch_tokens padded tokens (0: no token limit),
  // of similar lengths (sorted within windows of 16 batches).
  std::vector<std::vector<size_t>> train_batches(int batch_size, int64_t batch_tokens, std::mt19937_64& rng) const;
  nlohmann::json summary() const;
};

// Builds sequences for every stay; window_hours sets the time digits.
Corpus build_corpus(const Dataset& dataset, const Codes& codes, const TemporalConfig& config, int window_hours);

struct CorpusInputs {
  TemporalConfig config;
  std::filesystem::path config_file;  // empty when WORK/config.toml is absent
  int window_hours = 0;
  Corpus corpus;
  nlohmann::json fingerprints;
};
// Reads WORK/dataset, WORK/codec/codes.bin and the [temporal] section of the config.
CorpusInputs load_corpus_inputs(const std::filesystem::path& work, const std::filesystem::path& config,
                                const std::string& preset);
// The observation window: manifest.json "window_hours", else the config's [dataset] window.
int window_hours_of(const Dataset& dataset, const std::filesystem::path& config_file);

// Additive logit masks (0 / -inf) per slot class: the grammar also shapes training.
struct GrammarMasks {
  GrammarMasks(const Layout& layout, torch::Device device);
  torch::Tensor apply(const torch::Tensor& logits, const torch::Tensor& slot) const;
  int64_t code_class() const { return code_class_; }
  torch::Tensor masks;  // (classes, V)
  int64_t code_class_;
};

// Per-slot-class token frequencies of the train split (add-one over the allowed tokens).
struct Unigram {
  std::vector<std::vector<double>> log_p;  // [slot class][token]
  double loss(const Corpus& corpus, const std::vector<std::vector<int32_t>>& sequences) const;
};
Unigram fit_unigram(const Corpus& corpus);

}  // namespace rawmed::temporal
