// The editor accepts the real training data it was built from: every train stay of the bundled
// MIMIC-IV demo passes (rare values and events with a rare item removed, the privacy rule).
#include "generate/validate.h"
#include "common/config.h"
#include "ingest/prepare.h"
#include "common/log.h"
#include "text/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

namespace rawmed::generate {
namespace {

namespace fs = std::filesystem;

TEST(GenerateRealData, TrainStaysPassValidation) {
  fs::path config_path = fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml";
  if (!fs::exists(config_path)) GTEST_SKIP() << "no bundled config";
  fs::path work = fs::temp_directory_path() / ("rawmed_gen_real_" + std::to_string(::getpid()));
  fs::remove_all(work);
  set_quiet(true);
  Config config = load_config(config_path);
  prepare(config, work);
  Dataset d = Dataset::load(work / "dataset");

  RuleOptions options;
  options.window_minutes = config.dataset.window_hours * 60;
  options.min_patients = config.dataset.min_patients_for_token;
  options.min_events = config.dataset.min_events;
  auto rules = ValidationRules::from_columns_json(d.columns, options);
  std::map<std::string, int> failures;
  int train = 0, passed = 0;
  for (size_t s = 0; s < d.num_stays(); ++s) {
    if (d.stays[s].split != kTrain) continue;
    ++train;
    std::vector<GenEvent> events;
    for (uint64_t e = d.stay_offsets[s]; e < d.stay_offsets[s + 1]; ++e) events.push_back({d.event_minutes[e], d.decode(e)});
    StayVerdict v = rules.check_stay(events);
    if (v.ok) ++passed;
    else ++failures[failure_name(v.reason)];
    if (!v.ok) ADD_FAILURE() << "stay " << s << ": " << v.detail;
  }
  std::string summary;
  for (const auto& [reason, count] : failures) summary += reason + "=" + std::to_string(count) + " ";
  std::printf("real train stays passing the editor: %d of %d (%s)\n", passed, train, summary.c_str());
  EXPECT_GT(train, 0);
  fs::remove_all(work);
}

}  // namespace
}  // namespace rawmed::generate
