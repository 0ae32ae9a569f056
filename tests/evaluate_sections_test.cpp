// Evaluation sections on a hand-made database: a copy of train, a fresh sample, shuffled times,
// a missing item, invalid values, the independent baseline, and the whole report.
#include "common/error.h"
#include "common/log.h"
#include "evaluate/baseline.h"
#include "evaluate/database.h"
#include "evaluate/evaluate.h"
#include "evaluate_fixture.h"

#include <gtest/gtest.h>

#include <random>

namespace rawmed::eval {

using testing::Fixture;
using testing::make_fixture;
using testing::temp_dir;
using testing::write_fixture;

class EvaluateSections : public ::testing::Test {
 protected:
  void SetUp() override {
    set_quiet(true);
    dir = temp_dir("evaluate-sections");
    real = testing::write_real_splits(dir);
    train = load_database(real / "train", pool, {.show_progress = false});
    valid = load_database(real / "valid", pool, {.show_progress = false});
    test = load_database(real / "test", pool, {.show_progress = false});
  }
  void TearDown() override { fs::remove_all(dir); }

  Database write_and_load(const Fixture& f, const std::string& name) {
    write_fixture(f, dir / name);
    return load_database(dir / name, pool, {.show_progress = false});
  }

  fs::path dir, real;
  StringPool pool;
  Database train, valid, test;
  EvalConfig config;
};

TEST_F(EvaluateSections, LoadsDatabaseFolder) {
  ASSERT_EQ(train.stays.size(), 120u);
  ASSERT_EQ(train.tables.size(), 2u);
  const Table& labs = train.tables[0];
  EXPECT_EQ(labs.columns.size(), 3u);  // itemid, valuenum, flag (row_id dropped; link and time apart)
  EXPECT_EQ(labs.item, 0);
  EXPECT_EQ(pool.str(labs.columns[0].ids[0]), "Creatinine");  // dictionary label, not the code "1"
  EXPECT_TRUE(labs.columns[2].is_null(0) || pool.str(labs.columns[2].ids[0]) == "abnormal");
  Fixture f = make_fixture(120, 1, 1000);
  EXPECT_EQ(train.total_rows(), f.rows.size());
  EXPECT_EQ(labs.minute[0], f.rows[0].minute);
  // Stay events are sorted by minute.
  for (size_t s = 0; s < train.stays.size(); ++s) {
    auto ev = train.stay_events(s);
    for (size_t i = 1; i < ev.size(); ++i) ASSERT_LE(ev[i - 1].minute, ev[i].minute);
  }
}

TEST_F(EvaluateSections, BrokenReferencesAreCountedNotLoaded) {
  Fixture g = make_fixture(10, 5);
  size_t orphan = std::count_if(g.rows.begin(), g.rows.end(), [](const auto& r) { return r.stay == 9; });
  g.stay_ids[9] = "does-not-exist";
  write_fixture(g, dir / "broken2");
  Fixture cohort_only = g;  // the cohort without that stay
  cohort_only.stay_ids.pop_back();
  cohort_only.intimes.pop_back();
  cohort_only.rows.clear();
  write_fixture(cohort_only, dir / "cohort-only");
  fs::copy_file(dir / "cohort-only" / kCohortFile, dir / "broken2" / kCohortFile, fs::copy_options::overwrite_existing);
  Database db = load_database(dir / "broken2", pool, {.show_progress = false});
  EXPECT_EQ(db.stays.size(), 9u);
  EXPECT_EQ(db.tables[0].broken_references + db.tables[1].broken_references, static_cast<int64_t>(orphan));
  auto validity = evaluate_validity(train, db, config);
  EXPECT_EQ(validity["broken_references"].get<int64_t>(), static_cast<int64_t>(orphan));
}

TEST_F(EvaluateSections, CopyOfTrainIsPerfectAndLeaks) {
  Database copy = write_and_load(make_fixture(120, 1, 1000), "copy");
  auto fid = evaluate_fidelity(train, copy, pool, config);
  EXPECT_DOUBLE_EQ(fid["cde"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(fid["icde"].get<double>(), 0.0);
  auto assoc = evaluate_associations(train, copy, config);
  EXPECT_DOUBLE_EQ(assoc["pcc"].get<double>(), 0.0);
  auto temporal = evaluate_temporal(train, copy, config);
  EXPECT_DOUBLE_EQ(temporal["gap_ks"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(temporal["count_ks"].get<double>(), 0.0);
  auto inter = evaluate_intertable(train, copy, pool, config);
  EXPECT_DOUBLE_EQ(inter["intertable"].get<double>(), 0.0);

  auto privacy = evaluate_privacy(train, test, copy, config);
  EXPECT_GT(privacy["dcr_share"].get<double>(), 0.95);
  EXPECT_NEAR(privacy["dcr_share_expected"].get<double>(), 120.0 / 160.0, 1e-12);
  EXPECT_DOUBLE_EQ(privacy["dcr_ratio"].get<double>(), 0.0) << "every stay is at distance 0 from train";
  EXPECT_GT(privacy["mia_auc"].get<double>(), 0.95);
  EXPECT_GT(privacy["mia_accuracy"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(privacy["exact_stay_copies"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(privacy["exact_event_copies"].get<double>(), 1.0);
}

TEST_F(EvaluateSections, FreshSampleIsNearTheExpectedPrivacyFigures) {
  auto privacy = evaluate_privacy(train, valid, test, config);
  EXPECT_NEAR(privacy["dcr_share"].get<double>(), 0.75, 0.2);
  EXPECT_GT(privacy["dcr_ratio"].get<double>(), 0.3) << "a fresh sample is not next to a train stay";
  EXPECT_LT(privacy["dcr_ratio"].get<double>(), 0.5) << "train holds more stays than the non-members";
  EXPECT_GT(privacy["mia_auc"].get<double>(), 0.3);
  EXPECT_LT(privacy["mia_auc"].get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(privacy["exact_stay_copies"].get<double>(), 0.0);
  auto fid = evaluate_fidelity(train, test, pool, config);
  EXPECT_LT(fid["cde"].get<double>(), 0.25);
  EXPECT_GT(fid["cde"].get<double>(), 0.0);
}

TEST_F(EvaluateSections, ShuffledTimesScoreBadlyOnTemporal) {
  Fixture f = make_fixture(120, 1, 1000);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> minute(0, 719);
  for (auto& r : f.rows) r.minute = minute(rng);
  Database shuffled = write_and_load(f, "shuffled");
  auto bad = evaluate_temporal(train, shuffled, config);
  auto floor = evaluate_temporal(train, test, config);
  EXPECT_GT(bad["gap_ks"].get<double>(), 0.3);
  EXPECT_GT(bad["time_ks"].get<double>(), 0.15);
  EXPECT_LT(floor["gap_ks"].get<double>(), 0.15);
  EXPECT_GT(bad["gap_ks"].get<double>(), 3 * floor["gap_ks"].get<double>());
  // Values are untouched: column fidelity stays perfect.
  EXPECT_DOUBLE_EQ(evaluate_fidelity(train, shuffled, pool, config)["cde"].get<double>(), 0.0);
}

TEST_F(EvaluateSections, AbsentItemScoresOneInICde) {
  Fixture f = make_fixture(120, 1, 1000);
  std::erase_if(f.rows, [](const auto& r) { return r.table == 0 && r.values[0] == "3"; });  // no Glucose
  Database missing = write_and_load(f, "missing");
  auto fid = evaluate_fidelity(train, missing, pool, config);
  EXPECT_EQ(fid["icde_tables"]["labs"]["items_absent"].get<int64_t>(), 1);
  EXPECT_NEAR(fid["icde_tables"]["labs"]["icde"].get<double>(), 1.0 / 3, 1e-9);  // two perfect items, one at 1
  bool found = false;
  for (const auto& item : fid["items"])
    if (item["item"] == "Glucose") {
      found = true;
      EXPECT_DOUBLE_EQ(item["score"].get<double>(), 1.0);
    }
  EXPECT_TRUE(found);
}

TEST_F(EvaluateSections, ValidityCountsRangeCategoryAndWindow) {
  Fixture f = make_fixture(120, 1, 1000);
  f.rows[0].values[1] = "99";        // creatinine far above its train range
  f.rows[1].values[2] = "weird";     // unseen flag
  f.rows[2].minute = 2000;           // outside the 12 h window
  Database bad = write_and_load(f, "bad");
  auto v = evaluate_validity(train, bad, config);
  const auto& labs = v["tables"]["labs"];
  double n = labs["rows"].get<double>();
  EXPECT_NEAR(labs["out_of_range_share"].get<double>() * n, 1, 1e-9);
  EXPECT_NEAR(labs["unseen_category_share"].get<double>() * n, 1, 1e-9);
  EXPECT_NEAR(labs["outside_window_share"].get<double>() * n, 1, 1e-9);
  EXPECT_NEAR(labs["invalid_share"].get<double>() * n, 3, 1e-9);
  EXPECT_DOUBLE_EQ(evaluate_validity(train, train, config)["invalid_share"].get<double>(), 0.0);
}

TEST_F(EvaluateSections, IndependentBaselineKeepsMarginalsButLosesStructure) {
  write_independent_baseline(real / "train", 80, 11, dir / "baseline");
  write_independent_baseline(real / "train", 80, 11, dir / "baseline2");
  for (const char* file : {"cohort.csv.gz", "labs.csv.gz", "meds.csv.gz"})
    EXPECT_EQ(file_crc32(dir / "baseline" / file), file_crc32(dir / "baseline2" / file)) << "same seed, same output";
  Database base = load_database(dir / "baseline", pool, {.show_progress = false});
  check_same_schema(train.schema, base.schema, "baseline");
  EXPECT_EQ(base.stays.size(), 80u);
  EXPECT_EQ(base.tables[0].broken_references, 0);
  auto fid = evaluate_fidelity(train, base, pool, config);
  EXPECT_LT(fid["cde"].get<double>(), 0.2);  // rows are real rows: marginals hold
  auto inter_base = evaluate_intertable(train, base, pool, config);
  auto inter_floor = evaluate_intertable(train, test, pool, config);
  EXPECT_GT(inter_base["intertable"].get<double>(), inter_floor["intertable"].get<double>());
  auto temporal = evaluate_temporal(train, base, config);
  EXPECT_GT(temporal["gap_ks"].get<double>(), 0.3);  // random times
  EXPECT_EQ(evaluate_validity(train, base, config)["invalid_share"].get<double>(), 0.0);
}

TEST_F(EvaluateSections, RunEvaluationWritesReport) {
  write_independent_baseline(real / "train", 60, 3, dir / "syn");
  EvaluateRequest request;
  request.real = real;
  request.synthetic = dir / "syn";
  request.out = dir / "report";
  nlohmann::json metrics = run_evaluation(request);
  ASSERT_TRUE(fs::exists(dir / "report" / "metrics.json"));
  ASSERT_TRUE(fs::exists(dir / "report" / "report.html"));
  auto saved = read_json(dir / "report" / "metrics.json");
  EXPECT_EQ(saved["format"], "rawmed-report/2");
  EXPECT_EQ(saved["inputs"]["real_train"]["crc32"]["labs.csv.gz"], file_crc32(real / "train" / "labs.csv.gz"));
  bool has_cde = false;
  for (const auto& row : saved["summary"])
    if (row["metric"] == "cde") {
      has_cde = row["synthetic"].is_number() && row["noise_floor"].is_number();
      EXPECT_EQ(row["synthetic_interval"]["resamples"], 20);
      EXPECT_LE(row["noise_floor_interval"]["lo"].get<double>(), row["noise_floor_interval"]["hi"].get<double>());
      EXPECT_TRUE(row["verdict"].is_string());
    }
  EXPECT_TRUE(has_cde);
  EXPECT_EQ(saved["holdout"]["splits"], "valid + test splits pooled");
  EXPECT_EQ(saved["resampling"]["n"], 80);
  EXPECT_TRUE(saved["sections"]["privacy"]["synthetic"]["attribute_advantage"].is_number());
  std::string html = read_file(dir / "report" / "report.html");
  EXPECT_NE(html.find("<h2>Summary</h2>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, no scripts
  EXPECT_EQ(html.find("http://www.w3.org/1999/xlink\" xlink:href=\"http"), std::string::npos);
}

TEST_F(EvaluateSections, BaselineRowsAreRowCopiesButNotEventCopies) {
  write_independent_baseline(real / "train", 80, 11, dir / "baseline");
  Database base = load_database(dir / "baseline", pool, {.show_progress = false});
  auto privacy = evaluate_privacy(train, test, base, config);
  EXPECT_DOUBLE_EQ(privacy["exact_row_copies"].get<double>(), 1.0);  // every row is a train row at a new time
  EXPECT_LT(privacy["exact_event_copies"].get<double>(), 0.2);
}

// Robustness: an empty candidate (headers only), a one-stay candidate and a candidate missing a
// table file give a report or a clear error, never a hang (NaN distances once looped in auroc).
TEST_F(EvaluateSections, EmptyAndOneStayCandidatesGiveAReport) {
  EvaluateRequest request;
  request.real = real;
  request.eval.resamples = 5;
  write_fixture(make_fixture(0, 9, 9000), dir / "empty");
  request.synthetic = dir / "empty";
  request.out = dir / "report-empty";
  nlohmann::json empty = run_evaluation(request);
  EXPECT_DOUBLE_EQ(empty["sections"]["fidelity"]["synthetic"]["cde"].get<double>(), 1.0);  // nothing matches
  EXPECT_TRUE(empty["sections"]["privacy"]["synthetic"]["mia_auc"].is_null());
  for (const auto& row : empty["summary"]) {
    if (row.contains("synthetic_interval")) EXPECT_EQ(row["verdict"], "not computed") << row["metric"];
  }

  write_fixture(make_fixture(1, 9, 9000), dir / "one");
  request.synthetic = dir / "one";
  request.out = dir / "report-one";
  nlohmann::json one = run_evaluation(request);
  EXPECT_EQ(one["inputs"]["synthetic"]["stays"], 1);
  bool flagged = false;
  for (const auto& row : one["summary"])
    if (row["metric"] == "count_ks") flagged = row["verdict"] == "worse than the noise floor";
  EXPECT_TRUE(flagged);  // one stay repeated 80 times: its event count is the only one
}

TEST_F(EvaluateSections, CandidateMissingATableIsAClearError) {
  write_fixture(make_fixture(10, 9, 9000), dir / "partial");
  fs::remove(dir / "partial" / "meds.csv.gz");
  EvaluateRequest request;
  request.real = real;
  request.synthetic = dir / "partial";
  request.out = dir / "report-partial";
  try {
    run_evaluation(request);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("meds.csv.gz"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "report-partial"));
}

TEST_F(EvaluateSections, MissingSchemaColumnIsAnError) {
  Fixture f = make_fixture(5, 1);
  write_fixture(f, dir / "odd");
  DbSchema other = f.schema;
  other.tables[1].types.erase("amount");
  EXPECT_THROW(check_same_schema(f.schema, other, "odd"), Error);
  EXPECT_THROW(load_database(dir / "nowhere", pool), Error);
}

}  // namespace rawmed::eval
