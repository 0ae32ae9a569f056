#pragma once
// `rawmed evaluate`: every score of a database ("other": the candidate, or the real holdout as the
// noise floor) against the real train split. Each section is a SectionScorer returning one JSON
// object; run_evaluation scores the candidate and the holdout at full size and over size-matched
// resamples (intervals, verdicts) and writes REPORT/metrics.json and REPORT/report.html
// (docs/formats/report.md). The sections and their headline metrics are listed in run.cpp.
#include "evaluate/database.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace rawmed {
struct Config;
}

namespace rawmed::eval {

struct EvalConfig {
  int64_t min_item_rows = 20;        // I-CDE: items with at least this many real train rows
  int64_t min_column_values = 10;    // CDE / I-CDE: columns (of a table or an item) with this many real values
  int64_t min_item_rows_pcc = 50;    // I-PCC: items with at least this many real train rows ...
  int64_t min_item_rows_pcc_other = 20;  // ... are scored when the other side has this many
  int64_t max_association_rows = 100000;  // rows sampled per table / item for association matrices
  int top_items_intertable = 30;     // most frequent items per table in the inter-table matrices
  int privacy_items = 128;           // items (all tables) in the stay vectors of the privacy distance
  int64_t max_privacy_stays = 3000;  // stays sampled per side for distances
  int histogram_items = 6;           // items plotted in the report
  int resamples = 20;                // R: resamples per side for the intervals (0: none)
  bool pool_holdout = true;          // holdout = valid + test (less the candidate's own split)
  // Candidate draws: true = bootstrap (with replacement, like the holdout's), false = subsamples.
  bool candidate_bootstrap = true;
  int attribute_items = 10;          // privacy: sensitive items of the attribute-inference check
  uint64_t seed = 0;
  int threads = 0;                   // 0: all cores

  // The [evaluate] keys (threads comes from the command line).
  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("min_item_rows", c.min_item_rows);
    f("min_column_values", c.min_column_values);
    f("min_item_rows_pcc", c.min_item_rows_pcc);
    f("min_item_rows_pcc_other", c.min_item_rows_pcc_other);
    f("max_association_rows", c.max_association_rows);
    f("top_items_intertable", c.top_items_intertable);
    f("privacy_items", c.privacy_items);
    f("max_privacy_stays", c.max_privacy_stays);
    f("histogram_items", c.histogram_items);
    f("resamples", c.resamples);
    f("pool_holdout", c.pool_holdout);
    f("candidate_bootstrap", c.candidate_bootstrap);
    f("attribute_items", c.attribute_items);
    f("seed", c.seed);
  }
  nlohmann::json to_json() const;
  // Reads the optional [evaluate] section (sub-tables utility, next_event, predictive_similarity
  // belong to the utility code and are not checked here).
  static EvalConfig from_config(const Config& config);
};

// Sections. `train` is the real train split, `other` the database being scored.
nlohmann::json evaluate_fidelity(const Database& train, const Database& other, const StringPool& pool,
                                 const EvalConfig& config);
nlohmann::json evaluate_associations(const Database& train, const Database& other, const EvalConfig& config);
nlohmann::json evaluate_intertable(const Database& train, const Database& other, const StringPool& pool,
                                   const EvalConfig& config);
nlohmann::json evaluate_temporal(const Database& train, const Database& other, const EvalConfig& config);
// Per gender and age (< 65, >= 65) subgroup: events-per-stay KS and item-frequency JS of `other`
// and of `holdout` (the noise floor) against train's stays of that subgroup, with resampled
// intervals; and the requested against written demographics of a conditioned generation
// (`other.dir`/generate.json "conditions"), when there is one.
nlohmann::json evaluate_subgroups(const Database& train, const Database& holdout, const Database& other,
                                  const EvalConfig& config);
// `holdout`: real stays never used for training (non-members).
nlohmann::json evaluate_privacy(const Database& train, const Database& holdout, const Database& other,
                                const EvalConfig& config);
nlohmann::json evaluate_validity(const Database& train, const Database& other, const EvalConfig& config);

// A section scorer: what depends only on train is computed once (construction), so each resample
// pays only for its own side. score() is const and safe to call from several threads.
class SectionScorer {
 public:
  virtual ~SectionScorer() = default;
  // `nonmembers`: real stays never used for training (privacy only; null: not computed).
  virtual nlohmann::json score(const Database& other, const Database* nonmembers) const = 0;
};
struct SectionContext {
  const Database& train;
  const StringPool& pool;
  const EvalConfig& config;
  std::filesystem::path real;  // the REAL folder (train/, test/, ...), for files prepare wrote beside it
};
using ScorerFactory = std::function<std::unique_ptr<SectionScorer>(const SectionContext&)>;
ScorerFactory fidelity_scorer();
ScorerFactory associations_scorer();
ScorerFactory intertable_scorer();
ScorerFactory temporal_scorer();
ScorerFactory privacy_scorer();
ScorerFactory validity_scorer();
// Adapts a plain section function (train recomputed on every call) into a scorer.
ScorerFactory per_call(std::function<nlohmann::json(const Database& train, const Database& other, const StringPool& pool,
                                                    const EvalConfig& config)>
                           section);

struct EvaluateRequest {
  std::filesystem::path real;       // WORK/real: holds train/, test/ (and valid/)
  std::filesystem::path synthetic;  // a Database folder
  std::filesystem::path out;        // report folder
  // Where the inputs came from when they were read from a database into temporary folders
  // (docs/formats/databases.md): recorded as inputs.*.location.
  std::string real_location, synthetic_location;
  const Config* config = nullptr;   // may be null (defaults)
  std::filesystem::path config_path;
  EvalConfig eval;
  nlohmann::json versions;          // recorded as is (e.g. torch_runtime_info())
  // Next-event prediction lives in rawmed_nn (Torch); the CLI passes it in. Empty: "not computed".
  std::function<nlohmann::json(const Database& train, const Database& test, const Database& candidate,
                               const StringPool& pool)>
      next_event;
};

// Runs every section and writes the report folder atomically. Returns metrics.json's content.
nlohmann::json run_evaluation(const EvaluateRequest& request);

// What `rawmed evaluate` and `rawmed run` ask for.
struct EvaluateOptions {
  std::filesystem::path real, synthetic, out;
  std::filesystem::path config;   // empty: REAL/../config.toml when present (written by prepare)
  std::optional<uint64_t> seed;   // empty: [evaluate] seed, or 0
  int threads = 0;                // 0: all cores
  std::string device = "cpu";     // next-event model
};
// Reads the config, sets up Torch (threads, device) and the next-event section, then
// run_evaluation (evaluate_nn.cpp, in rawmed_nn).
nlohmann::json evaluate_folders(const EvaluateOptions& options);

// Assembles report.html from metrics.json content and the loaded data (for plots).
std::string render_report_html(const nlohmann::json& metrics, const Database& train, const Database& test,
                               const Database& synthetic, const StringPool& pool, const EvalConfig& config);

}  // namespace rawmed::eval
