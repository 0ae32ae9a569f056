#pragma once
// Next-event prediction (docs/method.md, section 7): the events of a stay grouped by minute into item
// sets ("labevents|Creatinine", ...); a one-layer LSTM over the multi-hot sets of the previous
// steps predicts the next step's set. Trained on the candidate (TSTR) and on real train (TRTR),
// scored on real test stays by micro-F1 at a threshold. Implemented in nep_nn.cpp (LibTorch);
// this header stays Torch-free.
//
// Config: [evaluate.nep] in the dataset TOML: hidden, max_epochs, patience, batch_size,
// learning_rate, threshold, valid_fraction, max_items, max_steps, max_train_seconds, seed.
#include "evaluate/database.h"

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace rawmed::eval {

struct NepConfig {
  int hidden = 64;
  int max_epochs = 30;
  int patience = 5;               // epochs without a better validation F1
  int batch_size = 32;
  double learning_rate = 5e-3;
  double threshold = 0.1;         // an item is predicted when its probability exceeds this
  double valid_fraction = 0.2;    // of the training stays, for early stopping
  int max_items = 512;            // most frequent real-train items; rarer ones are left out
  int max_steps = 256;            // first steps of a stay kept
  double max_train_seconds = 20;  // per model; a safety cap (results then depend on speed)
  uint64_t seed = 0;
  std::string device = "cpu";     // set by the CLI's --device

  // The [evaluate.nep] keys.
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("hidden", c.hidden);
    f("max_epochs", c.max_epochs);
    f("patience", c.patience);
    f("batch_size", c.batch_size);
    f("learning_rate", c.learning_rate);
    f("threshold", c.threshold);
    f("valid_fraction", c.valid_fraction);
    f("max_items", c.max_items);
    f("max_steps", c.max_steps);
    f("max_train_seconds", c.max_train_seconds);
    f("seed", c.seed);
  }
};

// Reads [evaluate.nep] of the [evaluate] table (absent: defaults). Implemented in nep_config.cpp.
NepConfig parse_nep_config(const toml::table& evaluate, const std::filesystem::path& file);

// One stay: its steps, each the sorted distinct vocabulary ids of the items at one minute.
using ItemSetSequence = std::vector<std::vector<int32_t>>;

// Item key of a row: "<table>|<item>" (the table name alone for tables without an item column).
// The vocabulary: real-train item keys by descending row count, at most `max_items`.
std::vector<std::string> nep_vocabulary(const Database& train, const StringPool& pool, int max_items);
// Per stay of `db` (in order): its item-set steps over `vocabulary` (unknown items left out, steps
// left empty by that dropped), the first `max_steps` of them.
std::vector<ItemSetSequence> item_set_sequences(const Database& db, const StringPool& pool,
                                                const std::vector<std::string>& vocabulary, int max_steps);

// Micro-F1 of predicted vs true sets, pooled over all pairs. NaN when both are empty everywhere.
double micro_f1(std::span<const std::vector<int32_t>> truth, std::span<const std::vector<int32_t>> predicted);

// Trains on `sequences` (stays with >= 2 steps used) and returns the micro-F1 on `test` over all
// steps after the first, plus details. Exposed for tests; evaluate_next_event calls it.
nlohmann::json train_and_score_nep(const std::vector<ItemSetSequence>& sequences, const std::vector<ItemSetSequence>& test,
                                   int items, const NepConfig& config);

nlohmann::json evaluate_next_event(const Database& train, const Database& test, const Database& candidate,
                                   const StringPool& pool, const NepConfig& config);

}  // namespace rawmed::eval
