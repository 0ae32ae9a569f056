// Privacy and temporal checks on the real demo splits written by `rawmed prepare` (prepared here
// from the bundled data): a copy of train must look like a copy, shuffled times must look wrong,
// the valid split must sit within the noise floor and the naive baseline must not.
#include "common/fs.h"
#include "common/log.h"
#include "evaluate/database.h"
#include "evaluate/baseline.h"
#include "evaluate/evaluate.h"
#include "ingest/prepare.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace rawmed::eval {

namespace {

fs::path real_dir(const char* dataset) {
  fs::path work = test::temp_dir(std::string("evaluate_real_") + dataset);
  set_quiet(true);
  prepare(load_config(test::source_dir() / "configs" / (std::string(dataset) + ".toml")), work);
  return work / "real";
}

class EvaluateReal : public ::testing::TestWithParam<const char*> {};

TEST_P(EvaluateReal, CopyOfTrainLeaksAndShuffledTimesFail) {
  fs::path real = real_dir(GetParam());
  ASSERT_TRUE(fs::exists(real / "train" / "schema.json") && fs::exists(real / "test" / "schema.json"));
  set_quiet(true);
  StringPool pool;
  Database train = load_database(real / "train", pool, {.show_progress = false});
  Database test = load_database(real / "test", pool, {.show_progress = false});
  Database copy = load_database(real / "train", pool, {.show_progress = false});
  EvalConfig config;

  auto leak = evaluate_privacy(train, test, copy, config);
  auto floor = evaluate_privacy(train, test, test, config);
  EXPECT_GT(leak["dcr_share"].get<double>(), 0.95);
  EXPECT_GT(leak["mia_auc"].get<double>(), 0.9);
  EXPECT_GT(leak["exact_stay_copies"].get<double>(), 0.95);
  EXPECT_LT(floor["exact_stay_copies"].get<double>(), 0.05);

  // Shuffle every event's minute uniformly over the window, then restore the per-stay order.
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> minute(0, train.schema.window_hours * 60 - 1);
  for (auto& e : copy.events) {
    e.minute = minute(rng);
    copy.tables[e.table].minute[e.row] = e.minute;
  }
  for (size_t s = 0; s < copy.stays.size(); ++s)
    std::sort(copy.events.begin() + copy.stay_offsets[s], copy.events.begin() + copy.stay_offsets[s + 1],
              [](const EventRef& a, const EventRef& b) { return a.minute < b.minute; });
  auto shuffled = evaluate_temporal(train, copy, config);
  auto noise = evaluate_temporal(train, test, config);
  EXPECT_GT(shuffled["gap_ks"].get<double>(), 0.3);
  EXPECT_GT(shuffled["gap_ks"].get<double>(), 3 * noise["gap_ks"].get<double>());
  EXPECT_GT(shuffled["time_ks"].get<double>(), noise["time_ks"].get<double>());
}

// The sanity check of the noise floor: the real valid split, scored like a synthetic database, is
// within the noise floor on every resampled metric and on utility; the naive baseline is flagged
// on temporal and privacy (row copies) metrics.
TEST_P(EvaluateReal, ValidSplitIsWithinTheNoiseFloorAndTheBaselineIsNot) {
  fs::path real = real_dir(GetParam());
  // WORK/config.toml, as `rawmed evaluate` reads it: its [[evaluate.utility.task]] list is scored.
  const Config config = load_config(real.parent_path() / "config.toml");
  EvaluateRequest request;
  request.real = real;
  request.synthetic = real / "valid";
  request.out = real.parent_path() / "report-valid";
  request.config = &config;
  request.config_path = config.path;
  request.eval.threads = 1;
  nlohmann::json valid = run_evaluation(request);
  EXPECT_EQ(valid["resampling"]["resamples"], 20);
  EXPECT_EQ(valid["sections"]["utility"]["tasks"].size(), 11u);
  int rows = 0;
  for (const auto& row : valid["summary"]) {
    if (!row.contains("synthetic_interval")) continue;
    ++rows;
    EXPECT_EQ(row["verdict"], "within the noise floor") << row["metric"] << ": " << row.dump();
  }
  EXPECT_GE(rows, 20);

  StringPool pool;
  size_t n = load_database(real / "valid", pool, {.show_progress = false}).stays.size();
  write_independent_baseline(real / "train", static_cast<int64_t>(n), 1, real.parent_path() / "baseline");
  request.synthetic = real.parent_path() / "baseline";
  request.out = real.parent_path() / "report-baseline";
  nlohmann::json baseline = run_evaluation(request);
  std::map<std::string, std::string> verdicts;
  for (const auto& row : baseline["summary"]) verdicts[row["metric"]] = row.value("verdict", "");
  EXPECT_EQ(verdicts["gap_ks"], "worse than the noise floor");
  EXPECT_EQ(verdicts["time_ks"], "worse than the noise floor");
  EXPECT_EQ(verdicts["exact_row_copies"], "worse than the noise floor");
}

// Subgroups (gender, age < 65 / >= 65): a copy of train matches train in every subgroup, the real
// holdout does not (its noise floor is above 0), the subgroups partition the stays, and the
// requested against written demographics of a conditioned generation come from generate.json.
TEST_P(EvaluateReal, SubgroupFidelityAgainstTheRealSubgroups) {
  fs::path real = real_dir(GetParam());
  StringPool pool;
  Database train = load_database(real / "train", pool, {.show_progress = false});
  Database test = load_database(real / "test", pool, {.show_progress = false});
  fs::path candidate_dir = test::temp_dir(std::string("subgroups_") + GetParam());
  fs::remove_all(candidate_dir);
  fs::copy(real / "train", candidate_dir, fs::copy_options::recursive);
  write_file_atomic(candidate_dir / "generate.json",
                    R"({"conditions": [{"gender": "F", "age_group": "65-79", "requested": 3, "written": 3,
                        "gender_matches": 3, "age_group_matches": 2}]})");
  Database copy = load_database(candidate_dir, pool, {.show_progress = false});
  EvalConfig config;
  config.resamples = 5;
  nlohmann::json out = evaluate_subgroups(train, test, copy, config);
  ASSERT_EQ(out["subgroups"].size(), 4u) << out.dump(1) << " (two genders, two age bands)";
  int64_t by_gender = 0, by_age = 0;
  double floor_item_js = 0;
  for (const auto& g : out["subgroups"]) {
    const std::string name = g["subgroup"];
    EXPECT_EQ(g["synthetic"]["count_ks"].get<double>(), 0.0) << name;
    EXPECT_EQ(g["synthetic"]["item_js"].get<double>(), 0.0) << name;
    EXPECT_EQ(g["synthetic"]["stays"], g["train_stays"]) << name;
    floor_item_js = std::max(floor_item_js, g["real_holdout"]["item_js"].get<double>());
    (name.rfind("gender", 0) == 0 ? by_gender : by_age) += g["train_stays"].get<int64_t>();
    EXPECT_EQ(g["intervals"]["item_js"]["synthetic"]["resamples"].get<int>(), 5) << name;
  }
  EXPECT_GT(floor_item_js, 0.05) << "a real holdout subgroup differs from train's";
  int64_t with_gender = 0, with_age = 0;
  for (const Stay& stay : train.stays) with_gender += !stay.gender.empty(), with_age += !std::isnan(stay.age);
  EXPECT_EQ(by_gender, with_gender);
  EXPECT_EQ(by_age, with_age);
  EXPECT_EQ(out["conditions"][0]["age_group_matches"].get<int>(), 2);
}

INSTANTIATE_TEST_SUITE_P(Demos, EvaluateReal, ::testing::Values("mimic-iv-demo", "eicu-demo"));

}  // namespace

}  // namespace rawmed::eval
