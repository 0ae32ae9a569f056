#include "generate/release.h"

#include "common/error.h"
#include "common/log.h"
#include "evaluate/resample.h"
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
  if (c.dcr_share_margin < 0 || c.dcr_share_margin > 1)
    fail("{}: 'release.dcr_share_margin' must be in [0, 1]", config.path.string());
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

// How far the DCR share may exceed its exchangeable reference: the margin, or two standard errors
// of a share over the scored synthetic patients when that is wider (8 patients: 0.29 at a 0.79
// reference), so that a small database is not rejected for noise.
double dcr_tolerance(double margin, double expected, const nlohmann::json& privacy) {
  double n = 0;
  if (privacy.contains("patients")) n = privacy["patients"].value("other", 0.0);
  if (n <= 0 || std::isnan(expected)) return margin;
  return std::max(margin, 2.0 * std::sqrt(expected * (1 - expected) / n));
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
  const double copies = number_or_nan(privacy, "exact_stay_copies"), share = number_or_nan(privacy, "dcr_share"),
               expected = number_or_nan(privacy, "dcr_share_expected"), auc = number_or_nan(privacy, "mia_auc");
  auto require = [&](bool holds, std::string reason) {
    if (holds) return;
    result.passed = false;
    result.reasons.push_back(std::move(reason));
  };
  require(!std::isnan(copies) && copies <= release.max_exact_stay_copies,
          fmt::format("exact stay copies: {:.4f} of the synthetic stays equal a train stay (at most {} allowed)", copies,
                      release.max_exact_stay_copies));
  const double tolerance = dcr_tolerance(release.dcr_share_margin, expected, privacy);
  require(!std::isnan(share) && share <= expected + tolerance,
          fmt::format("DCR share {:.3f} is above the exchangeable reference {:.3f} + {:.3f} (patients closer to "
                      "train than to the holdout)",
                      share, expected, tolerance));
  require(!std::isnan(auc) && auc <= release.max_mia_auc,
          fmt::format("membership attack AUC {:.3f} is above {}", auc, release.max_mia_auc));
  if (release.k_rule)
    require(rare.rare == 0, fmt::format("k-patient rule (k = {}): {} written values are held by fewer than k train "
                                        "patients, e.g. {}",
                                        k, rare.rare, fmt::join(rare.examples, "; ")));
  result.figures = {{"exact_stay_copies", privacy.value("exact_stay_copies", nlohmann::json())},
                    {"dcr_share", privacy.value("dcr_share", nlohmann::json())},
                    {"dcr_share_expected", privacy.value("dcr_share_expected", nlohmann::json())},
                    {"dcr_share_tolerance", tolerance},
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
