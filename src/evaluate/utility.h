#pragma once
// Machine-learning utility of a candidate database (synthetic data, or a real split as the noise
// floor), always tested on real stays the candidate's generator never saw (the holdout), or, when
// the holdout is small, by patient-grouped k-fold cross-validation over the real data:
//  - evaluate_utility: the config's second-half prediction tasks (the paper's 11 in the bundled
//    configs), XGBoost on a tabular encoding of the first half, AUROC when trained on the candidate (TSTR) vs on real train (TRTR), over seeds;
//  - evaluate_predictive_similarity: per table, XGBoost predicts each column from the others
//    (error rate for categorical, SMAPE for numeric), TSTR vs TRTR.
// Every function returns a JSON section holding every number, with a short "headline".
//
// Config: sub-tables of the dataset TOML's [evaluate] section:
//   [evaluate.utility]   seeds, seed, trees, max_depth, learning_rate, threads, min_test_positives,
//                        min_first_half_events, max_items, min_item_stays, max_train_stays,
//                        cv_below_stays, cv_folds, cv_seeds,
//                        and the tasks: [[evaluate.utility.task]] entries (name, kind, tables, items,
//                        pattern, value_column, bins, labels). The bundled configs list the paper's
//                        11 tasks for their dataset; without entries the utility section is empty.
//   [evaluate.predsim]   trees, max_depth, learning_rate, threads, seed, max_rows, max_classes,
//                        min_class_share, one_hot_categories
//   [evaluate.nep]       see evaluate/nep.h
#include "evaluate/database.h"

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rawmed::eval {

enum class TaskKind {
  kLastValueBin,  // multi-class: bin of the last non-null value of the item in the second half
  kGiven,         // binary: does a matching row appear in the second half
};

struct UtilityTask {
  std::string name;
  TaskKind kind = TaskKind::kGiven;
  std::vector<std::string> tables;  // tables searched (names compared case-insensitively)
  std::vector<std::string> items;   // exact item names (case-insensitive); kLastValueBin
  std::string pattern;              // regex searched in the item name (case-insensitive); kGiven
  std::string value_column;         // kLastValueBin
  std::vector<double> bin_edges;    // ascending interior edges; bins are right-closed
  std::vector<int> bin_labels;      // label of each bin (edges + 1 of them), default 0, 1, ...
  int num_classes() const;          // 2 for kGiven
  // Class of a value: the label of the bin (-inf, e0], (e0, e1], ..., (e_last, inf).
  int bin_of(double value) const;
  bool operator==(const UtilityTask&) const = default;
};

// threads: 1 by default. XGBoost's OpenMP threads spin-wait between parallel regions (libgomp's
// default OMP_WAIT_POLICY); on a loaded machine 2 threads ran the MIMIC-IV demo utility in 904 s
// instead of 18 s. Use 2 only with OMP_WAIT_POLICY=passive in the environment (or an idle machine).
struct XgbSettings {
  int trees = 60;
  int max_depth = 4;
  double learning_rate = 0.15;
  int threads = 1;

  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("trees", c.trees);
    f("max_depth", c.max_depth);
    f("learning_rate", c.learning_rate);
    f("threads", c.threads);
  }
};

struct UtilityConfig {
  std::vector<UtilityTask> tasks;  // [[evaluate.utility.task]] in config order; empty: no utility
  XgbSettings xgb;
  int seeds = 3;
  uint64_t seed = 0;
  int min_test_positives = 5;      // a task is averaged when >= 2 classes have this many test stays
  int min_first_half_events = 6;   // stays with fewer events in the first half get no labels
  int max_items = 256;             // most frequent items (by stays) that get their own features
  int min_item_stays = 2;
  int max_train_stays = 0;         // cap on the training stays used (0: all)
  // Below this many holdout stays, TRTR on the holdout is too unstable: patient-grouped k-fold
  // cross-validation over all real stays (train + holdout) instead.
  int cv_below_stays = 1000;
  int cv_folds = 5;
  int cv_seeds = 1;                // seeds per fold in cross-validation (folds give the spread)

  // The [evaluate.utility] keys besides the [[evaluate.utility.task]] list.
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    XgbSettings::visit(c.xgb, f);
    f("seeds", c.seeds);
    f("seed", c.seed);
    f("min_test_positives", c.min_test_positives);
    f("min_first_half_events", c.min_first_half_events);
    f("max_items", c.max_items);
    f("min_item_stays", c.min_item_stays);
    f("max_train_stays", c.max_train_stays);
    f("cv_below_stays", c.cv_below_stays);
    f("cv_folds", c.cv_folds);
    f("cv_seeds", c.cv_seeds);
  }
};

struct PredsimConfig {
  XgbSettings xgb{.trees = 40, .max_depth = 5, .learning_rate = 0.15, .threads = 1};
  uint64_t seed = 0;
  int max_rows = 3000;             // per database and table, after deduplication (random sample)
  int max_classes = 10;            // most frequent real-train classes of a categorical target
  double min_class_share = 0.001;  // rarer real-train classes are dropped (as the reference)
  int one_hot_categories = 10;     // categorical features: rank code + one-hot of the top ones

  // The [evaluate.predsim] keys.
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    XgbSettings::visit(c.xgb, f);
    f("seed", c.seed);
    f("max_rows", c.max_rows);
    f("max_classes", c.max_classes);
    f("min_class_share", c.min_class_share);
    f("one_hot_categories", c.one_hot_categories);
  }
};

// Reads [evaluate.utility] / [evaluate.predsim] (either may be absent: defaults). `evaluate` is the
// [evaluate] table; unknown keys and bad task entries error naming `file` and the key.
UtilityConfig parse_utility_config(const toml::table& evaluate, const std::filesystem::path& file);
PredsimConfig parse_predsim_config(const toml::table& evaluate, const std::filesystem::path& file);

// The item of a row as text: the item column's value (a dictionary label where the schema has one,
// a number printed with {fmt}); "" when the table has no item column or the value is null.
std::string row_item(const Table& table, size_t row, const StringPool& pool);

// True when both are the same folder or hold the same files (CRC-32): a candidate that is the
// real test split itself cannot be scored on it (TSTR would test on its own training data).
bool same_data(const Database& a, const Database& b);

// Per stay of `db`: the task's class (-1: no label). Exposed for tests.
std::vector<int> extract_task_labels(const Database& db, const StringPool& pool, const UtilityTask& task,
                                     int min_first_half_events);

// TSTR vs TRTR over the tasks. Any databases of one schema loaded with the same pool.
nlohmann::json evaluate_utility(const Database& train, const Database& test, const Database& candidate,
                                const StringPool& pool, const UtilityConfig& config);

nlohmann::json evaluate_predictive_similarity(const Database& train, const Database& test,
                                              const Database& candidate, const StringPool& pool,
                                              const PredsimConfig& config);

// 200 * mean(|y - p| / (|y| + |p|)), a term with y = p = 0 counting 0. NaN when empty.
double smape(std::span<const double> truth, std::span<const double> predicted);
// Macro-averaged one-vs-rest AUROC over the classes present (with positives and negatives) in
// `labels`; `scores` is row-major [rows][classes]. NaN when no class qualifies.
double macro_auroc(std::span<const float> scores, std::span<const int> labels, int classes);

}  // namespace rawmed::eval
