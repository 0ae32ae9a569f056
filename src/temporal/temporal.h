#pragma once
// Stage 2: the temporal model and sampling. Torch-free interface; implementation in src/temporal/.
#include "common/train_args.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace rawmed {
struct Dataset;
}

namespace rawmed::temporal {

class CodeGrammar;
struct CodeGrammarSettings;

// `rawmed train --stage temporal`: trains on WORK/codec/codes.bin + WORK/dataset times,
// writes WORK/temporal/{model.pt,train.json}.
void run_training(const TrainArgs& args);

// How each token is drawn: the options `rawmed sample` and `generate` pass on to the sampler
// (SamplerSettings in sampler.h adds conditioning and the cache switch).
struct DrawSettings {
  double temperature = 1.0;
  double time_temperature = 0;  // time digits and END (0: `temperature`)
  bool lift_times = true;       // a time drawn below the previous event's becomes it (the sampler's
                                // lift_time_digit); false: such times are masked (notes/issue-4.md, session 3)
  int top_k = 0;                // 0: off (the full distribution; a cut tail moves gaps and codes toward the mode)
  double top_p = 1.0;           // 1: off
  uint64_t seed = 0;
  int batch_size = 64;
  int min_events = 1;           // END only after this many events (e.g. the cohort's minimum; capped at E)

  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("temperature", c.temperature), f("time_temperature", c.time_temperature), f("lift_times", c.lift_times);
    f("top_k", c.top_k), f("top_p", c.top_p), f("seed", c.seed), f("batch_size", c.batch_size);
    f("min_events", c.min_events);
  }
};

struct SampleOptions : DrawSettings {
  int64_t n = 100;            // exactly this many stays
  std::string device = "cpu";
  int threads = 0;
  std::string gender;         // optional conditioning (empty: unconditional)
  std::string age_group;      // optional conditioning, e.g. "65+"
  std::shared_ptr<const CodeGrammar> code_grammar;  // null: any code tuple (load_code_grammar)

  // What sample.json records under "options" (not the thread count).
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("n", c.n);
    DrawSettings::visit(c, f);
    f("device", c.device), f("gender", c.gender), f("age_group", c.age_group);
  }
};

// The code grammar of WORK: WORK/codec/codes.bin and the train split of `dataset` (WORK/dataset,
// already loaded by the caller); null when settings.depth is 0.
std::shared_ptr<const CodeGrammar> load_code_grammar(const std::filesystem::path& work, const Dataset& dataset,
                                                     const CodeGrammarSettings& settings);

// Sampled stays: stay s has events [stay_offsets[s], stay_offsets[s+1]); event e has
// event_minutes[e] and codes[e*P*D, (e+1)*P*D) (codes.bin layout).
struct SampledStays {
  std::vector<uint64_t> stay_offsets;
  std::vector<int32_t> event_minutes;
  std::vector<uint16_t> codes;
  int positions = 0, depth = 0, codebook_size = 0;
  int time_resolution_minutes = 0, max_events = 0;  // of the model that sampled them
  int64_t stays_hit_length_cap = 0;
  int64_t tokens = 0;
  double seconds = 0;
  // Per stay, when the model is conditioned (else empty): sampled or requested gender value and
  // age group ("18-44", "45-64", "65-79", "80+").
  std::vector<std::string> genders, age_groups;

  size_t num_stays() const { return stay_offsets.empty() ? 0 : stay_offsets.size() - 1; }
};

SampledStays sample_stays(const std::filesystem::path& work, const SampleOptions& options);
// WORK/samples/{codes.bin,event_minutes.bin,stay_offsets.bin,sample.json} (docs/formats/temporal.md).
// `extra` is merged into sample.json (e.g. the comparison with the train split).
void save_samples(const std::filesystem::path& dir, const SampledStays& samples, const SampleOptions& options,
                  const nlohmann::json& extra = nlohmann::json::object());
SampledStays load_samples(const std::filesystem::path& dir);

// Kolmogorov-Smirnov statistics of events per stay and of time gaps between consecutive events
// (at the model's time resolution, events capped at E) against the train split of WORK/dataset.
nlohmann::json compare_with_train(const std::filesystem::path& work, const SampledStays& samples);

}  // namespace rawmed::temporal
