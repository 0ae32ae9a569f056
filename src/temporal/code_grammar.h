#pragma once
// The code grammar: which code tuples a sampled event may have (docs/formats/temporal.md, "Code
// grammar"). The decoder turns any code combination into some event, including chimeras that mix
// the codes of different real events; an under-trained temporal model draws such combinations
// most of the time. The grammar keeps the leading depths of an event's codes on tuples that train
// events have (held by at least k train patients, so a rare kind of event is never reproduced),
// while the deeper codes, which refine values, stay free.
// Torch-free: built from codes.bin and the dataset, used by the sampler one token at a time.
#include "codec/codes_file.h"
#include "text/dataset.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace rawmed::temporal {

struct CodeGrammarSettings {
  // Joint depths restricted to seen tuples: 0 off; 1 the coarse (depth-0) code of every position;
  // D the whole event (every event is a train event's code tuple).
  int depth = 0;
  int min_patients = 5;  // a tuple must be held by this many train patients (the k-patient rule)
  double escape = 0;     // share of events drawn without the grammar (0..1), per event
};

class CodeGrammar {
 public:
  CodeGrammar() = default;
  // Tuples from the train-split events of `dataset`, whose codes are `codes` (codes.bin).
  CodeGrammar(const codec::CodesFile& codes, const Dataset& dataset, const CodeGrammarSettings& settings);

  bool enabled() const { return settings_.depth > 0; }
  bool fits(int codebook, int positions, int depth) const {
    return codebook == codebook_ && positions == positions_ && depth == depth_;
  }
  int64_t tuples() const { return tuples_; }
  double train_event_coverage() const { return coverage_; }  // share of train events on a kept tuple
  nlohmann::json summary() const;

  // One event's walk through the grammar. start() before the first code of an event.
  struct Cursor {
    int code_index = 0;   // next code of the event, 0..P*D-1
    int node = 0;         // trie node of the restricted codes so far
    bool free = false;    // this event escaped the grammar
  };
  void start(Cursor& cursor, std::mt19937_64& rng) const;
  // Clears allowed[c] for codes c (0..K-1) the grammar rules out next.
  void restrict(const Cursor& cursor, std::vector<char>& allowed) const;
  void advance(Cursor& cursor, int code) const;

 private:
  bool restricted(int code_index) const { return code_index % depth_ < settings_.depth; }
  int child(int node, int code) const;  // -1: none

  CodeGrammarSettings settings_;
  int positions_ = 0, depth_ = 1, codebook_ = 0;
  std::vector<std::vector<std::pair<uint16_t, int>>> children_;  // per node, sorted by code
  int64_t tuples_ = 0;
  double coverage_ = 0;
};

}  // namespace rawmed::temporal
