#include "common/error.h"
#include "common/log.h"
#include "evaluate/metrics.h"
#include "evaluate/utility.h"
#include "evaluate/xgb.h"
#include "test_util.h"
#include "utility_test_db.h"

#include <gtest/gtest.h>

#include <random>

using namespace rawmed;
using namespace rawmed::eval;
using rawmed::eval::testing::add_filler;
using rawmed::eval::testing::make_test_db;
using rawmed::eval::testing::RowSpec;

namespace {

const UtilityTask& task_named(const std::vector<UtilityTask>& tasks, const std::string& name) {
  for (const auto& t : tasks)
    if (t.name == name) return t;
  throw std::runtime_error("no task " + name);
}

const nlohmann::json& result_named(const nlohmann::json& section, const std::string& key, const std::string& name) {
  for (const auto& r : section.at(key))
    if (r.value("name", r.value("column", "")) == name) return r;
  throw std::runtime_error("no result " + name);
}

// The [[evaluate.utility.task]] list of a bundled config (configs/NAME.toml).
std::vector<UtilityTask> bundled_tasks(const std::string& name) {
  std::filesystem::path file = rawmed::test::source_dir() / "configs" / (name + ".toml");
  toml::table root = toml::parse_file(file.string());
  return parse_utility_config(*root["evaluate"].as_table(), file).tasks;
}

std::vector<std::string> task_names(const nlohmann::json& section) {
  std::vector<std::string> names;
  for (const auto& t : section.at("tasks")) names.push_back(t.at("name"));
  return names;
}

class Utility : public ::testing::Test {
 protected:
  void SetUp() override { set_quiet(true); }
};

}  // namespace

TEST_F(Utility, BinsAreRightClosedWithTheirLabels) {
  StringPool pool;
  Database db = make_test_db({}, 0, pool);
  auto tasks = bundled_tasks("mimic-iv-demo");
  const auto& creatinine = task_named(tasks, "creatinine");
  EXPECT_EQ(creatinine.num_classes(), 5);
  EXPECT_EQ(creatinine.bin_of(1.2), 0);
  EXPECT_EQ(creatinine.bin_of(1.21), 1);
  EXPECT_EQ(creatinine.bin_of(2.0), 1);
  EXPECT_EQ(creatinine.bin_of(5.0), 3);
  EXPECT_EQ(creatinine.bin_of(5.01), 4);
  const auto& platelets = task_named(tasks, "platelets");
  EXPECT_EQ(platelets.bin_of(10), 4);   // lowest counts get the highest label
  EXPECT_EQ(platelets.bin_of(150), 1);
  EXPECT_EQ(platelets.bin_of(151), 0);
  const auto& sodium = task_named(tasks, "sodium");
  EXPECT_EQ(sodium.bin_of(135), 0);
  EXPECT_EQ(sodium.bin_of(145), 1);
  EXPECT_EQ(sodium.bin_of(146), 2);
}

TEST_F(Utility, LabLabelIsTheLastSecondHalfValue) {
  std::vector<RowSpec> rows;
  for (int s : {0, 1, 2, 3, 5}) add_filler(rows, s);
  add_filler(rows, 4, 5);  // one first-half event short: no labels
  // stay 0: the first-half value is ignored; the last second-half value (2.0) is in (1.2, 2].
  rows.push_back({0, 100, "labevents", "Creatinine", 9.0});
  rows.push_back({0, 400, "labevents", "Creatinine", 1.0});
  rows.push_back({0, 700, "labevents", "Creatinine", 2.0});
  // stay 1: exactly on an edge.
  rows.push_back({1, 500, "labevents", "Creatinine", 1.2});
  // stay 2: a later null value does not replace the last non-null one; minute 720 = end of window counts.
  rows.push_back({2, 600, "labevents", "Creatinine", 1.0});
  rows.push_back({2, 720, "labevents", "Creatinine", 5.0});
  rows.push_back({2, 721, "labevents", "Creatinine", 9.0});  // past the window
  rows.push_back({2, 710, "labevents", "Creatinine", NAN});
  // stay 3: only in the first half (minute 360 = the half still counts as input).
  rows.push_back({3, 360, "labevents", "Creatinine", 3.0});
  rows.push_back({4, 400, "labevents", "Creatinine", 3.0});
  // stay 5: item names match exactly, case-insensitively; "Creatinine, Urine" is another item.
  rows.push_back({5, 400, "labevents", "CREATININE", 1.3});
  rows.push_back({5, 500, "labevents", "Creatinine, Urine", 10.0});
  StringPool pool;
  Database db = make_test_db(rows, 6, pool);
  auto tasks = bundled_tasks("mimic-iv-demo");
  auto labels = extract_task_labels(db, pool, task_named(tasks, "creatinine"), 6);
  EXPECT_EQ(labels, (std::vector<int>{1, 0, 3, -1, -1, 1}));
}

TEST_F(Utility, GivenLabelNeedsARowInTheTableAndASecondHalfMatch) {
  std::vector<RowSpec> rows;
  for (int s = 0; s < 4; ++s) add_filler(rows, s);
  rows.push_back({0, 400, "prescriptions", "Heparin Sodium"});
  rows.push_back({1, 360, "prescriptions", "Heparin"});  // first half: not a label
  rows.push_back({1, 500, "prescriptions", "Aspirin"});
  // stay 2 has no prescriptions at all: no label. stay 3: "KCL" matches potassium_chloride's regex.
  rows.push_back({3, 700, "prescriptions", "KCL 20 mEq"});
  StringPool pool;
  Database db = make_test_db(rows, 4, pool);
  auto tasks = bundled_tasks("mimic-iv-demo");
  ASSERT_EQ(tasks.size(), 11u);
  EXPECT_EQ(extract_task_labels(db, pool, task_named(tasks, "heparin"), 6), (std::vector<int>{1, 0, -1, 0}));
  EXPECT_EQ(extract_task_labels(db, pool, task_named(tasks, "potassium_chloride"), 6), (std::vector<int>{0, 0, -1, 1}));
}

TEST_F(Utility, XgboostSeparatesASeparableProblem) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  auto make = [&](int n, xgb::Matrix& x, std::vector<float>& binary, std::vector<int>& three) {
    x = xgb::Matrix(n, 3);
    for (int i = 0; i < n; ++i) {
      x.at(i, 0) = u(rng);
      x.at(i, 1) = u(rng);
      if (i % 7 == 0) x.at(i, 1) = NAN;  // missing values are allowed
      binary.push_back(x.at(i, 0) > 0 ? 1.f : 0.f);
      three.push_back(x.at(i, 0) < -0.3f ? 0 : x.at(i, 0) < 0.3f ? 1 : 2);
    }
  };
  xgb::Matrix train_x, test_x;
  std::vector<float> train_y, test_y;
  std::vector<int> train_3, test_3;
  make(300, train_x, train_y, train_3);
  make(200, test_x, test_y, test_3);
  xgb::Params params;
  params.trees = 30;
  params.threads = 1;  // see notes: OpenMP spin-waiting on a loaded machine
  xgb::Booster booster(train_x, train_y, params);
  std::vector<float> p = booster.predict(test_x);
  std::vector<double> scores(p.begin(), p.end());
  std::vector<uint8_t> labels(test_y.begin(), test_y.end());
  EXPECT_GT(auroc(scores, labels), 0.9);

  params.objective = xgb::Objective::kMulticlass;
  params.num_class = 3;
  std::vector<float> y3(train_3.begin(), train_3.end());
  xgb::Booster multi(train_x, y3, params);
  std::vector<float> p3 = multi.predict(test_x);
  ASSERT_EQ(p3.size(), 600u);
  EXPECT_GT(macro_auroc(p3, test_3, 3), 0.9);
}

TEST_F(Utility, XgboostErrorsBecomeRawmedErrors) {
  xgb::Matrix x(4, 2);
  EXPECT_THROW(xgb::Booster(x, {0, 1}, {}), Error);          // label count
  xgb::Params bad;
  bad.objective = xgb::Objective::kMulticlass;
  bad.num_class = 2;
  EXPECT_THROW(xgb::Booster(x, {0, 1, 2, 5}, bad), Error);  // label >= num_class: XGBoost's own error
}

TEST_F(Utility, SmapeAndMacroAurocFormulas) {
  // Terms: 0, |2-4|/(2+4) = 1/3, 0/0 counted 0, |-1-1|/2 = 1 -> 200 * (4/3) / 4.
  std::vector<double> y{1, 2, 0, -1}, p{1, 4, 0, 1};
  EXPECT_NEAR(smape(y, p), 200.0 * (4.0 / 3.0) / 4.0, 1e-12);
  EXPECT_TRUE(std::isnan(smape(std::vector<double>{}, std::vector<double>{})));
  // Class 0 perfectly ranked (AUROC 1), class 1 inverted (0), class 2 absent (skipped): mean 0.5.
  std::vector<float> scores{0.9f, 0.9f, 0.0f, 0.1f, 0.1f, 0.0f, 0.2f, 0.2f, 0.5f};
  std::vector<int> labels{0, 1, 1};
  EXPECT_NEAR(macro_auroc(scores, labels, 3), (1.0 + 0.0) / 2, 1e-12);
}

namespace {

// Stays alternate between heparin and aspirin; the second half repeats the first half's drug
// (or swaps it when `swap`). The first `propofol_stays` stays also get propofol in the second half.
Database drug_db(int stays, bool swap, int propofol_stays, StringPool& pool) {
  std::vector<RowSpec> rows;
  for (int s = 0; s < stays; ++s) {
    add_filler(rows, s);
    bool heparin = s % 2 == 0;
    rows.push_back({s, 100, "prescriptions", heparin ? "Heparin" : "Aspirin", 1});
    rows.push_back({s, 500, "prescriptions", heparin != swap ? "Heparin" : "Aspirin", 1});
    rows.push_back({s, 50, "inputevents", "Saline", 100});
    if (s < propofol_stays) rows.push_back({s, 600, "inputevents", "Propofol", 5});
  }
  return make_test_db(rows, stays, pool);
}

}  // namespace

TEST_F(Utility, UtilityTstrMatchesTrtrOnFaithfulDataAndFailsOnSwappedData) {
  StringPool pool;
  Database train = drug_db(120, false, 30, pool);
  Database test = drug_db(40, false, 2, pool);
  Database swapped = drug_db(120, true, 30, pool);
  UtilityConfig config;
  config.tasks = bundled_tasks("mimic-iv-demo");
  config.seeds = 2;
  config.xgb.trees = 20;
  config.xgb.threads = 1;
  config.cv_below_stays = 0;  // the holdout mode (cross-validation has its own test below)
  nlohmann::json faithful = evaluate_utility(train, test, train, pool, config);
  const auto& heparin = result_named(faithful, "tasks", "heparin");
  EXPECT_TRUE(heparin.at("averaged").get<bool>());
  EXPECT_GT(heparin.at("trtr").at("auroc_mean").get<double>(), 0.95);
  EXPECT_GT(heparin.at("tstr").at("auroc_mean").get<double>(), 0.95);
  EXPECT_EQ(heparin.at("tstr").at("auroc_per_seed").size(), 2u);
  EXPECT_EQ(heparin.at("labels").at("real_test"), nlohmann::json({20, 20}));
  // Lab tables have no matching rows, and norepinephrine is never given: not available.
  EXPECT_FALSE(result_named(faithful, "tasks", "creatinine").at("available").get<bool>());
  EXPECT_FALSE(result_named(faithful, "tasks", "norepinephrine").at("available").get<bool>());
  // Propofol: 2 positive test stays < 5: reported, not averaged.
  const auto& propofol = result_named(faithful, "tasks", "propofol");
  EXPECT_TRUE(propofol.at("available").get<bool>());
  EXPECT_FALSE(propofol.at("averaged").get<bool>());
  EXPECT_EQ(faithful.at("headline").at("tasks_averaged").get<int>(), 1);
  EXPECT_EQ(faithful.at("headline").at("tasks_too_few_test_labels"), nlohmann::json({"propofol"}));

  nlohmann::json bad = evaluate_utility(train, test, swapped, pool, config);
  EXPECT_LT(result_named(bad, "tasks", "heparin").at("tstr").at("auroc_mean").get<double>(), 0.1);
  EXPECT_GT(bad.at("headline").at("trtr_auroc_mean").get<double>(), 0.95);
  EXPECT_LT(bad.at("headline").at("tstr_auroc_mean").get<double>(), 0.1);
}

TEST_F(Utility, UtilityWithoutPositiveTrainingLabelsScoresChance) {
  StringPool pool;
  Database train = drug_db(60, false, 0, pool);
  Database test = drug_db(40, false, 10, pool);
  UtilityConfig config;
  config.tasks = bundled_tasks("mimic-iv-demo");
  config.seeds = 1;
  config.xgb.trees = 10;
  config.xgb.threads = 1;
  config.cv_below_stays = 0;
  nlohmann::json out = evaluate_utility(train, test, train, pool, config);
  const auto& propofol = result_named(out, "tasks", "propofol");
  EXPECT_TRUE(propofol.at("averaged").get<bool>());
  EXPECT_DOUBLE_EQ(propofol.at("trtr").at("auroc_mean").get<double>(), 0.5);
  EXPECT_TRUE(propofol.at("trtr").contains("note"));
}

// Small holdout: patient-grouped 5-fold cross-validation over train + holdout. A faithful candidate
// matches TRTR (ratio near 1, heparin AUROC near 1 on every fold); a swapped one inverts it.
TEST_F(Utility, SmallHoldoutUsesCrossValidationWithFoldIntervals) {
  StringPool pool;
  Database train = drug_db(120, false, 30, pool);
  Database holdout = drug_db(40, false, 10, pool);
  Database swapped = drug_db(120, true, 30, pool);
  UtilityConfig config;
  config.tasks = bundled_tasks("mimic-iv-demo");
  config.xgb.trees = 20;
  nlohmann::json faithful = evaluate_utility(train, holdout, train, pool, config);
  const auto& headline = faithful.at("headline");
  EXPECT_EQ(headline.at("mode"), "cross-validation");
  EXPECT_EQ(headline.at("per_fold").at("trtr").size(), 5u);
  EXPECT_EQ(faithful.at("stays").at("real").get<int>(), 160);
  const auto& heparin = result_named(faithful, "tasks", "heparin");
  EXPECT_EQ(heparin.at("labels").at("real"), nlohmann::json({80, 80}));
  EXPECT_GT(heparin.at("trtr").at("auroc_interval").at("lo").get<double>(), 0.95);
  EXPECT_GT(heparin.at("tstr").at("auroc_interval").at("lo").get<double>(), 0.95);
  EXPECT_NEAR(headline.at("ratio_interval").at("mean").get<double>(), 1.0, 0.05);
  EXPECT_EQ(headline.at("tasks_not_available").size(), 9u);  // 6 lab tasks, norepinephrine, magnesium, KCl

  nlohmann::json bad = evaluate_utility(train, holdout, swapped, pool, config);
  const auto& h = bad.at("headline");
  EXPECT_LT(h.at("tstr_trtr_ratio").get<double>(), 0.8);
  EXPECT_LT(h.at("ratio_interval").at("hi").get<double>(), 0.8);  // every fold: TSTR well below TRTR
}

namespace {

// Lab rows where the value depends on the item: A ~ 10, B ~ 100 (swapped when `swap`).
Database lab_db(int rows_per_item, bool swap, uint32_t seed, StringPool& pool) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(-1, 1);
  std::vector<RowSpec> rows;
  for (int i = 0; i < rows_per_item; ++i) {
    rows.push_back({i % 10, i, "labevents", "A", (swap ? 100 : 10) + noise(rng)});
    rows.push_back({i % 10, i, "labevents", "B", (swap ? 10 : 100) + noise(rng)});
  }
  return make_test_db(rows, 10, pool);
}

}  // namespace

TEST_F(Utility, PredictiveSimilaritySeesWhetherColumnsRelateAsInRealData) {
  StringPool pool;
  Database train = lab_db(150, false, 1, pool);
  Database test = lab_db(50, false, 2, pool);
  Database swapped = lab_db(150, true, 3, pool);
  // Five test rows that copy train rows exactly are removed before scoring.
  for (int i = 0; i < 5; ++i) {
    Table& t = test.tables[0];
    t.stay.push_back(0);
    t.minute.push_back(0);
    t.columns[0].ids.push_back(train.tables[0].columns[0].ids[static_cast<size_t>(i)]);
    t.columns[1].values.push_back(train.tables[0].columns[1].values[static_cast<size_t>(i)]);
  }
  PredsimConfig config;
  config.xgb.trees = 20;
  config.xgb.threads = 1;
  nlohmann::json same = evaluate_predictive_similarity(train, test, train, pool, config);
  EXPECT_EQ(same.at("tables").at(0).at("test_rows_removed_as_copies").get<int>(), 5);
  EXPECT_EQ(same.at("tables").at(0).at("real_test_rows").get<int>(), 100);
  const auto& value = result_named(same, "columns", "valuenum");
  EXPECT_LT(value.at("trtr").at("smape").get<double>(), 10.0);
  EXPECT_LT(value.at("tstr").at("smape").get<double>(), 10.0);
  const auto& item = result_named(same, "columns", "itemid");
  EXPECT_LT(item.at("trtr").at("error_rate").get<double>(), 0.05);

  nlohmann::json bad = evaluate_predictive_similarity(train, test, swapped, pool, config);
  EXPECT_GT(result_named(bad, "columns", "valuenum").at("tstr").at("smape").get<double>(), 100.0);
  EXPECT_GT(result_named(bad, "columns", "itemid").at("tstr").at("error_rate").get<double>(), 0.95);
  EXPECT_GT(bad.at("headline").at("tstr_smape_mean").get<double>(), bad.at("headline").at("trtr_smape_mean").get<double>());
}

TEST_F(Utility, UtilityConfigParsesTasksAndRejectsUnknownKeys) {
  toml::table root = toml::parse(R"(
[evaluate.utility]
seeds = 2
trees = 7
[[evaluate.utility.task]]
name = "lactate"
kind = "last_value_bin"
tables = ["labevents"]
items = ["Lactate"]
value_column = "valuenum"
bins = [2, 4]
labels = [2, 1, 0]
[evaluate.predsim]
max_rows = 500
)");
  const toml::table& evaluate = *root["evaluate"].as_table();
  UtilityConfig config = parse_utility_config(evaluate, "x.toml");
  EXPECT_EQ(config.seeds, 2);
  EXPECT_EQ(config.xgb.trees, 7);
  ASSERT_EQ(config.tasks.size(), 1u);
  EXPECT_EQ(config.tasks[0].num_classes(), 3);
  EXPECT_EQ(config.tasks[0].bin_of(5), 0);
  EXPECT_EQ(parse_predsim_config(evaluate, "x.toml").max_rows, 500);

  toml::table typo = toml::parse("[evaluate.utility]\nseed = 1\ntress = 5\n");
  try {
    parse_utility_config(*typo["evaluate"].as_table(), "x.toml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("evaluate.utility.tress"), std::string::npos) << e.what();
  }
  toml::table bad_labels = toml::parse(
      "[[evaluate.utility.task]]\nname='x'\nkind='last_value_bin'\ntables=['t']\nitems=['i']\nvalue_column='v'\n"
      "bins=[1]\nlabels=[0, 0]\n");
  EXPECT_THROW(parse_utility_config(*bad_labels["evaluate"].as_table(), "x.toml"), Error);
}

// The bundled configs carry the paper's 11 tasks: the eICU ones read eICU tables and columns, the
// PostgreSQL configs list the same tasks as their demo configs, and MIMIC-III reuses MIMIC-IV's.
TEST_F(Utility, BundledConfigsListThePapersTasksForTheirDataset) {
  auto eicu = bundled_tasks("eicu-demo");
  ASSERT_EQ(eicu.size(), 11u);
  EXPECT_EQ(task_named(eicu, "norepinephrine").tables, std::vector<std::string>{"infusionDrug"});
  EXPECT_EQ(task_named(eicu, "creatinine").tables, std::vector<std::string>{"lab"});
  EXPECT_EQ(task_named(eicu, "creatinine").value_column, "labresult");
  auto mimic = bundled_tasks("mimic-iv-demo");
  EXPECT_EQ(task_named(mimic, "creatinine").value_column, "valuenum");
  EXPECT_EQ(task_named(mimic, "platelets").bin_labels, (std::vector<int>{4, 3, 2, 1, 0}));
  EXPECT_EQ(bundled_tasks("eicu-postgres"), eicu);
  EXPECT_EQ(bundled_tasks("mimic-iv-postgres"), mimic);
  EXPECT_EQ(bundled_tasks("mimic-iii-demo"), mimic);
}

// What is scored is the config's task list, in its order: a list with one custom task scores just
// that task; no list scores none.
TEST_F(Utility, ConfigTaskListDrivesWhatIsEvaluated) {
  StringPool pool;
  Database train = drug_db(120, false, 30, pool);
  Database test = drug_db(40, false, 2, pool);
  toml::table root = toml::parse(R"(
[evaluate.utility]
trees = 20
seeds = 1
cv_below_stays = 0
[[evaluate.utility.task]]
name = "aspirin_again"
kind = "given"
tables = ["prescriptions"]
pattern = "^aspirin$"
[[evaluate.utility.task]]
name = "saline"
kind = "given"
tables = ["inputevents"]
items = ["saline"]
)");
  UtilityConfig config = parse_utility_config(*root["evaluate"].as_table(), "custom.toml");
  nlohmann::json out = evaluate_utility(train, test, train, pool, config);
  EXPECT_EQ(task_names(out), (std::vector<std::string>{"aspirin_again", "saline"}));
  // Aspirin in the first half predicts aspirin in the second; every stay gets saline in the first
  // half only, so it has no second-half positive: too few labels.
  EXPECT_GT(result_named(out, "tasks", "aspirin_again").at("trtr").at("auroc_mean").get<double>(), 0.95);
  EXPECT_EQ(out.at("headline").at("tasks_averaged").get<int>(), 1);
  EXPECT_EQ(out.at("config").at("tasks").get<int>(), 2);

  nlohmann::json none = evaluate_utility(train, test, train, pool, UtilityConfig{});
  EXPECT_FALSE(none.contains("headline"));
  EXPECT_TRUE(none.at("tasks").empty());
  EXPECT_NE(none.at("note").get<std::string>().find("[[evaluate.utility.task]]"), std::string::npos);
}

// A bad task entry stops with the file, the line of the entry and the key.
TEST_F(Utility, BadUtilityTaskErrorsNameFileLineAndKey) {
  auto error_for = [](const std::string& text) {
    toml::table root = toml::parse(text);
    return rawmed::test::error_of([&] { parse_utility_config(*root["evaluate"].as_table(), "dataset.toml"); });
  };
  const std::string ok = "[[evaluate.utility.task]]\nname = 'a'\nkind = 'given'\ntables = ['t']\npattern = 'x'\n";
  EXPECT_EQ(error_for(ok), "");
  EXPECT_EQ(error_for(ok + "[[evaluate.utility.task]]\nname = 'b'\nkind = 'givn'\ntables = ['t']\npattern = 'x'\n"),
            "dataset.toml:6: 'evaluate.utility.task[1].kind' must be \"given\" or \"last_value_bin\", not \"givn\"");
  EXPECT_EQ(error_for(ok + "[[evaluate.utility.task]]\nname = 'b'\nkind = 'given'\ntables = ['t']\npattern = 'a(b'\n")
                .rfind("dataset.toml:6: 'evaluate.utility.task[1].pattern': bad regular expression 'a(b'", 0),
            0u);
  EXPECT_EQ(error_for(ok + "[[evaluate.utility.task]]\nname = 'a'\nkind = 'given'\ntables = ['t']\npattern = 'y'\n"),
            "dataset.toml:6: 'evaluate.utility.task[1].name': 'a' is already task[0]");
  EXPECT_NE(error_for(ok + "[[evaluate.utility.task]]\nname = 'b'\nkind = 'given'\ntable = ['t']\npattern = 'y'\n")
                .find("dataset.toml:9: unknown key 'evaluate.utility.task[1].table'"),
            std::string::npos);
  EXPECT_NE(error_for("[evaluate.utility]\npreset = 'auto'\n").find("dataset.toml: 'evaluate.utility.preset' is no longer read"),
            std::string::npos);
}
