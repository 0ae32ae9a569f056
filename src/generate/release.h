#pragma once
// The release gate: before `generate` renames its output into place, the privacy section of
// `rawmed evaluate` scores the new database against the real train split, with the real holdout
// (valid + test) as non-members (DCR: against real non-members scored the same way at the same size), and a k-patient check looks at every categorical and text value
// written. The database is released only when every criterion of [release] holds; otherwise it is
// kept under OUT.rejected/ with the reasons (docs/formats/release.md).
#include "evaluate/evaluate.h"
#include "common/config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace rawmed::generate {

// [release]: the gate's thresholds and the license note written into MANIFEST.json.
struct ReleaseConfig {
  bool gate = true;                    // false: no gate (as --no-gate); recorded in the manifest
  double max_exact_stay_copies = 0.0;  // share of synthetic stays equal to a train stay
  // DCR ratio (a patient's distance to train / (to train + to the holdout), mean over patients and
  // `dcr_resamples` size-matched resamples) at least what real non-members score less this margin.
  double dcr_ratio_margin = 0.1;
  int dcr_resamples = 20;
  double max_mia_auc = 0.65;           // membership attack AUC (0.5: no advantage)
  bool k_rule = true;                  // no categorical / text value held by 1..k-1 train patients
  std::string license;                 // of the source data, copied into MANIFEST.json

  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("gate", c.gate), f("max_exact_stay_copies", c.max_exact_stay_copies), f("dcr_ratio_margin", c.dcr_ratio_margin);
    f("dcr_resamples", c.dcr_resamples);
    f("max_mia_auc", c.max_mia_auc), f("k_rule", c.k_rule), f("license", c.license);
  }
  static ReleaseConfig from_config(const Config& config);
};

struct GateResult {
  bool passed = true;
  std::vector<std::string> reasons;  // one line per failed criterion
  nlohmann::json figures;            // the measured values the criteria read, and the privacy section
  nlohmann::json to_json() const;
};

// Scores `candidate` (a Database folder) against REAL/train with REAL's valid and test splits as
// the holdout (a split that is the candidate itself is left out). `k`: the dataset's
// min_patients_for_token. Errors (rawmed::Error) when a folder cannot be read.
GateResult check_release_gate(const std::filesystem::path& real, const std::filesystem::path& candidate,
                              const ReleaseConfig& release, const eval::EvalConfig& eval, int k);

}  // namespace rawmed::generate
