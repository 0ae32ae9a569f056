// The cohort model of generate on the bundled MIMIC-IV demo's train cohort: ages stay in the
// requested group and are held by at least k train patients, lengths of stay cover the last event
// and vary, admission weekdays and hours vary.
#include "common/log.h"
#include "generate/cohort_model.h"
#include "common/config.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/prepare.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

namespace rawmed::generate {
namespace {

namespace fs = std::filesystem;

TEST(CohortModel, DrawsFollowTheConditionAndTheKRuleAndAreNotConstant) {
  fs::path config_path = fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml";
  if (!fs::exists(config_path)) GTEST_SKIP() << "no bundled config";
  fs::path work = fs::temp_directory_path() / ("rawmed_cohort_model_" + std::to_string(::getpid()));
  fs::remove_all(work);
  set_quiet(true);
  Config config = load_config(config_path);
  prepare(config, work);
  const fs::path cohort = work / "real/train" / kCohortFile;
  const int k = config.dataset.min_patients_for_token;
  const int64_t anchor = *parse_datetime("2100-01-01 00:00:00");
  CohortModel model(cohort, TimeKind::kDatetime, anchor, k);
  ASSERT_GT(model.train_stays(), 50u);

  std::map<std::string, std::set<std::string>> age_patients;
  CsvReader csv(cohort.string());
  while (csv.next()) age_patients[std::string(csv.field(csv.column_index("age")))].insert(std::string(csv.field(1)));

  std::mt19937_64 rng(1);
  std::set<int64_t> lengths, offsets;
  for (int i = 0; i < 200; ++i) {
    CohortDraw d = model.draw("F", "65-79", 700, rng);
    EXPECT_EQ(d.gender, "F");
    ASSERT_FALSE(d.age.empty());
    int age = std::stoi(d.age);
    EXPECT_GE(age, 65);
    EXPECT_LT(age, 80);
    EXPECT_GE(static_cast<int>(age_patients[d.age].size()), k) << d.age;
    EXPECT_GE(d.length_minutes, 700);
    EXPECT_EQ(d.length_minutes % 60, 0);
    EXPECT_GE(d.intime_offset_minutes, 0);
    EXPECT_LT(d.intime_offset_minutes, 7 * 1440);
    lengths.insert(d.length_minutes);
    offsets.insert(d.intime_offset_minutes);
  }
  EXPECT_GE(lengths.size(), 5u);  // the F, 65-79 cell of the demo holds about 10 train stays
  EXPECT_GT(offsets.size(), 20u);
  std::set<std::string> genders;
  for (int i = 0; i < 100; ++i) genders.insert(model.draw("", "", 0, rng).gender);
  EXPECT_EQ(genders, (std::set<std::string>{"F", "M"}));
  fs::remove_all(work);
}

}  // namespace
}  // namespace rawmed::generate
