#include "generate/release.h"

#include "common/error.h"
#include "common/log.h"
#include "evaluate/resample.h"
#include "evaluate/table_util.h"
#include "evaluate/utility.h"
#include "generate/validate.h"
#include "common/config_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

namespace rawmed::generate {

namespace fs = std::filesystem;
using eval::Database;

ReleaseConfig ReleaseConfig::from_config(const Config& config) {
  ReleaseConfig c;
  apply_fields(c, config_section(config, "release"), "release", config.path);
  if (c.max_exact_stay_copies < 0 || c.max_exact_stay_copies > 1)
    fail("{}: 'release.max_exact_stay_copies' must be in [0, 1]", config.path.string());
  if (c.dcr_ratio_margin < 0 || c.dcr_ratio_margin > 1)
    fail("{}: 'release.dcr_ratio_margin' must be in [0, 1]", config.path.string());
  if (c.dcr_resamples < 1) fail("{}: 'release.dcr_resamples' must be at least 1", config.path.string());
  if (c.max_mia_auc < 0 || c.max_mia_auc > 1) fail("{}: 'release.max_mia_auc' must be in [0, 1]", config.path.string());
  return c;
}

nlohmann::json GateResult::to_json() const {
  return {{"passed", passed}, {"reasons", reasons}, {"figures", figures}};
}

namespace {

// Distinct train patients holding each value of one column (pool ids, or ages as numbers).
template <class Key>
std::unordered_map<Key, int64_t> patients_per_value(const std::vector<std::pair<Key, int32_t>>& value_patient) {
  auto pairs = value_patient;
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  std::unordered_map<Key, int64_t> out;
  for (const auto& [value, patient] : pairs) ++out[value];
  return out;
}

// Train patient of each stay, as a small integer.
std::vector<int32_t> patient_numbers(const Database& db) {
  std::unordered_map<std::string, int32_t> index;
  std::vector<int32_t> out;
  for (size_t s = 0; s < db.stays.size(); ++s) {
    const std::string& id = db.stays[s].patient_id.empty() ? db.stays[s].stay_id : db.stays[s].patient_id;
    out.push_back(index.try_emplace(id, static_cast<int32_t>(index.size())).first->second);
  }
  return out;
}

// The k-patient rule on what was written: every categorical and text value of the event tables,
// and every gender and age of the cohort. A value held by 1..k-1 train patients is a rare real
// value (it can single out a patient); a value no train patient holds is new, and counted apart.
struct KRuleCount {
  int64_t values_checked = 0, rare = 0, novel = 0;
  std::vector<std::string> examples;
  void add(int64_t holders, int k, const std::string& what) {
    ++values_checked;
    if (holders == 0) ++novel;
    if (holders == 0 || holders >= k) return;
    ++rare;
    if (examples.size() < 5) examples.push_back(fmt::format("{} (held by {} train patients)", what, holders));
  }
};

// A number written in a text column (MIMIC-IV labevents.value beside valuenum) is a measurement,
// range-checked like the numeric columns, not a string that can single out a patient.
bool is_number(const std::string& text) {
  double unused;
  return parse_plain_number(text, &unused);
}

KRuleCount check_k_rule(const Database& train, const Database& candidate, const eval::StringPool& pool, int k) {
  KRuleCount count;
  const auto patient = patient_numbers(train);
  for (const auto& t : candidate.tables) {
    int ti = train.table_index(t.name());
    if (ti < 0) continue;
    const eval::Table& real = train.tables[static_cast<size_t>(ti)];
    for (const auto& column : t.columns) {
      int ci = real.column_index(column.name);
      if (column.is_numeric() || ci < 0) continue;
      std::vector<std::pair<int32_t, int32_t>> pairs;
      const eval::Column& real_column = real.columns[static_cast<size_t>(ci)];
      for (size_t r = 0; r < real.rows(); ++r)
        if (real_column.ids[r] >= 0) pairs.push_back({real_column.ids[r], patient[static_cast<size_t>(real.stay[r])]});
      auto holders = patients_per_value(pairs);
      for (int32_t id : column.ids) {
        if (id < 0 || (column.type == ColumnType::kText && is_number(pool.str(id)))) continue;
        auto it = holders.find(id);
        count.add(it == holders.end() ? 0 : it->second, k, fmt::format("{}.{} = '{}'", t.name(), column.name, pool.str(id)));
      }
    }
  }
  std::vector<std::pair<std::string, int32_t>> genders;
  std::vector<std::pair<double, int32_t>> ages;
  for (size_t s = 0; s < train.stays.size(); ++s) {
    if (!train.stays[s].gender.empty()) genders.push_back({train.stays[s].gender, patient[s]});
    if (!std::isnan(train.stays[s].age)) ages.push_back({train.stays[s].age, patient[s]});
  }
  auto gender_holders = patients_per_value(genders);
  auto age_holders = patients_per_value(ages);
  for (const auto& stay : candidate.stays) {
    if (!stay.gender.empty()) {
      auto it = gender_holders.find(stay.gender);
      count.add(it == gender_holders.end() ? 0 : it->second, k, fmt::format("cohort gender = '{}'", stay.gender));
    }
    if (!std::isnan(stay.age)) {
      auto it = age_holders.find(stay.age);
      count.add(it == age_holders.end() ? 0 : it->second, k, fmt::format("cohort age = {}", stay.age));
    }
  }
  return count;
}

// The real non-member stays: valid and test pooled, less a split that is the candidate itself.
Database holdout_of(const Database& train, const Database& test, const Database* valid, const Database& candidate) {
  std::vector<eval::StayRef> refs;
  for (const Database* part : {&test, valid}) {
    if (!part || eval::same_data(*part, candidate)) continue;
    for (size_t s = 0; s < part->stays.size(); ++s) refs.push_back({part, static_cast<int32_t>(s)});
  }
  return eval::database_of_stays(refs, train);
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

// The candidate and real non-members scored in the same way at the same size: in each of the
// report's privacy resamples (eval::draw_resample, same seed), the holdout's patients are split into
// halves; one half (real stays the models never saw) and as many candidate stays are each scored
// against train, with the other half as the non-members. The full-size DCR share cannot be compared
// with a fixed reference: at demo sizes it saturates (docs/formats/release.md).
struct SizeMatched {
  std::vector<double> candidate_ratio, nonmember_ratio, candidate_share, nonmember_share;  // one value per resample
};

SizeMatched size_matched_dcr(const eval::SectionScorer& scorer, const Database& candidate, const Database& holdout,
                             const eval::EvalConfig& config, int resamples) {
  SizeMatched out;
  for (int r = 0; r < resamples && !holdout.stays.empty() && !candidate.stays.empty(); ++r) {
    const eval::ResampleDraw draw = eval::draw_resample(candidate, holdout, config.seed, r, config.candidate_bootstrap);
    Database nonmember_half = eval::database_of_stays(holdout, draw.nonmember_half);
    Database scored_half = eval::database_of_stays(holdout, draw.scored_half);
    Database candidate_half = eval::database_of_stays(candidate, draw.candidate_half);
    const nlohmann::json c = scorer.score(candidate_half, &nonmember_half), f = scorer.score(scored_half, &nonmember_half);
    out.candidate_ratio.push_back(number_or_nan(c, "dcr_ratio"));
    out.nonmember_ratio.push_back(number_or_nan(f, "dcr_ratio"));
    out.candidate_share.push_back(number_or_nan(c, "dcr_share"));
    out.nonmember_share.push_back(number_or_nan(f, "dcr_share"));
  }
  return out;
}

nlohmann::json candidate_and_nonmembers(const std::vector<double>& candidate, const std::vector<double>& nonmembers) {
  return {{"candidate", eval::interval_of(candidate).to_json()},
          {"real_nonmembers", eval::interval_of(nonmembers).to_json()}};
}

}  // namespace

GateResult check_release_gate(const fs::path& real, const fs::path& candidate, const ReleaseConfig& release,
                              const eval::EvalConfig& eval_config, int k) {
  eval::StringPool pool;
  const eval::LoadOptions quiet{.show_progress = false};
  Database train = eval::load_database(real / "train", pool, quiet);
  eval::LoadOptions with_schema{.fallback_schema = &train.schema, .show_progress = false};
  Database test = eval::load_database(real / "test", pool, with_schema);
  std::optional<Database> valid;
  if (fs::exists(real / "valid" / kCohortFile)) valid = eval::load_database(real / "valid", pool, with_schema);
  Database synthetic = eval::load_database(candidate, pool, with_schema);
  eval::check_same_schema(train.schema, synthetic.schema, candidate.string());
  Database holdout = holdout_of(train, test, valid ? &*valid : nullptr, synthetic);

  auto scorer = eval::privacy_scorer()(eval::SectionContext{train, pool, eval_config, real});
  nlohmann::json privacy = scorer->score(synthetic, holdout.stays.empty() ? nullptr : &holdout);
  KRuleCount rare = check_k_rule(train, synthetic, pool, k);

  GateResult result;
  const double copies = number_or_nan(privacy, "exact_stay_copies"), auc = number_or_nan(privacy, "mia_auc");
  auto require = [&](bool holds, std::string reason) {
    if (holds) return;
    result.passed = false;
    result.reasons.push_back(std::move(reason));
  };
  require(!std::isnan(copies) && copies <= release.max_exact_stay_copies,
          fmt::format("exact stay copies: {:.4f} of the synthetic stays equal a train stay (at most {} allowed)", copies,
                      release.max_exact_stay_copies));
  const SizeMatched matched = size_matched_dcr(*scorer, synthetic, holdout, eval_config, release.dcr_resamples);
  const double ratio = eval::interval_of(matched.candidate_ratio).mean;
  const double limit = eval::interval_of(matched.nonmember_ratio).mean - release.dcr_ratio_margin;
  require(!std::isnan(ratio) && !std::isnan(limit) && ratio >= limit,
          fmt::format("DCR ratio {:.3f} is below what real non-members score at the same size less the margin, {:.3f} "
                      "(distance to train / (to train + to the holdout), mean over patients and {} resamples; 0 for "
                      "a copy of a train stay)",
                      ratio, limit, matched.candidate_ratio.size()));
  require(!std::isnan(auc) && auc <= release.max_mia_auc,
          fmt::format("membership attack AUC {:.3f} is above {}", auc, release.max_mia_auc));
  if (release.k_rule)
    require(rare.rare == 0, fmt::format("k-patient rule (k = {}): {} written values are held by fewer than k train "
                                        "patients, e.g. {}",
                                        k, rare.rare, fmt::join(rare.examples, "; ")));
  result.figures = {{"exact_stay_copies", privacy.value("exact_stay_copies", nlohmann::json())},
                    {"dcr_share", privacy.value("dcr_share", nlohmann::json())},
                    {"dcr_share_expected", privacy.value("dcr_share_expected", nlohmann::json())},
                    {"dcr_ratio", candidate_and_nonmembers(matched.candidate_ratio, matched.nonmember_ratio)},
                    {"dcr_ratio_limit", eval::json_number(limit)},
                    {"dcr_share_size_matched", candidate_and_nonmembers(matched.candidate_share, matched.nonmember_share)},
                    {"mia_auc", privacy.value("mia_auc", nlohmann::json())},
                    {"k", k},
                    {"k_rule", {{"values_checked", rare.values_checked},
                                {"rare_values", rare.rare},
                                {"new_values", rare.novel},
                                {"examples", rare.examples}}},
                    {"holdout_stays", holdout.stays.size()},
                    {"privacy", privacy}};
  return result;
}

}  // namespace rawmed::generate
