#pragma once
// The trained temporal model on disk (WORK/temporal/model.pt) and the batched sampler.
#include "temporal/code_grammar.h"
#include "temporal/layout.h"
#include "temporal/temporal.h"
#include "temporal/transformer.h"

#include <filesystem>
#include <random>
#include <string>

namespace rawmed::temporal {

struct TemporalModel {
  Layout layout;
  ModelConfig config;
  Transformer net{nullptr};
};

// model.pt: the network's parameters plus "config" (JSON: layout and model), written atomically.
void save_model(const std::filesystem::path& path, const TemporalModel& model);
TemporalModel load_model(const std::filesystem::path& path, torch::Device device);

struct SamplerSettings : DrawSettings {
  int gender = -1;        // conditioning token index, -1: sampled
  std::vector<char> age_mask;  // allowed age groups, empty: all
  bool use_cache = true;  // false: rerun the whole prefix for every token (for tests and benchmarks)
  const CodeGrammar* code_grammar = nullptr;  // restricts the codes of each event (null: any code)
};

struct SampledTokens {
  std::vector<std::vector<int32_t>> sequences;  // START .. END
  int64_t tokens = 0;                           // tokens generated (excluding START)
  int64_t hit_cap = 0;                          // stays whose END was forced by the event cap
  double seconds = 0;
};

// Exactly n sequences. Stay i draws from its own generator seeded by (seed, i), so results do not
// depend on the batch size.
SampledTokens sample_sequences(Transformer& net, const Layout& layout, int64_t n, const SamplerSettings& settings);

// Picks one token from logits (V floats) restricted to `allowed`: temperature, top-k, top-p.
int pick_token(const float* logits, const std::vector<char>& allowed, const SamplerSettings& settings,
               double temperature, std::mt19937_64& rng);

}  // namespace rawmed::temporal
